/**
 * The control plane's transports: the services built once by `connect.ts` are mounted on two servers.
 *
 *   gRPC port  (grpc-js, HTTP/2)    ── every service, grpc.health.v1, reflection  ◀── linkd, grpcurl, SDKs
 *   HTTP port  (connect-node, 1.1)  ── every service, Health (Connect + gRPC-Web),
 *                                      web UI, /healthz, /readyz, /metrics, /auth ◀── browsers, curl
 *
 * `LinkServer.start` opens the stores and the session hub, builds the services (`createServices`),
 * mounts them (grpc-js with `addServices` and reflection; connect-node inside the HTTP guard) and
 * returns a listening server; `close()` drains agents (they reconnect elsewhere),
 * then stops both ports, forcing connections closed after a grace period.
 *
 * Both ports pass the RPC edge (interceptors.ts: size, validation, INTERNAL with a request id) and
 * auth (auth.ts). The notifications module's LISTEN starts with the stores; the hub runs the
 * lost-run sweep; event retention runs here when `--retain-events` is set, and the approval timeout's and the
 * message expiry's sweeps always.
 */
import { setMaxListeners } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { createContextValues, type ConnectError } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import type { Logger } from '../common/log.js';
import { MAX_MESSAGE_BYTES } from '../common/protocol.js';
import { file_grpc_health_v1_health } from '../gen/grpc/health/v1/health_pb.js';
import { file_link_v1_link_service } from '../gen/link/v1/link_service_pb.js';
import { file_google_rpc_error_details } from '../gen/google/rpc/error_details_pb.js';
import { file_link_v1_sandbox_service } from '../gen/link/v1/sandbox_service_pb.js';
import { file_link_v1_thread_service } from '../gen/link/v1/thread_service_pb.js';
import { file_link_v1_user_service } from '../gen/link/v1/user_service_pb.js';
import type { PostgresStore } from './store/postgres.js';
import { isLoopbackHost } from './auth.js';
import { createServices, type ControlPlaneServices } from './connect.js';
import { guardHttp } from './http-guard.js';
import { peerAddressKey, transportKey } from './context.js';
import { addServices, createGrpcServer } from './grpc-adapter.js';
import { httpRoutes } from './http.js';
import { LinkSessionHub } from './sessions/hub.js';
import { addReflection } from './reflection.js';
import type { Registry } from './registry/registry.js';
import { ApprovalTimeoutSweep } from './interactions/approval-timeout.js';
import { InteractionStore } from './interactions/interaction-store.js';
import { EventRetention } from './runs/event-retention.js';
import { RunStore } from './runs/run-store.js';
import { ServerMetrics } from './metrics.js';
import { SandboxStore } from './sandboxes/sandbox-store.js';
import { MessageExpirySweep } from './threads/message-expiry.js';
import { MessageQueue } from './threads/message-queue.js';
import { ThreadAdmin } from './threads/thread-admin.js';
import { SteerStore } from './steering/steer-store.js';
import { ThreadStore } from './threads/thread-store.js';
import { configureLimits } from './limits/parking.js';
import { ResumeSweep } from './limits/resume-sweep.js';
import { usageLimitsOfLinks } from './limits/usage-limits.js';

/** How long close() waits, once the ports are closed, for sessions to write their end before closing the store. */
const SESSION_END_GRACE_MS = 5_000;

