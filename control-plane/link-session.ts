/**
 * The server side of one agent's `LinkService.Connect` stream, from Hello to the end.
 *
 *   agent frames ──▶ reader ──▶ heartbeat watchdog / capabilities ──▶ registry
 *                      │                                             │
 *                      ▼                                             ▼ (a newer epoch of this link)
 *   agent ◀── outgoing channel ◀── Welcome, HeartbeatAck, Drain, Shutdown, SUPERSEDED
 *
 * The session ends when the agent says Goodbye or closes its side, when it misses three heartbeat
 * intervals (UNAVAILABLE HEARTBEAT_MISSED), when a newer session of the same link takes over
 * (ABORTED SUPERSEDED), or when the call is cancelled. Whatever ends it, its presence record is
 * released (only if it is still the live one) and the link's last-seen time is stored.
 */
import { create, toBinary, toJson, type MessageInitShape } from '@bufbuild/protobuf';
import type { HandlerContext } from '@connectrpc/connect';
import { Channel } from '../common/channel.js';
import { checkLength, Code, linkError, Reason, reasonOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from '../common/protocol.js';
import {
  type ConnectRequest,
  type ConnectResponseSchema,
  type Hello,
  SandboxRequestSchema,
} from '../gen/link/v1/link_service_pb.js';
import { CapabilitiesSchema, type Capabilities } from '../gen/link/v1/types_pb.js';
import { newId, newToken, type LinkControl, type LinkRecord, type Store } from './store/store.js';
import type { RunStore } from './runs/run-store.js';
import { LostRunSweep } from './runs/lost-run-sweep.js';
import type { SandboxStore } from './sandboxes/sandbox-store.js';
import { SetupGate } from './setup-gate.js';
import type { ServerMetrics } from './metrics.js';
import { RunPayloadSchema, RunStatus } from '../gen/link/v1/run_pb.js';
import { signDispatch } from '../common/dispatch.js';
import { randomBytes } from 'node:crypto';
import type { PresenceClaim, PresenceRecord, Registry } from './registry/registry.js';

type Outgoing = MessageInitShape<typeof ConnectResponseSchema>;

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

/**
 * The replica's live sessions. Drain asks every agent to reconnect elsewhere; the server closes
 * when the set is empty (or its grace period runs out).
 */
export class LinkSessionHub {
  private readonly sessions = new Set<LinkSession>();
  private draining = false;
  private emptied: (() => void) | undefined;
  private readonly stopListening: (() => void)[] = [];
  private readonly setupGate: SetupGate;

  constructor(
    private readonly registry: Registry,
    private readonly store: Store,
    private readonly runs: RunStore,
    private readonly sandboxes: SandboxStore,
    private readonly options: LinkSessionOptions,
    private readonly log: Logger,
    readonly metrics?: ServerMetrics,
  ) {
    this.setupGate = new SetupGate(options.maxConcurrentSetups ?? 128, options.maxQueuedSetups ?? 2048);
    // Disconnect, revoke, new runs, cancels and sandbox operations reach the replica that holds the session through
    // Postgres NOTIFY; replicas never call each other.
    this.stopListening.push(
      store.onLinkControl((message) => this.control(message)),
      runs.onRunQueued(({ linkId }) => this.forLink(linkId, (session) => session.dispatchPending())),
      runs.onRunCancel(({ runId, linkId }) => this.forLink(linkId, (session) => session.cancel(runId))),
      sandboxes.onOpQueued((linkId) => this.forLink(linkId, (session) => session.sendSandboxOps())),
    );
    // Every replica sweeps, so the runs of a replica that died are failed too.
    this.lostRuns = new LostRunSweep(registry, runs, options.linkLostGraceMs, log, (linkId, epoch) => this.holds(linkId, epoch));
    this.lostRuns.start();
  }

  private readonly lostRuns: LostRunSweep;

  /** True when this replica has the live session `epoch` of the link. */
  private holds(linkId: string, epoch: bigint): boolean {
    for (const session of this.sessions) if (session.linkId === linkId && session.live && session.heldEpoch === epoch) return true;
    return false;
  }

  private forLink(linkId: string, act: (session: LinkSession) => void): void {
    for (const session of this.sessions) if (session.linkId === linkId && session.live) act(session);
  }

  /**
   * A session of `linkId` (epoch) ended: its unfinished runs are detached now, and fail LINK_LOST
   * one grace period later unless a newer session adopts them (the sweep of any replica does it).
   * If Postgres cannot be reached now, the sweep stamps them once the session is gone from the registry.
   */
  async detachRuns(linkId: string, epoch: bigint): Promise<void> {
    try {
      const detached = await this.runs.detachRuns(linkId, epoch);
      if (detached.length > 0) this.log.info({ linkId, epoch: String(epoch), runs: detached }, 'the session ended: its runs wait for the machine to come back');
    } catch (error) {
      this.log.warn({ err: error, linkId }, 'cannot mark the runs of an ended session; the lost-run sweep will');
    }
  }

  private control(message: LinkControl): void {
    if (message.type === 'changed') return;
    if (message.type === 'user_disabled') {
      for (const session of this.sessions) if (session.userId === message.userId) session.userDisabled();
      return;
    }
    for (const session of this.sessions) {
      if (session.linkId !== message.linkId) continue;
      if (message.type === 'shutdown') session.shutdown(message.reason || 'the link was disconnected from the web page');
      else if (message.type === 'rotate') session.rotateToken();
      else session.revoked();
    }
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Waits for a turn to set a session up (see SetupGate); resolves with the function that gives it back. */
  admitSetup(signal: AbortSignal): Promise<() => void> {
    return this.setupGate.admit(signal);
  }

  /** Runs one session; the returned frames are the server's side of the stream. */
  run(link: LinkRecord, requests: AsyncIterable<ConnectRequest>, ctx: HandlerContext): AsyncIterable<Outgoing> {
    const session = new LinkSession(link, this.registry, this.store, this.runs, this.sandboxes, this, this.options, this.log.child({ linkId: link.id }));
    const hub = this;
    return (async function* () {
      if (hub.draining) {
        throw linkError(Code.Unavailable, Reason.Draining, 'this control-plane replica is shutting down; connect again', {
          retry: 'true',
        });
      }
      hub.sessions.add(session);
      hub.metrics?.sessionsOpened.inc();
      let reason = 'CLOSED';
      try {
        yield* session.run(requests, ctx);
      } catch (error) {
        reason = reasonOf(error) ?? 'ERROR';
        throw error;
      } finally {
        hub.metrics?.sessionsClosed.inc({ reason });
        hub.sessions.delete(session);
        if (hub.sessions.size === 0) hub.emptied?.();
      }
    })();
  }

  /**
   * Stops taking sessions and sends Drain to every live one, then waits until all have ended or
   * `graceMs` passed. Returns how many were still open at the end.
   */
  async drain(reason: string, reconnectAfterMs: number, graceMs: number): Promise<number> {
    this.draining = true;
    for (const stop of this.stopListening.splice(0)) stop();
    this.lostRuns.stop();
    for (const session of this.sessions) session.send({ frame: { case: 'drain', value: { reason, reconnectAfterMs } } });
    if (this.sessions.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.emptied = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.sessions.size;
  }
}

class LinkSession {
  private readonly out = new Channel<Outgoing>();
  private record: PresenceRecord | undefined;
  private lastHeartbeatAt = Date.now();
  private capacity = 1;
  private dispatching: Promise<void> = Promise.resolve();
  private superseded = false;
  private welcomed = false;
  /** A token rotation asked for before the Welcome went out. */
  private rotateOnWelcome = false;

  constructor(
    private readonly link: LinkRecord,
    private readonly registry: Registry,
    private readonly store: Store,
    private readonly runs: RunStore,
    private readonly sandboxes: SandboxStore,
    private readonly hub: LinkSessionHub,
    private readonly options: LinkSessionOptions,
    private readonly log: Logger,
  ) {}

  /** Welcomed and not yet ended: it may be sent runs. */
  get live(): boolean {
    return this.welcomed && !this.out.isClosed;
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

  private epoch(): bigint {
    if (!this.record) throw new Error('no session epoch before Hello');
    return this.record.epoch;
  }

  /**
   * Claims the link's queued runs up to the agent's capacity and sends each as a signed
   * DispatchRun. Calls are serialized, so a burst of notifications dispatches each run once.
   */
  dispatchPending(): void {
    this.dispatching = this.dispatching.then(async () => {
      // A superseded session's agent is reconnected elsewhere: what it claimed would only wait out the grace.
      if (!this.live || this.superseded) return;
      try {
        const claimed = await this.runs.claimQueued(this.link.id, this.epoch(), this.capacity);
        if (claimed.length === 0) return;
        const { privateKey } = await this.store.dispatchKey();
        for (const run of claimed) {
          const payload = toBinary(
            RunPayloadSchema,
            create(RunPayloadSchema, {
              runId: run.id,
              threadId: run.thread_id ?? '',
              harness: run.harness,
              prompt: run.prompt,
              model: run.model,
              resumeSessionId: run.resume_session_id,
              sandbox: run.sandbox ?? undefined,
            }),
          );
          const fields = { runId: run.id, linkId: this.link.id, sessionEpoch: this.epoch(), issuedAtMs: BigInt(Date.now()), nonce: randomBytes(16), payload };
          this.send({ frame: { case: 'dispatchRun', value: { ...fields, signature: signDispatch(fields, privateKey) } } });
          this.hub.metrics?.dispatchLatency.observe(Math.max(0, Date.now() - run.created_at.getTime()) / 1000);
          this.log.info({ runId: run.id, harness: run.harness }, 'run dispatched');
        }
      } catch (error) {
        this.log.error({ err: error }, 'dispatching runs failed');
      }
    });
  }

  /** Sends the link's queued sandbox operations (claimed, so each goes out once). */
  sendSandboxOps(): void {
    if (!this.live) return;
    void this.sandboxes
      .claimOps(this.link.id)
      .then(async (ops) => {
        if (ops.length === 0) return;
        // Signed like a dispatch: the machine changes its sandboxes only on its own control plane's word.
        const { privateKey } = await this.store.dispatchKey();
        for (const op of ops) {
          const request = toBinary(SandboxRequestSchema, op);
          const fields = { runId: op.opId, linkId: this.link.id, sessionEpoch: this.epoch(), issuedAtMs: BigInt(Date.now()), nonce: randomBytes(16), payload: request };
          const signed = { request, opId: op.opId, linkId: fields.linkId, sessionEpoch: fields.sessionEpoch, issuedAtMs: fields.issuedAtMs, nonce: fields.nonce };
          this.send({ frame: { case: 'signedSandboxRequest', value: { ...signed, signature: signDispatch(fields, privateKey, 'sandbox') } } });
        }
      })
      .catch((error) => this.log.error({ err: error }, 'sending sandbox operations failed'));
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

  /** Tells the agent to stop a run. */
  cancel(runId: string): void {
    if (!this.live) return;
    this.send({ frame: { case: 'cancelRun', value: { runId, reason: 'cancelled by the user' } } });
  }

  /** Tells the agent to stop for good (DisconnectLink), then ends the stream. */
  shutdown(reason: string): void {
    this.log.info({ reason }, 'telling the agent to stop');
    this.send({ frame: { case: 'shutdown', value: { reason } } });
    this.out.close();
  }

  /** The link was revoked: the session ends now, and the agent learns its token is gone. */
  revoked(): void {
    this.log.info('link revoked; ending its session');
    this.out.close(linkError(Code.Unauthenticated, Reason.LinkRevoked, 'this link was revoked; pair the machine again with `linkd login`'));
  }

  /** An admin disabled the link's user: the session ends now, and the agent learns why. */
  userDisabled(): void {
    this.log.info("the link's user was disabled; ending its session");
    this.out.close(
      linkError(Code.Unauthenticated, Reason.UserDisabled, 'the account this machine is paired with was disabled by an admin; ask them to enable it, then start linkd again'),
    );
  }

  async *run(requests: AsyncIterable<ConnectRequest>, ctx: HandlerContext): AsyncGenerator<Outgoing> {
    const frames = requests[Symbol.asyncIterator]();
    const onAbort = () => this.out.close();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    let watchdog: NodeJS.Timeout | undefined;
    let stopWatch: (() => void) | undefined;
    let endSetup: (() => void) | undefined;
    try {
      const hello = await this.readHello(frames, ctx.signal);
      if (!hello) return;
      endSetup = await this.hub.admitSetup(ctx.signal);
      // The agent may have given up while this session waited its turn: then claiming would only
      // supersede the attempt it made next.
      if (ctx.signal.aborted) return;
      if (!this.registry.isReady()) {
        throw linkError(Code.Unavailable, Reason.RegistryUnavailable, 'the link registry is unreachable; connect again shortly', {
          retry: 'true',
        });
      }
      // Watch before claiming, so a newer session that claims right after us is never missed.
      stopWatch = this.registry.watchLink(this.link.userId, this.link.id, (event) => {
        const mine = this.record;
        if (!mine || event.type !== 'put') return;
        if (event.record.epoch > mine.epoch) {
          this.log.info({ epoch: String(mine.epoch), newer: String(event.record.epoch) }, 'session superseded');
          this.superseded = true;
          this.out.close(
            linkError(Code.Aborted, Reason.Superseded, 'a newer session of this link connected; this one is closed', {
              newer_replica: event.record.replicaId,
              newer_instance: event.record.instanceId,
            }),
          );
        }
      });
      this.record = await this.claim({
        userId: this.link.userId,
        linkId: this.link.id,
        replicaId: this.registry.replicaId,
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
        this.runs.adoptRuns(this.link.id, this.record.epoch, hello.heldRuns.map((r) => r.runId)),
        this.rememberSeen(),
      ]);
      if (failed.length > 0) this.log.warn({ runs: failed }, 'the agent came back without these runs: AGENT_RESTARTED');
      const unfinished = hello.heldRuns.filter((r) => !r.finished && cursors.has(r.runId)).map((r) => r.runId);
      if (unfinished.length > 0) {
        this.record = { ...this.record, runningRunIds: unfinished };
        await this.registry.update(this.record).catch((error) => this.log.warn({ err: error }, 'cannot record the adopted runs in the registry'));
      }
      const { publicKey, chain } = await this.store.dispatchKey();
      this.log.info({ epoch: String(this.record.epoch), hostname: hello.hostname }, 'link connected');
      if (hello.dispatchKeyMissing) this.log.warn('the agent has no dispatch key pinned at pairing: it refuses every run until paired again');
      this.send({
        frame: {
          case: 'welcome',
          value: {
            linkId: this.link.id,
            sessionEpoch: this.record.epoch,
            heartbeatIntervalMs: this.options.heartbeatIntervalMs,
            replicaId: this.registry.replicaId,
            protocolVersion: PROTOCOL_VERSION,
            dispatchPublicKey: publicKey,
            // Only a rotated key needs its chain: an agent pinned to an older key follows it.
            dispatchKeyChain: chain.length > 1 ? chain : [],
            runCursors: [...cursors].map(([runId, lastPersistedSeq]) => ({ runId, lastPersistedSeq })),
          },
        },
      });
      this.welcomed = true;
      endSetup();
      if (this.rotateOnWelcome) {
        this.rotateOnWelcome = false;
        this.rotateToken();
      }
      this.dispatchPending();
      this.sendSandboxOps();
      for (const run of await this.runs.pendingCancels(this.link.id)) this.cancel(run.id);
      this.lastHeartbeatAt = Date.now();
      watchdog = setInterval(() => this.checkHeartbeat(), Math.max(10, Math.floor(this.options.heartbeatIntervalMs / 2)));
      void this.readFrames(frames);
      yield* this.out;
    } finally {
      endSetup?.();
      ctx.signal.removeEventListener('abort', onAbort);
      clearInterval(watchdog);
      stopWatch?.();
      this.out.close();
      void frames.return?.()?.catch(() => undefined);
      if (this.record) await this.end(this.record);
    }
  }

  /** Keeps the presence record's running runs current (a write only when the set changes). */
  private async setRunning(runId: string, running: boolean): Promise<void> {
    const record = this.record;
    if (!record || record.runningRunIds.includes(runId) === running) return;
    const updated = { ...record, runningRunIds: running ? [...record.runningRunIds, runId] : record.runningRunIds.filter((id) => id !== runId) };
    this.record = updated;
    const live = await this.registry.update(updated).catch((error) => {
      this.hub.metrics?.registryErrors.inc();
      this.log.warn({ err: error }, 'cannot update the running runs in the registry');
      return true;
    });
    if (!live) this.log.info('the presence record is no longer this session\'s');
  }

  /** Claims presence; a registry that fails here (etcd unreachable) is UNAVAILABLE: agents retry. */
  private async claim(claim: PresenceClaim): Promise<PresenceRecord> {
    try {
      return await this.registry.claim(claim);
    } catch (cause) {
      this.hub.metrics?.registryErrors.inc();
      this.log.warn({ err: cause }, 'cannot claim presence');
      throw linkError(Code.Unavailable, Reason.RegistryUnavailable, 'the link registry is unreachable; connect again shortly', { retry: 'true' }, cause);
    }
  }

  private async readHello(frames: AsyncIterator<ConnectRequest>, signal: AbortSignal): Promise<Hello | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            linkError(Code.DeadlineExceeded, Reason.HelloTimeout, `no Hello within ${this.options.helloTimeoutMs} ms of connecting`),
          ),
        this.options.helloTimeoutMs,
      );
    });
    const aborted = new Promise<IteratorResult<ConnectRequest>>((resolve) =>
      signal.addEventListener('abort', () => resolve({ done: true, value: undefined }), { once: true }),
    );
    try {
      const first = await Promise.race([frames.next(), timeout, aborted]);
      if (first.done) return undefined;
      if (first.value.frame.case !== 'hello') {
        throw linkError(Code.InvalidArgument, Reason.HelloRequired, `the first frame must be Hello, got ${first.value.frame.case ?? 'an empty frame'}`, {
          frame: first.value.frame.case ?? '',
        });
      }
      const hello = first.value.frame.value;
      validateHello(hello);
      return hello;
    } finally {
      clearTimeout(timer);
    }
  }

  private async readFrames(frames: AsyncIterator<ConnectRequest>): Promise<void> {
    try {
      for (;;) {
        const next = await frames.next();
        if (next.done) {
          this.log.info('agent closed the session');
          this.out.close();
          return;
        }
        await this.handle(next.value);
      }
    } catch (error) {
      this.out.close(error);
    }
  }

  private async handle(request: ConnectRequest): Promise<void> {
    const frame = request.frame;
    switch (frame.case) {
      case 'heartbeat':
        this.hub.metrics?.heartbeats.inc();
        this.lastHeartbeatAt = Date.now();
        this.send({ frame: { case: 'heartbeatAck', value: { seq: frame.value.seq } } });
        return;
      case 'capabilitiesChanged': {
        const record = this.record;
        if (!record) return;
        const capabilities = frame.value.capabilities ?? create(CapabilitiesSchema);
        validateCapabilities(capabilities);
        const updated = { ...record, capabilities };
        const stillLive = await this.registry.update(updated).catch((cause) => {
          this.hub.metrics?.registryErrors.inc();
          throw linkError(Code.Unavailable, Reason.RegistryUnavailable, 'the link registry is unreachable; connect again shortly', { retry: 'true' }, cause);
        });
        if (!stillLive) {
          throw linkError(Code.Aborted, Reason.Superseded, 'a newer session of this link connected; this one is closed');
        }
        this.record = updated;
        this.log.info('capabilities changed');
        return;
      }
      case 'goodbye':
        this.log.info({ reason: frame.value.reason }, 'agent said goodbye');
        this.out.close();
        return;
      case 'runAccepted':
        if (await this.runs.markRunning(frame.value.runId, this.link.id, this.epoch())) {
          this.log.info({ runId: frame.value.runId }, 'run accepted');
          await this.setRunning(frame.value.runId, true);
        }
        return;
      case 'runRejected': {
        const { runId, reason, message } = frame.value;
        checkLength('run_rejected.reason', reason, 64);
        this.log.warn({ runId, reason }, 'the agent refused a run');
        await this.runs.finish(runId, RunStatus.FAILED, reason || 'REJECTED', message.slice(0, 1024) || 'the agent refused the run');
        this.dispatchPending();
        return;
      }
      case 'runEvents': {
        const { runId, events } = frame.value;
        if (events.length === 0) return;
        const stored = await this.runs.appendEvents(runId, this.link.id, this.epoch(), events);
        if (!stored.ok) {
          this.log.warn({ runId, why: stored.why }, 'refusing run events');
          return;
        }
        this.log.debug({ runId, from: String(events[0].seq), to: String(events[events.length - 1].seq), acked: String(stored.acked) }, 'run events stored');
        this.send({ frame: { case: 'eventsAck', value: { runId, ackedSeq: stored.acked } } });
        if (stored.finished) {
          await this.setRunning(runId, false);
          this.dispatchPending();
        }
        return;
      }
      case 'tokenRotated':
        checkLength('token_rotated.rotation_id', frame.value.rotationId, 64);
        if (await this.store.completeTokenRotation(this.link.id, this.options.tokenGraceMs ?? 10 * 60_000)) {
          this.log.info({ rotationId: frame.value.rotationId }, 'link token rotated');
        }
        return;
      case 'sandboxReply':
        checkLength('sandbox_reply.op_id', frame.value.opId, 64, 1);
        await this.sandboxes.reply(this.link.id, frame.value);
        return;
      case 'hello':
        throw linkError(Code.InvalidArgument, Reason.UnexpectedFrame, 'Hello may only be the first frame', { frame: 'hello' });
      default:
        throw linkError(Code.InvalidArgument, Reason.UnexpectedFrame, 'empty or unknown frame', { frame: frame.case ?? '' });
    }
  }

  private checkHeartbeat(): void {
    const silentFor = Date.now() - this.lastHeartbeatAt;
    if (silentFor > 3 * this.options.heartbeatIntervalMs) {
      this.log.warn({ silentForMs: silentFor }, 'heartbeats missed; closing the session');
      this.out.close(
        linkError(Code.Unavailable, Reason.HeartbeatMissed, `no heartbeat for ${silentFor} ms (3 intervals of ${this.options.heartbeatIntervalMs} ms)`),
      );
    }
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
    await this.hub.detachRuns(record.linkId, record.epoch);
    await this.rememberSeen();
    try {
      await this.registry.release(record.userId, record.linkId, record.epoch);
    } catch (error) {
      this.log.error({ err: error }, 'cannot release presence; it goes when the replica lease expires');
    }
    this.log.info({ epoch: String(record.epoch) }, 'link session ended');
  }
}

