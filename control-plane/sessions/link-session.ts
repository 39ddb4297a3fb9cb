/**
 * The server side of one agent's `LinkService.Connect` stream, from Hello to the end:
 *
 *   Hello (hello.ts) ─▶ admit (SetupGate) ─▶ claim presence, watch for a newer epoch (registry)
 *     ─▶ adopt runs (run-store) ─▶ Welcome ─▶ frames (session-frames.ts) ─▶ end
 *
 * The session ends when the agent says Goodbye or closes its side, when it misses three heartbeat
 * intervals (UNAVAILABLE HEARTBEAT_MISSED), when a newer session of the same link takes over
 * (ABORTED SUPERSEDED), or when the call is cancelled. Whatever ends it, its runs are detached, its
 * presence record is released (only if it is still the live one) and the link's last-seen time is stored.
 */
import { create, toJson, type MessageInitShape } from '@bufbuild/protobuf';
import type { HandlerContext } from '@connectrpc/connect';
import { Channel } from '../../common/channel.js';
import { takesOnArrival } from '../on-arrival.js';
import { Code, linkError, Reason } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { PROTOCOL_VERSION } from '../../common/protocol.js';
import type { ConnectRequest, ConnectResponseSchema, Hello } from '../../gen/link/v1/link_service_pb.js';
import { CapabilitiesSchema, type Capabilities } from '../../gen/link/v1/types_pb.js';
import type { ServerMetrics } from '../metrics.js';
import type { PresenceRecord, Registry } from '../registry/registry.js';
import { AnswerDelivery } from '../interactions/answer-delivery.js';
import { SteerDelivery } from '../steering/steer-delivery.js';
import type { SteerStore } from '../steering/steer-store.js';
import type { InteractionStore } from '../interactions/interaction-store.js';
import { Dispatcher } from '../runs/dispatcher.js';
import type { RunStore } from '../runs/run-store.js';
import type { SandboxStore } from '../sandboxes/sandbox-store.js';
import { newId, newToken, type DispatchKeySet, type LinkRecord, type Store } from '../store/store.js';
import { readHello } from './hello.js';
import { handleFrame, onHeartbeat, type FrameSession } from './session-frames.js';
import { pumpFrames } from './frame-pump.js';
import { awakeOnConnect } from './power-changed.js';
import type { Watched } from './heartbeat-watchdog.js';
import { registryUnavailable, SessionPresence } from './session-presence.js';

/** A frame the server sends on the stream. */
export type Outgoing = MessageInitShape<typeof ConnectResponseSchema>;

export interface LinkSessionOptions {
  /** The cadence the server asks agents to heartbeat at (Welcome.heartbeat_interval_ms). */
  heartbeatIntervalMs: number;
  /** How long the agent has to send Hello. */
  helloTimeoutMs: number;
  /** How long a link may stay away before its unfinished runs fail LINK_LOST. */
  linkLostGraceMs: number;
  /** How long a link's old token keeps working after the machine confirmed a new one. */
  tokenGraceMs?: number;
  /** Session set-ups (claim, adopt runs, Welcome) run at once; more wait their turn. Default 128. */
  maxConcurrentSetups?: number;
  /** Set-ups that may wait; past that a new session is refused OVERLOADED and retries. Default 2048. */
  maxQueuedSetups?: number;
}

/** What a session needs of the replica around it (the hub). */
export interface SessionServices {
  registry: Registry;
  store: Store;
  runs: RunStore;
  sandboxes: SandboxStore;
  interactions: InteractionStore;
  /** Steered messages and interrupts (steering/steer-store.ts). */
  steers: SteerStore;
  options: LinkSessionOptions;
  metrics?: ServerMetrics;
  /** Waits for a turn to set up (see SetupGate); resolves with the function that gives it back. */
  admitSetup(signal: AbortSignal): Promise<() => void>;
  /** Detaches the runs of an ended session (they fail LINK_LOST after the grace). */
  detachRuns(linkId: string, epoch: bigint): Promise<void>;
  /** Watches the session's heartbeats (heartbeat-watchdog.ts); returns the function that stops it. */
  watchHeartbeats(session: Watched): () => void;
}

