/**
 * The page's API clients, provided to every element through @lit/context so that a test can
 * provide clients over an in-memory transport (`createRouterTransport`) instead.
 */
import { createContext } from '@lit/context';
import { createClient, type Client, type Transport } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { LinkService } from '../../gen/link/v1/link_service_pb.js';

export interface ApiClients {
  links: Client<typeof LinkService>;
}

export const apiContext = createContext<ApiClients>(Symbol('link-api'));

export function clientsFor(transport: Transport): ApiClients {
  return { links: createClient(LinkService, transport) };
}

/** The Connect protocol against the server that served the page, (same-origin, so the session cookie goes along). */
export function defaultClients(): ApiClients {
  return clientsFor(createConnectTransport({ baseUrl: window.location.origin, useBinaryFormat: true }));
}