function validateHello(hello: Hello): void {
  if (hello.protocolVersion < MIN_PROTOCOL_VERSION || hello.protocolVersion > PROTOCOL_VERSION) {
    const tooOld = hello.protocolVersion < MIN_PROTOCOL_VERSION;
    throw linkError(
      Code.FailedPrecondition,
      Reason.ProtocolMismatch,
      tooOld
        ? `linkd speaks protocol ${hello.protocolVersion}, this server needs ${MIN_PROTOCOL_VERSION} to ${PROTOCOL_VERSION}: upgrade linkd`
        : `linkd speaks protocol ${hello.protocolVersion}, newer than this server's ${PROTOCOL_VERSION}: upgrade the control plane`,
      {
        agent_protocol: String(hello.protocolVersion),
        min_protocol: String(MIN_PROTOCOL_VERSION),
        max_protocol: String(PROTOCOL_VERSION),
        upgrade: tooOld ? 'linkd' : 'link-server',
      },
    );
  }
  checkLength('hello.machine_id', hello.machineId, 64, 1);
  checkLength('hello.instance_id', hello.instanceId, 64, 1);
  checkLength('hello.hostname', hello.hostname, 255);
  checkLength('hello.os', hello.os, 32);
  checkLength('hello.arch', hello.arch, 32);
  checkLength('hello.agent_version', hello.agentVersion, 64);
  if (hello.heldRuns.length > 256) {
    throw linkError(Code.InvalidArgument, Reason.InvalidField, 'hello.held_runs has more than 256 entries', { field: 'hello.held_runs' });
  }
  if (hello.capabilities) validateCapabilities(hello.capabilities);
}