export class LinkSession implements FrameSession, Watched {
  private readonly out = new Channel<Outgoing>();
  private readonly presence: SessionPresence;
  /** When the last heartbeat (or the Welcome) was seen; the replica's HeartbeatWatchdog reads it. */
  lastHeartbeatAt = Date.now();
  private superseded = false;
  private welcomed = false;
  /** Asked for before the Welcome went out: a token rotation, a Shutdown (linkd obeys one only once welcomed). */
  private rotateOnWelcome = false;
  private shutdownOnWelcome: string | undefined;
  capacity = 1;
  // Made on first use: most sessions are idle, and are never sent a run, an answer or a steer.
  private dispatcherMade: Dispatcher | undefined;
  private answersMade: AnswerDelivery | undefined;
  private steersMade: SteerDelivery | undefined;
  private readonly steerStore: SteerStore;
  readonly store: Store;
  readonly runs: RunStore;
  readonly sandboxes: SandboxStore;
  readonly metrics?: ServerMetrics;
  readonly tokenGraceMs: number;

  constructor(
    private readonly link: LinkRecord,
    private readonly services: SessionServices,
    readonly log: Logger,
  ) {
    ({ store: this.store, runs: this.runs, sandboxes: this.sandboxes, metrics: this.metrics } = services);
    this.tokenGraceMs = services.options.tokenGraceMs ?? 10 * 60_000;
    this.steerStore = services.steers;
    this.presence = new SessionPresence(services.registry, log, this.metrics);
  }

  private get record(): PresenceRecord | undefined {
    return this.presence.record;
  }

  /** Claims and sends the link's queued runs and sandbox operations (runs/dispatcher.ts). */
  get dispatcher(): Dispatcher {
    return (this.dispatcherMade ??= new Dispatcher(this, this.runs, this.sandboxes, this.store, this.log, this.metrics));
  }

  /** The answers on their way to the machine (interactions/answer-delivery.ts). */
  get answers(): AnswerDelivery {
    return (this.answersMade ??= new AnswerDelivery(this, this.services.interactions, this.store, this.log));
  }

  /** The steered messages on their way into running turns (steering/steer-delivery.ts). */
  get steers(): SteerDelivery {
    return (this.steersMade ??= new SteerDelivery(this, this.steerStore, this.store, this.log));
  }

  /** Welcomed and not yet ended: it may be sent runs. */
  get live(): boolean {
    return this.welcomed && !this.out.isClosed;
  }

  /** A superseded session's agent is reconnected elsewhere: what it claimed would only wait out the grace. */
  mayDispatch(): boolean {
    return this.live && !this.superseded;
  }

  get linkId(): string {
    return this.link.id;
  }

  get userId(): string {
    return this.link.userId;
  }

  /** The epoch of the session's presence claim (undefined before it claimed). */
  get heldEpoch(): bigint | undefined {
    return this.record?.epoch;
  }

  send(frame: Outgoing): void {
    this.out.push(frame);
  }

  close(error?: unknown): void {
    this.out.close(error);
  }

  epoch(): bigint {
    if (!this.record) throw new Error('no session epoch before Hello');
    return this.record.epoch;
  }

  sessionStartedAt(): number {
    return this.record?.connectedAt ?? Date.now();
  }

  heartbeatSeen(): void {
    this.lastHeartbeatAt = Date.now();
  }

  /** Claims and sends the link's queued runs (runs/dispatcher.ts). */
  dispatchPending(): void {
    this.dispatcher.dispatchPending();
  }

  /** Claims and sends the link's queued sandbox operations (runs/dispatcher.ts). */
  sendSandboxOps(): void {
    this.dispatcher.sendSandboxOps();
  }