export interface LinkServerOptions {
  /** Serve both ports over TLS with this certificate (PEM, with its chain) and key. */
  tls?: { cert: Buffer; key: Buffer };
  /** Address both ports listen on. */
  host: string;
  /** 0 picks a free port; read it back from `grpcPort`. */
  grpcPort: number;
  httpPort: number;
  heartbeatIntervalMs: number;
  helloTimeoutMs: number;
  /** How long `close()` waits for agents to leave after Drain before forcing connections closed. */
  drainGraceMs: number;
  /** gRPC keepalive: the server pings each agent this often… */
  keepaliveTimeMs?: number;
  /** …and drops the connection when a ping is not answered within this. */
  keepaliveTimeoutMs?: number;
  /** How long a link may stay away before its unfinished runs fail LINK_LOST. */
  linkLostGraceMs?: number;
  /** Delete the events of runs finished longer ago than this (undefined: keep them forever). */
  retainEventsMs?: number;
  /** How often event retention looks for due runs (default hourly). */
  retentionIntervalMs?: number;
  /** Pending interactions of threads without their own approval timeout are denied after this (undefined: never). */
  approvalTimeoutMs?: number;
  /** How often queued messages and runs past their expiry are failed (default 2 s). */
  expirySweepIntervalMs?: number;
  /** A run parked at the usage limit continues this long after the reset (default 60 s; `--limit-resume-margin`). */
  limitResumeMarginSeconds?: number;
  /** How often the usage-limit resume sweep looks for due threads (default 2 s). */
  limitSweepIntervalMs?: number;
  /** How long a link's old token keeps working after a rotation (default 10 minutes). */
  tokenGraceMs?: number;
  /** How long an HTTP request may take to arrive, head and body (default 30 s); answers may stream longer. */
  httpRequestTimeoutMs?: number;
  /** The built web UI, or undefined for none. */
  webDir: string | undefined;
  /**
   * The embedded default's login secret (local login): the page trades it for a session cookie of
   * the local user (POST /auth/login). Undefined turns local login off. Only on a loopback `host`.
   */
  localLoginSecret?: string;
  /** The gRPC address agents should dial, shown in pairing commands. */
  advertisedGrpcUrl?: string;
  store: PostgresStore;
  registry: Registry;
  log: Logger;
}

