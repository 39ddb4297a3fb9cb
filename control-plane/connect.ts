/**
 * The control plane's services, built once and apart from any transport: each is wrapped by auth
 * (`Authenticator.protect`) and then by the RPC edge (`RpcEdge.wrap`: request checks, error
 * classification, logs, metrics), so both ports serve the very same objects.
 *
 *   request ─▶ edge ─▶ auth ─▶ LinkServiceImpl / UserServiceImpl / ThreadServiceImpl / SandboxServiceImpl
 *                      (none) ─▶ HealthServiceImpl
 *
 * `server.ts` mounts `routes` on connect-node and `services` on grpc-js (`addServices`).
 */
import type { ConnectRouter } from '@connectrpc/connect';
import type { Logger } from '../common/log.js';
import { MAX_MESSAGE_BYTES } from '../common/protocol.js';
import { Health } from '../gen/grpc/health/v1/health_pb.js';
import { LinkService } from '../gen/link/v1/link_service_pb.js';
import { SandboxService } from '../gen/link/v1/sandbox_service_pb.js';
import { ThreadService } from '../gen/link/v1/thread_service_pb.js';
import { UserService } from '../gen/link/v1/user_service_pb.js';
import { Authenticator } from './auth.js';
import { serviceEntry, type ServiceEntry } from './grpc-adapter.js';
import { RpcEdge } from './interceptors.js';
import type { ServerMetrics } from './metrics.js';
import type { InteractionStore } from './interactions/interaction-store.js';
import type { SteerStore } from './steering/steer-store.js';
import type { Registry } from './registry/registry.js';
import type { RunStore } from './runs/run-store.js';
import type { SandboxStore } from './sandboxes/sandbox-store.js';
import { HealthServiceImpl } from './services/health-service.js';
import { LinkServiceImpl } from './services/link-service.js';
import { SandboxServiceImpl } from './services/sandbox-service.js';
import { ThreadServiceImpl } from './services/thread-service.js';
import { UserServiceImpl } from './services/user-service.js';
import type { LinkSessionHub } from './sessions/hub.js';
import type { Store } from './store/store.js';
import type { MessageQueue } from './threads/message-queue.js';
import type { ThreadAdmin } from './threads/thread-admin.js';
import type { ThreadStore } from './threads/thread-store.js';
import type { Notifications } from './notifications.js';
import type { UsageLimitsOfLinks } from './services/link-service.js';

/** What the services are built on; the server opened each of these and closes them. */
export interface ServiceDependencies {
  store: Store;
  /** Each link's usage limits, for the link views (none without it). */
  usageLimits?: UsageLimitsOfLinks;
  registry: Registry;
  sessions: LinkSessionHub;
  runs: RunStore;
  threads: ThreadStore;
  /** Rename, archive and delete threads. */
  threadAdmin: ThreadAdmin;
  /** Edit and withdraw queued messages. */
  messageQueue: MessageQueue;
  /** The replica's notifications (WatchThreads hears thread changes on them). */
  notifications: Pick<Notifications, 'on' | 'onReconnect'>;
  sandboxes: SandboxStore;
  interactions: InteractionStore;
  /** Steered messages and interrupts (InterruptRun). */
  steers: SteerStore;
  metrics: ServerMetrics;
  log: Logger;
  /** For grpc.health.v1: whether this replica should take calls now. */
  isReady: () => boolean;
  /** The gRPC address shown in pairing commands ('' until known; see `setAdvertisedGrpcUrl`). */
  advertisedGrpcUrl: string;
}

/** The services once built: one list for both transports. */
export interface ControlPlaneServices {
  /** Every service with its wrapped implementation, for the gRPC port (`addServices`). */
  services: readonly ServiceEntry[];
  /** The same services for connect-node's router (the HTTP port). */
  routes: (router: ConnectRouter) => void;
  /** The edge, for the requests a transport refuses before any handler (they are logged the same way). */
  edge: RpcEdge;
  /** Changes the gRPC address shown in pairing commands (known only after binding port 0). */
  setAdvertisedGrpcUrl: (url: string) => void;
}

/** Builds every service once. The caller owes the dependencies' lifetimes (open before, closed after). */
export function createServices(deps: ServiceDependencies): ControlPlaneServices {
  const { store, registry, runs, threads, sandboxes } = deps;
  const auth = new Authenticator(store);
  const edge = new RpcEdge({ log: deps.log.child({ module: 'rpc' }), databaseErrors: deps.metrics.databaseErrors, maxMessageBytes: MAX_MESSAGE_BYTES });
  const linkImpl = new LinkServiceImpl(store, registry, deps.sessions, deps.advertisedGrpcUrl, deps.notifications, deps.usageLimits);
  const protectedServices = [
    serviceEntry(LinkService, edge.wrap(LinkService, auth.protect(LinkService, linkImpl, { connect: 'link', completePairing: 'none' }))),
    serviceEntry(UserService, edge.wrap(UserService, auth.protect(UserService, new UserServiceImpl(store)))),
    serviceEntry(ThreadService, edge.wrap(ThreadService, auth.protect(ThreadService, new ThreadServiceImpl(store, threads, runs, registry, deps.interactions, deps.threadAdmin, deps.notifications, deps.sessions, deps.messageQueue, deps.steers)))),
    serviceEntry(SandboxService, edge.wrap(SandboxService, auth.protect(SandboxService, new SandboxServiceImpl(store, runs, sandboxes, registry, threads)))),
  ];
  const health = new HealthServiceImpl(deps.isReady, protectedServices.map((entry) => entry.service.typeName));
  const services = [...protectedServices, serviceEntry(Health, edge.wrap(Health, health))];
  return {
    services,
    routes: (router) => {
      for (const entry of services) entry.mount(router);
    },
    edge,
    setAdvertisedGrpcUrl: (url) => linkImpl.setAdvertisedGrpcUrl(url),
  };
}