  /** Sends the answers of the session's runs the machine has not acknowledged (interactions/answer-delivery.ts). */
  sendAnswers(): void {
    this.answers.sendPending();
  }

  /** Sends the steered messages of the session's runs the machine has not acknowledged (steering/steer-delivery.ts). */
  sendSteers(): void {
    this.steers.sendPending();
  }

  /** Tells the agent again to stop every run the user cancelled that it still runs. */
  async resendCancels(): Promise<void> {
    if (!this.live) return;
    for (const run of await this.runs.pendingCancels(this.link.id)) this.cancel(run.id);
    for (const runId of await this.steerStore.pendingInterrupts(this.link.id)) this.cancel(runId, true);
  }

  /** Sends the agent a new token; it is accepted at once, and becomes the only one once the agent confirms. */
  rotateToken(): void {
    if (!this.live) {
      // Asked while the session is still being set up: done as soon as it is welcomed.
      if (!this.welcomed && !this.out.isClosed) this.rotateOnWelcome = true;
      return;
    }
    const token = newToken('ll');
    const rotationId = newId('rot');
    void this.store
      .setPendingToken(this.link.id, token)
      .then(() => {
        this.send({ frame: { case: 'rotateToken', value: { rotationId, newToken: token } } });
        this.log.info({ rotationId }, 'link token rotation sent');
      })
      .catch((error) => this.log.error({ err: error }, 'cannot rotate the link token'));
  }

  /** Tells the agent to stop a run (with `interrupt`: to end its turn through the CLI's own interrupt). */
  cancel(runId: string, interrupt = false): void {
    if (!this.live) return;
    this.send({ frame: { case: 'cancelRun', value: { runId, reason: interrupt ? 'interrupted by the user' : 'cancelled by the user', interrupt } } });
  }

  /** Tells the agent to stop for good (DisconnectLink), then ends the stream. */
  shutdown(reason: string): void {
    if (!this.welcomed && !this.out.isClosed) {
      // Still being set up: linkd would take a Shutdown ahead of its Welcome as one from a stranger.
      this.shutdownOnWelcome = reason;
      return;
    }
    this.log.info({ reason }, 'telling the agent to stop');
    this.send({ frame: { case: 'shutdown', value: { reason } } });
    this.out.close();
  }

  /** The link was revoked, or an admin disabled its user: the session ends now, and the agent learns why. */
  revoked(why: 'link' | 'user' = 'link'): void {
    this.log.info({ why }, 'link revoked or its user disabled; ending its session');
    this.out.close(
      why === 'link'
        ? linkError(Code.Unauthenticated, Reason.LinkRevoked, 'this link was revoked; pair the machine again with `linkd login`')
        : linkError(Code.Unauthenticated, Reason.UserDisabled, 'the account this machine is paired with was disabled by an admin; ask them to enable it, then start linkd again'),
    );
  }

  /** Runs the session: the frames it yields are the server's side of the stream. */
  async *run(requests: AsyncIterable<ConnectRequest>, ctx: HandlerContext): AsyncGenerator<Outgoing> {
    const frames = requests[Symbol.asyncIterator]();
    const onAbort = () => this.out.close();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    let unwatchHeartbeats: (() => void) | undefined;
    let stopWatch: (() => void) | undefined;
    let endSetup: (() => void) | undefined;
    try {
      const hello = await readHello(frames, ctx.signal, this.services.options.helloTimeoutMs);
      if (!hello) return;
      endSetup = await this.services.admitSetup(ctx.signal);
      // The agent may have given up while this session waited its turn: then claiming would only
      // supersede the attempt it made next.
      if (ctx.signal.aborted) return;
      if (!this.services.registry.isReady()) throw registryUnavailable();
      // Watch before claiming, so a newer session that claims right after us is never missed.
      stopWatch = this.watchForNewer();
      const cursors = await this.setUp(hello);
      this.welcome(hello, cursors, (await this.store.dispatchKey()));
      endSetup();
      await this.afterWelcome();
      unwatchHeartbeats = this.services.watchHeartbeats(this);
      this.answerHeartbeatsOnArrival(requests);
      void this.readFrames(frames);
      yield* this.out;
    } finally {
      endSetup?.();
      ctx.signal.removeEventListener('abort', onAbort);
      unwatchHeartbeats?.();
      stopWatch?.();
      this.out.close();
      void frames.return?.()?.catch(() => undefined);
      if (this.record) await this.end(this.record);
    }
  }

