/**
 * Clients of a test server, over real sockets: gRPC (HTTP/2) like linkd and SDKs use.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { Channel } from '../../common/channel.js';
import { PROTOCOL_VERSION } from '../../common/protocol.js';
import { LinkService, type ConnectRequestSchema, type ConnectResponse, type HelloSchema, type WatchLinksResponse } from '../../gen/link/v1/link_service_pb.js';
import { LinkState, type Link } from '../../gen/link/v1/types_pb.js';
import { StreamWatch } from './stream-watch.js';

const managers = new Set<Http2SessionManager>();

/** A LinkService client on its own HTTP/2 connection; `closeClients()` closes them all. */
export function linkClient(baseUrl: string, token?: string): Client<typeof LinkService> {
  const sessionManager = new Http2SessionManager(baseUrl);
  managers.add(sessionManager);
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager,
    interceptors: token ? [(next) => (req) => (req.header.set('authorization', `Bearer ${token}`), next(req))] : [],
  });
  return createClient(LinkService, transport);
}

export function closeClients(): void {
  for (const manager of managers) manager.abort();
  managers.clear();
}

/**
 * Follows `WatchLinks` and keeps the latest view of every link, so a test can wait for the state a
 * user would see ("this link is online", "it went offline").
 */
export class LinkWatch extends StreamWatch<WatchLinksResponse> {
  readonly links = new Map<string, Link>();
  readonly events: string[] = [];
  snapshotSeen = false;

  constructor(client: Client<typeof LinkService>) {
    super();
    this.follow((signal) => client.watchLinks({}, { signal }));
  }

  protected take({ event }: WatchLinksResponse): void {
    if (event.case === 'snapshot') {
      this.snapshotSeen = true;
      for (const link of event.value.links) this.links.set(link.id, link);
      this.events.push('snapshot');
    } else if (event.case === 'changed') {
      this.links.set(event.value.id, event.value);
      this.events.push(`${event.value.id}:${LinkState[event.value.state]}`);
    } else if (event.case === 'removedLinkId') {
      this.links.delete(event.value);
      this.events.push(`${event.value}:REMOVED`);
    }
  }

  protected said(): string {
    return `events: ${this.events.join(', ')}`;
  }

  /** Resolves with the link once `predicate` holds for it; rejects at the deadline. */
  async until(linkId: string, predicate: (link: Link) => boolean, what: string, timeoutMs = 15_000): Promise<Link> {
    await this.waitFor(() => {
      const link = this.links.get(linkId);
      return link !== undefined && predicate(link);
    }, `link ${linkId} did not become ${what}`, timeoutMs);
    return this.links.get(linkId)!;
  }

  /** Resolves once the watch has said the link was removed (revoked). */
  removed(linkId: string, timeoutMs = 15_000): Promise<void> {
    return this.waitFor(() => this.events.includes(`${linkId}:REMOVED`), `link ${linkId} was not removed`, timeoutMs);
  }

  /** Resolves once the first snapshot has arrived. */
  snapshot(timeoutMs = 15_000): Promise<void> {
    return this.waitFor(() => this.snapshotSeen, 'no snapshot arrived', timeoutMs);
  }

  online(linkId: string, timeoutMs?: number): Promise<Link> {
    return this.until(linkId, (l) => l.state === LinkState.ONLINE, 'online', timeoutMs);
  }

  offline(linkId: string, timeoutMs?: number): Promise<Link> {
    return this.until(linkId, (l) => l.state === LinkState.OFFLINE, 'offline', timeoutMs);
  }
}

type Frame = MessageInitShape<typeof ConnectRequestSchema>;

/**
 * An agent session driven frame by frame, for protocol tests: what it sends is up to the test, what
 * it receives is recorded, and `ended` resolves with the error that ended it (or undefined).
 */
export class RawSession {
  readonly received: ConnectResponse[] = [];
  readonly out = new Channel<Frame>();
  readonly ended: Promise<ConnectError | undefined>;
  private readonly abort = new AbortController();

  constructor(baseUrl: string, token: string | undefined, first?: Frame) {
    const client = linkClient(baseUrl, token);
    if (first) this.out.push(first);
    this.ended = (async () => {
      try {
        for await (const response of client.connect(this.out, { signal: this.abort.signal })) this.received.push(response);
        return undefined;
      } catch (error) {
        return ConnectError.from(error);
      }
    })();
  }

  send(frame: Frame): void {
    this.out.push(frame);
  }

  private keepAliveTimer: NodeJS.Timeout | undefined;

  /** Heartbeats every `intervalMs` until closed, as a live agent would. */
  keepAlive(intervalMs: number): this {
    let seq = 0n;
    this.keepAliveTimer = setInterval(() => this.send({ frame: { case: 'heartbeat', value: { seq: ++seq } } }), intervalMs);
    return this;
  }

  async close(): Promise<void> {
    clearInterval(this.keepAliveTimer);
    this.out.close();
    this.abort.abort();
    await this.ended;
  }

  /** Waits until a frame of `kind` has arrived. */
  async frame(kind: ConnectResponse['frame']['case'], timeoutMs = 10_000): Promise<ConnectResponse> {
    const deadline = Date.now() + timeoutMs;
    let ended = false;
    void this.ended.then(() => (ended = true));
    for (;;) {
      const found = this.received.find((r) => r.frame.case === kind);
      if (found) return found;
      if (ended) throw new Error(`the session ended before a ${kind} frame arrived: ${(await this.ended)?.message}`);
      if (Date.now() > deadline) throw new Error(`no ${kind} frame within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Waits for the session to end; rejects if it has not within `timeoutMs`. */
  async end(timeoutMs = 10_000): Promise<ConnectError | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.ended,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the session did not end within ${timeoutMs} ms`)), timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A valid Hello, with overrides. */
export function hello(overrides: Omit<MessageInitShape<typeof HelloSchema>, '$typeName'> = {}): Frame {
  return {
    frame: {
      case: 'hello',
      value: {
        protocolVersion: PROTOCOL_VERSION,
        machineId: 'test-machine-id',
        instanceId: `instance-${Math.random().toString(36).slice(2)}`,
        hostname: 'raw-host',
        os: 'linux',
        arch: 'x64',
        agentVersion: 'test',
        ...overrides,
      },
    },
  };
}

export { Code, ConnectError };

/** Pairs a new link through the API (StartPairing as the user, CompletePairing as the machine). */
export async function pairLink(baseUrl: string, userToken: string, machineId = 'paired-machine'): Promise<{ linkId: string; token: string }> {
  const { code } = await linkClient(baseUrl, userToken).startPairing({});
  const paired = await linkClient(baseUrl).completePairing({ code, machineId, hostname: 'paired-host' });
  return { linkId: paired.linkId, token: paired.linkToken };
}