export class LinkServer {
  private closing: Promise<void> | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly options: LinkServerOptions,
    private readonly grpcServer: grpc.Server,
    private readonly httpServer: HttpServer,
    private readonly sessions: LinkSessionHub,
    private readonly shutdown: AbortController,
    readonly grpcPort: number,
    readonly httpPort: number,
    private readonly runs: RunStore,
    private readonly sandboxes: SandboxStore,
    private readonly retention: EventRetention | undefined,
    private readonly interactions: { store: InteractionStore; sweep: ApprovalTimeoutSweep },
    private readonly expiry: MessageExpirySweep,
  ) {
    httpServer.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  static async start(options: LinkServerOptions): Promise<LinkServer> {
    const { store, registry, log } = options;
    if (options.localLoginSecret !== undefined && !isLoopbackHost(options.host)) {
      throw new Error(`local login only listens on loopback, not on ${options.host}`);
    }
    await registry.start();
    if (options.tokenGraceMs !== undefined) store.tokenGraceMs = options.tokenGraceMs;
    const shutdown = new AbortController();
    // Every call in flight listens for shutdown; many at once is normal.
    setMaxListeners(0, shutdown.signal);
    const stores = await openStores(options);
    const isReady = () => registry.isReady() && store.isReady() && store.notifications.isListening() && !shutdown.signal.aborted;
    const usageLimits = (linkIds: readonly string[]) => usageLimitsOfLinks(store.connection, linkIds);
    const built = createServices({ ...stores, store, registry, log, isReady, usageLimits, advertisedGrpcUrl: options.advertisedGrpcUrl ?? '' });
    const grpcServer = createGrpc(options, built, shutdown.signal);
    const grpcPort = await bindGrpc(grpcServer, options);
    const httpServer = createHttp(options, built, stores.metrics, shutdown.signal);
    await listenHttp(httpServer, options);
    const address = httpServer.address();
    const httpPort = typeof address === 'object' && address ? address.port : options.httpPort;
    log.info({ grpcPort, httpPort, host: options.host, replicaId: registry.replicaId }, 'listening');
    const server = new LinkServer(options, grpcServer, httpServer, stores.sessions, shutdown, grpcPort, httpPort, stores.runs, stores.sandboxes, stores.retention, {
      store: stores.interactions,
      sweep: stores.approvalTimeouts,
    }, stores.expiry);
    stores.retention?.start();
    stores.approvalTimeouts.start();
    stores.expiry.start();
    stores.limitResumes.start();
    server.limitResumes = stores.limitResumes;
    server.setAdvertisedGrpcUrl = built.setAdvertisedGrpcUrl;
    if (!options.advertisedGrpcUrl) server.setAdvertisedGrpcUrl(`${options.tls ? 'https' : 'http'}://${options.host}:${grpcPort}`);
    return server;
  }

  /** The usage-limit resume sweep (stopped by close()). */
  private limitResumes: ResumeSweep | undefined;

  /** Changes the gRPC address shown in pairing commands (known only after binding port 0). */
  setAdvertisedGrpcUrl: (url: string) => void = () => undefined;

  /** Live agent sessions on this replica. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Open TCP connections on the HTTP port. */
  get httpConnectionCount(): number {
    return this.sockets.size;
  }

  /**
   * Drains agents (Drain, then up to `drainGraceMs` for them to leave), stops accepting, and closes
   * both ports, forcing what is still open after the grace period. Idempotent: a second call waits
   * for the first.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const { log, drainGraceMs } = this.options;
    const left = await this.sessions.drain('the control plane is shutting down', 500, drainGraceMs);
    if (left > 0) log.warn({ sessions: left }, 'agents did not leave within the drain grace period; closing them');
    this.shutdown.abort();
    const grpcClosed = new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, 1_000);
      this.grpcServer.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    const httpClosed = new Promise<void>((resolve) => this.httpServer.close(() => resolve()));
    this.httpServer.closeIdleConnections();
    const force = setTimeout(() => {
      for (const socket of this.sockets) socket.destroy();
    }, 1_000);
    // Wait for every socket's own close, not just the server's: nothing may outlive close().
    const socketsClosed = Promise.all([...this.sockets].map((socket) => new Promise((resolve) => socket.once('close', resolve))));
    await Promise.all([grpcClosed, httpClosed, socketsClosed]);
    clearTimeout(force);
    // A session whose stream was cut still writes its end (runs detached, last seen) before the store closes.
    const ending = await this.sessions.settled(SESSION_END_GRACE_MS);
    if (ending > 0) log.warn({ sessions: ending }, 'sessions still ending after the grace period; closing the store under them');
    await this.retention?.close();
    this.interactions.sweep.stop();
    this.expiry.stop();
    this.limitResumes?.stop();
    this.interactions.store.close();
    await this.options.registry.close();
    await this.runs.close();
    await this.sandboxes.close();
    await this.options.store.close();
    // Their writes fail now, so they end.
    if (ending > 0) await this.sessions.settled(1_000);
    log.info('stopped');
  }
}

/**
 * A request must arrive in time, or its connection is closed: the head within 10 s, the whole
 * request (body included; answers may stream for as long as they need) within 30 s
 * (`--http-request-timeout`; the head then within the smaller of the two), checked every second. Without these an unfinished request holds its socket for minutes.
 */
function httpLimits(requestTimeoutMs = 30_000) {
  return { headersTimeout: Math.min(10_000, requestTimeoutMs), requestTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.min(1_000, requestTimeoutMs / 2) };
}

/** The stores beside `Store`, the metrics and the session hub: opened once, closed by `close()`. */
async function openStores(options: LinkServerOptions) {
  const { store, registry, log } = options;
  const notifications = store.notifications;
  const runs = await RunStore.open(store.connection, notifications, log.child({ module: 'runs' }));
  const sandboxes = await SandboxStore.open(store.connection, notifications, log.child({ module: 'sandboxes' }));
  const threads = new ThreadStore(store.connection, runs);
  const threadAdmin = new ThreadAdmin(store.connection, threads);
  const interactions = InteractionStore.open(store.connection, notifications, log.child({ module: 'interactions' }));
  const steers = new SteerStore(store.connection);
  runs.approvalTimeoutSeconds = Math.ceil((options.approvalTimeoutMs ?? 0) / 1000);
  const approvalTimeouts = new ApprovalTimeoutSweep(interactions, log.child({ module: 'approval-timeout' }));
  const messageQueue = new MessageQueue(store.connection);
  const expiry = new MessageExpirySweep(store.connection, runs, log.child({ module: 'message-expiry' }), options.expirySweepIntervalMs);
  configureLimits({ marginSeconds: options.limitResumeMarginSeconds });
  const limitResumes = new ResumeSweep(store.connection, log.child({ module: 'usage-limits' }), options.limitSweepIntervalMs);
  const retention = options.retainEventsMs
    ? new EventRetention(store.connection, { retainMs: options.retainEventsMs, intervalMs: options.retentionIntervalMs }, log.child({ module: 'retention' }))
    : undefined;
  // eslint-disable-next-line prefer-const -- the gauge reads the hub made next
  let sessions: LinkSessionHub;
  const metrics = new ServerMetrics(() => sessions.size);
  runs.observe(metrics);
  notifications.observe(metrics);
  sessions = new LinkSessionHub(
    registry,
    store,
    runs,
    sandboxes,
    interactions,
    steers,
    notifications,
    {
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      helloTimeoutMs: options.helloTimeoutMs,
      linkLostGraceMs: options.linkLostGraceMs ?? 60_000,
      tokenGraceMs: options.tokenGraceMs ?? 10 * 60_000,
    },
    log.child({ module: 'link-session' }),
    metrics,
  );
  return { runs, sandboxes, threads, threadAdmin, messageQueue, expiry, notifications, interactions, steers, approvalTimeouts, limitResumes, retention, metrics, sessions };
}

/** The gRPC port: every service (with the 4 MiB request limit), reflection, keepalive. */
function createGrpc(options: LinkServerOptions, built: ControlPlaneServices, shutdownSignal: AbortSignal): grpc.Server {
  const onRefused = (error: ConnectError, path: string) => built.edge.refused(error, path);
  const grpcServer = createGrpcServer({
    'grpc.keepalive_time_ms': options.keepaliveTimeMs ?? 5_000,
    'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs ?? 4_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
  }, MAX_MESSAGE_BYTES, onRefused);
  addServices(grpcServer, built.services, { shutdownSignal, onRefused });
  addReflection(grpcServer, [
    file_link_v1_link_service,
    file_link_v1_user_service,
    file_link_v1_thread_service,
    file_link_v1_sandbox_service,
    file_grpc_health_v1_health,
    file_google_rpc_error_details,
  ]);
  return grpcServer;
}

function bindGrpc(grpcServer: grpc.Server, options: LinkServerOptions): Promise<number> {
  const credentials = options.tls
    ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: options.tls.cert, private_key: options.tls.key }], false)
    : grpc.ServerCredentials.createInsecure();
  return new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync(`${options.host}:${options.grpcPort}`, credentials, (error, port) => (error ? reject(error) : resolve(port))),
  );
}