  /** Ends the session SUPERSEDED when a newer epoch of its link is claimed; returns the function that stops watching. */
  private watchForNewer(): () => void {
    return this.services.registry.watchLink(this.link.userId, this.link.id, (event) => {
      const mine = this.record;
      if (!mine || event.type !== 'put' || event.record.epoch <= mine.epoch) return;
      this.log.info({ epoch: String(mine.epoch), newer: String(event.record.epoch) }, 'session superseded');
      this.superseded = true;
      this.out.close(
        linkError(Code.Aborted, Reason.Superseded, 'a newer session of this link connected; this one is closed', {
          newer_replica: event.record.replicaId,
          newer_instance: event.record.instanceId,
        }),
      );
    });
  }

  /** Claims presence, adopts the runs the agent still holds, and records them; returns each adopted run's stored seq. */
  private async setUp(hello: Hello): Promise<Map<string, bigint>> {
    const registry = this.services.registry;
    const record = await this.presence.claim({
      userId: this.link.userId,
      linkId: this.link.id,
      replicaId: registry.replicaId,
      machineId: hello.machineId,
      instanceId: hello.instanceId,
      hostname: hello.hostname,
      os: hello.os,
      arch: hello.arch,
      agentVersion: hello.agentVersion,
      capabilities: hello.capabilities ?? create(CapabilitiesSchema),
      connectedAt: Date.now(),
      runningRunIds: [],
      dispatchKeyMissing: hello.dispatchKeyMissing,
    });
    this.capacity = Math.max(1, hello.capabilities?.capacity?.maxConcurrentRuns ?? 1);
    const [{ cursors, failed }] = await Promise.all([
      this.runs.adoptRuns(this.link.id, record.epoch, hello.heldRuns.map((r) => r.runId)),
      this.rememberSeen(),
      // Read with the link's token a moment ago: a link not asleep has nothing to clear.
      this.link.asleepSince === undefined ? undefined : awakeOnConnect(this),
    ]);
    if (failed.length > 0) this.log.warn({ runs: failed }, 'the agent came back without these runs: AGENT_RESTARTED');
    const unfinished = hello.heldRuns.filter((r) => !r.finished && cursors.has(r.runId)).map((r) => r.runId);
    if (unfinished.length > 0) await this.presence.recordAdopted(unfinished);
    return cursors;
  }

  private welcome(hello: Hello, cursors: Map<string, bigint>, { publicKey, chain }: DispatchKeySet): void {
    const epoch = this.epoch();
    this.log.info({ epoch: String(epoch), hostname: hello.hostname }, 'link connected');
    if (hello.dispatchKeyMissing) this.log.warn('the agent has no dispatch key pinned at pairing: it refuses every run until paired again');
    this.send({
      frame: {
        case: 'welcome',
        value: {
          linkId: this.link.id,
          sessionEpoch: epoch,
          heartbeatIntervalMs: this.services.options.heartbeatIntervalMs,
          replicaId: this.services.registry.replicaId,
          protocolVersion: PROTOCOL_VERSION,
          dispatchPublicKey: publicKey,
          // Only a rotated key needs its chain: an agent pinned to an older key follows it.
          dispatchKeyChain: chain.length > 1 ? chain : [],
          runCursors: [...cursors].map(([runId, lastPersistedSeq]) => ({ runId, lastPersistedSeq })),
        },
      },
    });
    this.welcomed = true;
  }

