/**
 * What the control-plane benchmarks run against: a real Postgres (embedded, fsync on, as users run
 * it), one or more in-process replicas on 127.0.0.1 sharing it and a registry, and agents that speak
 * the real protocol with the real client code (many per process, one HTTP/2 connection each).
 */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { Channel } from '../common/channel.js';
import { createLogger } from '../common/log.js';
import { PROTOCOL_VERSION } from '../common/protocol.js';
import { MemoryBackend, MemoryRegistry } from '../control-plane/registry/memory.js';
import { LinkServer } from '../control-plane/server.js';
import { startEmbeddedPostgres } from '../control-plane/store/embedded.js';
import { PostgresStore } from '../control-plane/store/postgres.js';
import { LinkService, type ConnectRequestSchema, type ConnectResponse } from '../gen/link/v1/link_service_pb.js';
import { ThreadService } from '../gen/link/v1/thread_service_pb.js';
import { CapabilitiesSchema, SandboxProviderKind } from '../gen/link/v1/types_pb.js';

type Frame = MessageInitShape<typeof ConnectRequestSchema>;

export interface BenchStack {
  databaseUrl: string;
  replicas: LinkServer[];
  stores: PostgresStore[];
  userToken: string;
  userId: string;
  grpcUrl(replica: number): string;
  threads(replica: number): Client<typeof ThreadService>;
  stop(): Promise<void>;
}

export async function startStack(replicaCount = 1): Promise<BenchStack> {
  const dir = mkdtempSync(join(tmpdir(), 'link-bench-'));
  const log = createLogger({ name: 'bench', level: 'silent' });
  const database = await startEmbeddedPostgres(dir, log, { settings: { max_connections: '300' } });
  const backend = new MemoryBackend();
  const stores: PostgresStore[] = [];
  const replicas: LinkServer[] = [];
  for (let i = 0; i < replicaCount; i++) {
    const store = await PostgresStore.open({ url: database.url, migrationsDir: join(process.cwd(), 'sql'), log, max: 10 });
    stores.push(store);
    replicas.push(
      await LinkServer.start({
        host: '127.0.0.1',
        grpcPort: 0,
        httpPort: 0,
        heartbeatIntervalMs: 5_000,
        helloTimeoutMs: 5_000,
        drainGraceMs: 1_000,
        localLogin: false,
        webDir: undefined,
        store,
        registry: new MemoryRegistry(`bench-${i}`, backend),
        log,
      }),
    );
  }
  const user = await stores[0].localUser();
  const userToken = await stores[0].addUserToken(user.id, 'api');
  const grpcUrl = (replica: number) => `http://127.0.0.1:${replicas[replica].grpcPort}`;
  return {
    databaseUrl: database.url,
    replicas,
    stores,
    userToken,
    userId: user.id,
    grpcUrl,
    threads: (replica) =>
      createClient(
        ThreadService,
        createGrpcTransport({ baseUrl: grpcUrl(replica), interceptors: [(next) => (req) => (req.header.set('authorization', `Bearer ${userToken}`), next(req))] }),
      ),
    async stop() {
      for (const replica of replicas) await replica.close();
      for (const store of stores) await store.close();
      await database.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One agent on the real protocol: Hello, heartbeats, and a handler for what the server sends. */
export class BenchAgent {
  readonly out = new Channel<Frame>();
  private readonly abort = new AbortController();
  readonly welcomed: Promise<void>;
  readonly ended: Promise<void>;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(baseUrl: string, token: string, onFrame: (frame: ConnectResponse, agent: BenchAgent) => void = () => undefined) {
    const sessionManager = new Http2SessionManager(baseUrl);
    const client = createClient(LinkService, createGrpcTransport({ baseUrl, sessionManager }));
    this.out.push({
      frame: {
        case: 'hello',
        value: {
          protocolVersion: PROTOCOL_VERSION,
          machineId: `bench-${Math.random().toString(36).slice(2)}`,
          instanceId: 'bench',
          hostname: 'bench',
          capabilities: create(CapabilitiesSchema, {
            harnesses: [{ name: 'shell', installed: true }],
            sandboxProviders: [{ kind: SandboxProviderKind.DIRECTORY, available: true }],
            capacity: { maxConcurrentRuns: 64 },
          }),
        },
      },
    });
    let welcome!: () => void;
    let fail!: (error: unknown) => void;
    this.welcomed = new Promise((resolve, reject) => {
      welcome = resolve;
      fail = reject;
    });
    this.welcomed.catch(() => undefined);
    this.ended = (async () => {
      try {
        for await (const response of client.connect(this.out, { signal: this.abort.signal, headers: { authorization: `Bearer ${token}` } })) {
          if (response.frame.case === 'welcome') {
            welcome();
            let seq = 0n;
            this.heartbeat = setInterval(() => this.out.push({ frame: { case: 'heartbeat', value: { seq: ++seq } } }), response.frame.value.heartbeatIntervalMs);
          }
          onFrame(response, this);
        }
      } catch (error) {
        // Ended by close(), or it never got going (then whoever waits for the welcome learns why).
        fail(error);
      } finally {
        clearInterval(this.heartbeat);
        sessionManager.abort();
      }
    })();
  }

  send(frame: Frame): void {
    this.out.push(frame);
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.out.close();
    this.abort.abort();
    await this.ended;
  }
}

/** Latency percentiles of a list of milliseconds. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
