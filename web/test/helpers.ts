/** Component-test helpers: API clients over an in-memory transport, and a live-machine directory without a server. */
import { ContextProvider } from '@lit/context';
import { createRouterTransport, type ConnectRouter } from '@connectrpc/connect';
import { create } from '@bufbuild/protobuf';
import { CapabilitiesSchema, CredentialsState, LinkSchema, LinkState, SandboxProviderKind, type Link } from '../../gen/link/v1/types_pb.js';
import { apiContext, clientsFor, type ApiClients } from '../src/api.js';
import { directoryContext, LinkDirectory } from '../src/link-directory.js';
import { threadDirectoryContext, ThreadDirectory } from '../src/thread-directory.js';

export function inMemoryClients(routes: (router: ConnectRouter) => void = () => undefined): ApiClients {
  return clientsFor(createRouterTransport(routes));
}

/** A directory whose machines the test sets. */
export class FakeDirectory extends LinkDirectory {
  constructor(links: Link[]) {
    super(inMemoryClients());
    this.set(links);
  }

  set(links: Link[]): void {
    this.links = new Map(links.map((l) => [l.id, l]));
    this.loaded = true;
    this.dispatchEvent(new Event('change'));
  }
}

export function machine(options: { id?: string; hostname?: string; online?: boolean; missing?: string[]; loggedOut?: string[] } = {}): Link {
  const harnesses = ['claude-code', 'codex', 'gemini', 'shell'].map((name) => ({
    name,
    installed: !(options.missing ?? []).includes(name),
    version: '1.2.3',
    credentials: (options.loggedOut ?? []).includes(name) ? CredentialsState.MISSING : CredentialsState.PRESENT,
  }));
  return create(LinkSchema, {
    id: options.id ?? 'lnk_1',
    name: options.hostname ?? 'studio',
    hostname: options.hostname ?? 'studio',
    state: options.online === false ? LinkState.OFFLINE : LinkState.ONLINE,
    capabilities: create(CapabilitiesSchema, {
      harnesses,
      sandboxProviders: [{ kind: SandboxProviderKind.DIRECTORY, available: true }],
    }),
  });
}

/** A container that provides the clients and the directory to what is rendered inside it. */
export function providerFor(clients: ApiClients, directory: LinkDirectory, threads?: ThreadDirectory): HTMLElement {
  const host = document.createElement('div');
  document.body.append(host);
  new ContextProvider(host, { context: apiContext, initialValue: clients });
  new ContextProvider(host, { context: directoryContext, initialValue: directory });
  new ContextProvider(host, { context: threadDirectoryContext, initialValue: threads ?? new ThreadDirectory(clients) });
  return host;
}