  /** What waited for the Welcome: a token rotation, queued runs and sandbox operations, answers, cancels. */
  private async afterWelcome(): Promise<void> {
    if (this.shutdownOnWelcome !== undefined) return this.shutdown(this.shutdownOnWelcome);
    if (this.rotateOnWelcome) {
      this.rotateOnWelcome = false;
      this.rotateToken();
    }
    // One read says what there is; a link with nothing waiting (most, at a reconnect) costs no more.
    const pending = await this.runs.pendingForLink(this.link.id).catch((error) => {
      this.log.warn({ err: error }, 'cannot read what the link has waiting; reading each kind');
      return { runs: true, sandboxOps: true };
    });
    if (pending.runs) {
      this.dispatchPending();
      this.sendAnswers();
      this.sendSteers();
    }
    if (pending.sandboxOps) this.sendSandboxOps();
    if (pending.runs) await this.resendCancels();
    this.lastHeartbeatAt = Date.now();
  }

  /** Keeps the presence record's running runs current (a write only when the set changes). */
  setRunning(runId: string, running: boolean): Promise<void> {
    return this.presence.setRunning(runId, running);
  }

  updateCapabilities(capabilities: Capabilities): Promise<void> {
    return this.presence.updateCapabilities(capabilities);
  }

  private async readFrames(frames: AsyncIterator<ConnectRequest>): Promise<void> {
    try {
      // Heartbeats are answered as they are read; the rest in order, a run's queued batches joined.
      await pumpFrames(frames, (frame) => handleFrame(this, frame), (frame) => frame.frame.case === 'heartbeat' && (onHeartbeat(this, frame.frame.value), true));
      this.log.info('agent closed the session');
      this.out.close();
    } catch (error) {
      this.out.close(error);
    }
  }

  /** The watchdog's sweep found the session silent for more than three intervals. */
  heartbeatsMissed(silentFor: number): void {
    const intervalMs = this.services.options.heartbeatIntervalMs;
    this.log.warn({ silentForMs: silentFor }, 'heartbeats missed; closing the session');
    this.out.close(linkError(Code.Unavailable, Reason.HeartbeatMissed, `no heartbeat for ${silentFor} ms (3 intervals of ${intervalMs} ms)`));
  }

  /**
   * On the gRPC port, heartbeats are answered the moment they are decoded, their acknowledgement
   * written straight to the call: no queue, no promise per frame, no trip through the stream's
   * generators. Elsewhere (the HTTP port) the frame pump answers them as it reads them.
   */
  private answerHeartbeatsOnArrival(requests: AsyncIterable<ConnectRequest>): void {
    if (!takesOnArrival<ConnectRequest, Outgoing>(requests)) return;
    requests.takeOnArrival((request, respond) => {
      if (request.frame.case !== 'heartbeat') return false;
      // The session is ending: its stream takes no more frames.
      if (!this.out.isClosed) onHeartbeat(this, request.frame.value, respond);
      return true;
    });
  }

  private async rememberSeen(): Promise<void> {
    const record = this.record;
    if (!record) return;
    try {
      await this.store.recordSeen(this.link.id, {
        at: Date.now(),
        machineId: record.machineId,
        hostname: record.hostname,
        os: record.os,
        arch: record.arch,
        agentVersion: record.agentVersion,
        capabilitiesJson: toJson(CapabilitiesSchema, record.capabilities),
      });
    } catch (error) {
      this.log.error({ err: error }, 'cannot store when the link was last seen');
    }
  }

  private async end(record: PresenceRecord): Promise<void> {
    this.welcomed = false;
    // Also when superseded: the newer session's adoption is a compare-and-set on the epoch, so
    // whichever comes first, the runs it adopts are attached and the rest wait out the grace.
    await this.services.detachRuns(record.linkId, record.epoch);
    await this.rememberSeen();
    await this.presence.release();
    this.log.info({ epoch: String(record.epoch) }, 'link session ended');
  }
}