/** The HTTP port: connect-node with the routes, falling back to `httpRoutes`, all inside one guard. */
function createHttp(options: LinkServerOptions, built: ControlPlaneServices, metrics: ServerMetrics, shutdownSignal: AbortSignal): HttpServer {
  const fallback = httpRoutes({
    webDir: options.webDir,
    store: options.store,
    secureCookies: options.tls !== undefined,
    localLoginSecret: options.localLoginSecret,
    metrics,
    notReadyReason: () => notReadyReason(options, metrics, shutdownSignal),
  });
  // One guard around everything on the HTTP port: connect-node's own handler (it throws on a
  // request it cannot make a URL of) and the routes it falls back to (whose promise it drops).
  const httpLog = options.log.child({ module: 'http' });
  const handler = connectNodeAdapter({
    routes: built.routes,
    fallback: guardHttp(fallback, httpLog) as (req: unknown, res: unknown) => void,
    // Read up to twice the limit: the edge refuses what is over it, with its reason.
    readMaxBytes: 2 * MAX_MESSAGE_BYTES,
    shutdownSignal,
    contextValues: (req) =>
      createContextValues()
        .set(peerAddressKey, req.socket.remoteAddress ?? '')
        .set(transportKey, 'http'),
  });
  const listener = guardHttp(handler as (req: IncomingMessage, res: ServerResponse) => void, httpLog);
  const httpServer = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key, ...httpLimits(options.httpRequestTimeoutMs) }, listener)
    : createServer(httpLimits(options.httpRequestTimeoutMs), listener);
  // CONNECT is a proxy's method; without a listener Node drops the socket without an answer.
  httpServer.on('connect', (_req: IncomingMessage, socket: Socket) => {
    socket.on('error', () => socket.destroy());
    socket.end('HTTP/1.1 405 Method Not Allowed\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });
  return httpServer;
}

/** Why `/readyz` is 503, or undefined when this replica is ready. */
async function notReadyReason(options: LinkServerOptions, metrics: ServerMetrics, shutdownSignal: AbortSignal): Promise<string | undefined> {
  const { store, registry } = options;
  if (shutdownSignal.aborted) return 'shutting down';
  if (!registry.isReady()) return 'the link registry is unreachable';
  if (!(await store.check())) {
    metrics.databaseErrors.inc();
    return 'the database is unreachable';
  }
  // Until it holds, this replica would not hear runs, cancels or sandbox operations for its sessions.
  if (!store.notifications.isListening()) return 'not listening for notifications (LISTEN is being restored)';
  return undefined;
}

function listenHttp(httpServer: HttpServer, options: LinkServerOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.httpPort, options.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
}