function validateCapabilities(capabilities: Capabilities): void {
  const tooMany = (field: string, count: number, max: number) => {
    if (count > max) {
      throw linkError(Code.InvalidArgument, Reason.InvalidField, `${field} has more than ${max} entries`, { field });
    }
  };
  tooMany('capabilities.harnesses', capabilities.harnesses.length, 16);
  tooMany('capabilities.sandbox_providers', capabilities.sandboxProviders.length, 8);
  tooMany('capabilities.tools', capabilities.tools.length, 16);
  for (const harness of capabilities.harnesses) {
    checkLength('capabilities.harnesses.name', harness.name, 64);
    checkLength('capabilities.harnesses.version', harness.version, 128);
    checkLength('capabilities.harnesses.executable', harness.executable, 4096);
    checkLength('capabilities.harnesses.detail', harness.detail, 1024);
  }
  for (const provider of capabilities.sandboxProviders) checkLength('capabilities.sandbox_providers.detail', provider.detail, 1024);
  for (const tool of capabilities.tools) {
    checkLength('capabilities.tools.name', tool.name, 64);
    checkLength('capabilities.tools.version', tool.version, 128);
  }
  tooMany('capabilities.workspaces', capabilities.workspaces.length, 64);
  checkLength('capabilities.workspace_add_command', capabilities.workspaceAddCommand, 4096);
  tooMany('capabilities.repositories', capabilities.repositories.length, 200);
  for (const workspace of capabilities.workspaces) checkLength('capabilities.workspaces', workspace, 4096);
  for (const repository of capabilities.repositories) {
    checkLength('capabilities.repositories.path', repository.path, 4096);
    checkLength('capabilities.repositories.name', repository.name, 255);
    checkLength('capabilities.repositories.current_branch', repository.currentBranch, 255);
    checkLength('capabilities.repositories.default_branch', repository.defaultBranch, 255);
  }
  const max = capabilities.capacity?.maxConcurrentRuns ?? 1;
  if (max > 64) {
    throw linkError(Code.InvalidArgument, Reason.InvalidField, 'capabilities.capacity.max_concurrent_runs must be at most 64', {
      field: 'capabilities.capacity.max_concurrent_runs',
    });
  }
}
