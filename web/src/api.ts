/**
 * The page's API clients, provided to every element through @lit/context so that a test can
 * provide clients over an in-memory transport (`createRouterTransport`) instead.
 */
import { createContext } from '@lit/context';
import { createClient, type Client, type Transport } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { LinkService } from '../../gen/link/v1/link_service_pb.js';
import { UserService } from '../../gen/link/v1/user_service_pb.js';
import { ThreadService } from '../../gen/link/v1/thread_service_pb.js';
import { SandboxService } from '../../gen/link/v1/sandbox_service_pb.js';

export interface ApiClients {
  links: Client<typeof LinkService>;
  users: Client<typeof UserService>;
  threads: Client<typeof ThreadService>;
  sandboxes: Client<typeof SandboxService>;
}

export const apiContext = createContext<ApiClients>(Symbol('link-api'));

export function clientsFor(transport: Transport): ApiClients {
  return {
    links: createClient(LinkService, transport),
    users: createClient(UserService, transport),
    threads: createClient(ThreadService, transport),
    sandboxes: createClient(SandboxService, transport),
  };
}

/** The Connect protocol against the server that served the page, (same-origin, so the session cookie goes along). */
export function defaultClients(): ApiClients {
  return clientsFor(createConnectTransport({ baseUrl: window.location.origin, useBinaryFormat: true }));
}

/**
 * Trades a credential for the session cookie (POST /auth/login): a user token, or `{ loginSecret }`
 * from the login URL link-server printed. Resolves with an error message, or undefined.
 */
export async function logIn(credential: string | { loginSecret: string }): Promise<string | undefined> {
  const response = await fetch('/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(typeof credential === 'string' ? { token: credential } : credential),
    credentials: 'same-origin',
  });
  if (response.ok) return undefined;
  const body = (await response.json().catch(() => ({}))) as { message?: string };
  return body.message ?? `login failed (${response.status})`;
}

/**
 * The login secret the page was opened with (`?login=…`, from link-server's login URL), taken out
 * of the address bar at once so it stays out of bookmarks, shared links and screenshots.
 */
export function takeLoginSecret(): string | undefined {
  const url = new URL(window.location.href);
  const secret = url.searchParams.get('login');
  if (secret === null) return undefined;
  url.searchParams.delete('login');
  window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
  return secret || undefined;
}

export async function logOut(): Promise<void> {
  await fetch('/auth/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', credentials: 'same-origin' });
}
