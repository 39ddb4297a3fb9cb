/**
 * linkd's runs: verifies each DispatchRun, runs the harness, streams its events back in batches,
 * and keeps running across reconnects (a session comes and goes; the runs stay).
 *
 *   DispatchRun ─▶ admitDispatch (admission.ts: signature, payload, harness, capacity) ─▶ RunAccepted ─▶ HarnessProcess
 *                                                                                   │ events
 *   RunEvents ◀── flush (at the turn's end when none in flight, else at its ack) ◀── RunOutbox (seq, until acked) ◀┘
 *
 * Unacknowledged events are bounded in bytes: past the bound, the harnesses' output is no longer
 * read (the CLIs block on their pipes) until acknowledgements free room. Nothing is dropped.
 *
 * Only the dispatch key pinned at pairing is trusted, never the one a session announces: without a
 * pin every dispatch is refused NO_KEY; a server key that does not follow from the pin through its
 * endorsed chain is refused KEY_MISMATCH. A verified chain moves the pin (and `onKeyMoved` saves it).
 * Refusals are `DispatchRefusal`s and run failures `RunFailure`s (common/reasons.ts); the process
 * groups of running harnesses are recorded by process-groups.ts.
 */
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fromBinary, type MessageInitShape } from '@bufbuild/protobuf';
import type { KeyObject } from 'node:crypto';
import { checkDispatch, MAX_DISPATCH_SKEW_MS, type DispatchFields, type DispatchVerdict, type KeyEndorsement, type SignedKind } from '../../common/dispatch.js';
import { DispatchTrust, type DispatchKeyState } from './dispatch-trust.js';
import type { Logger } from '../../common/log.js';
import { MAX_MESSAGE_BYTES } from '../../common/protocol.js';
import { InteractionAnswerPayloadSchema, type CancelRun, type SignedSteer, type ConnectRequestSchema, type DispatchRun, type EventsAck, type HeldRunSchema, type SignedInteractionAnswer } from '../../gen/link/v1/link_service_pb.js';
import { RunStatus, type RunPayload } from '../../gen/link/v1/run_pb.js';
import type { HarnessAdapter } from '../harnesses/harness.js';
import { HarnessProcess } from '../harnesses/process.js';
import { RunOutbox, type EventInit } from './outbox.js';
import { InteractionBroker } from './interactions.js';
import { admitDispatch } from './admission.js';
import { reapOrphans, recordProcessGroup } from './process-groups.js';
import { receiveSteer, SteerLedger } from './steer.js';
import { inBwrap } from '../sandboxes/bwrap.js';
import { reportSetup } from '../sandboxes/setup.js';
import { RunChangeRecorder } from '../sandboxes/changes.js';
import type { AgentMetrics } from '../metrics.js';
import { SandboxError } from '../../common/sandbox-names.js';
import { Reason, RunFailure, SignatureRefusal, type DispatchRefusal, type StopReason } from '../../common/reasons.js';
import type { SandboxInfo, SandboxKeeper } from '../sandboxes/sandboxes.js';

type Frame = MessageInitShape<typeof ConnectRequestSchema>;

export interface RunSupervisorOptions {
  dataDir: string;
  log: Logger;
  adapters: Map<string, HarnessAdapter>;
  sandboxes: SandboxKeeper;
  /** Harnesses installed here (from the probe). */
  installed: () => Set<string>;
  maxConcurrentRuns: number;
  /**
   * The raw Ed25519 key `linkd login` pinned (link.json). The only key trusted, directly or through
   * an endorsed chain from it; without it every dispatch is refused NO_KEY.
   */
  trustedKey?: Uint8Array;
  /**
   * Called when a session's verified key chain moved the pin to a new key: the caller saves it
   * (atomically) where `trustedKey` comes from, so the next start trusts the new key.
   */
  onKeyMoved?: (key: Uint8Array) => Promise<void>;
  env?: NodeJS.ProcessEnv;
  idleTimeoutMs?: number;
  stopGraceMs?: number;
  /** Bound on unacknowledged event bytes, all runs together. */
  outboxLimitBytes?: number;
  metrics?: AgentMetrics;
}

interface ActiveRun {
  id: string;
  payload: RunPayload;
  outbox: RunOutbox;
  process?: HarnessProcess;
  /** What the CLI asks and the user answers (agent/runs/interactions.ts). */
  interactions: InteractionBroker;
  finished: boolean;
  /** Set by a cancel that came before the process existed (a tombstone): it never starts, or stops at once. */
  cancelled?: StopReason;
  /** A flush is queued for the end of the current turn (`flushSoon`). */
  flushQueued?: boolean;
  /** Its output is not read until its batch in flight is acknowledged (its outbox is `full`). */
  waiting?: boolean;
}

interface Session {
  send: (frame: Frame) => void;
  linkId: string;
  epoch: bigint;
  key: KeyObject | undefined;
}

/** Supervises this machine's runs: admits dispatches, runs them, streams their events, stops them. */
export class RunSupervisor {
  private readonly runs = new Map<string, ActiveRun>();
  private readonly seenNonces = new Map<string, number>();
  private session: Session | undefined;
  private paused = false;
  private draining = false;
  private readonly trust: DispatchTrust;
  /** The steered messages of every run, each applied at most once (agent/runs/steer.ts). */
  private readonly steers = new SteerLedger();

  constructor(private readonly options: RunSupervisorOptions) {
    this.trust = new DispatchTrust(options.trustedKey, options.log, options.onKeyMoved);
  }

  /** Whether dispatches can be verified (for Hello, `linkd status`); as of the last Welcome. */
  get dispatchKey(): DispatchKeyState {
    return this.trust.state;
  }

  /**
   * Whether the welcomed session's control plane holds the key pinned at pairing (or one its
   * endorsed chain leads to). A session that does not is not this machine's control plane: linkd
   * then takes no orders from it that would change the machine (token, stop, cancel).
   */
  get sessionTrusted(): boolean {
    return this.session?.key !== undefined;
  }

  /**
   * Stops the process groups of runs a previous linkd left behind (it was killed before it could
   * stop them): nothing of a run outlives the agent that ran it. Call once at start.
   */
  reapOrphans(): Promise<string[]> {
    return reapOrphans(this.options.dataDir, this.options.log);
  }

  /** The runs this agent holds, for Hello. */
  held(): MessageInitShape<typeof HeldRunSchema>[] {
    return [...this.runs.values()].map((run) => ({ runId: run.id, lastSeqSent: run.outbox.last, finished: run.finished }));
  }

  /** Whether an unfinished run executes in the sandbox. */
  usesSandbox(handle: string): boolean {
    return [...this.runs.values()].some((r) => !r.finished && r.payload.sandbox?.handle === handle);
  }

  /** Bytes of events not yet acknowledged, all runs together. */
  get outboxBytes(): number {
    let bytes = 0;
    for (const run of this.runs.values()) bytes += run.outbox.bytes;
    return bytes;
  }

  get runningCount(): number {
    return [...this.runs.values()].filter((r) => !r.finished).length;
  }

  /** A session was welcomed: send it what the control plane does not have yet. */
  attach(
    send: (frame: Frame) => void,
    welcome: { linkId: string; epoch: bigint; dispatchKey: Uint8Array; chain?: KeyEndorsement[]; cursors: Map<string, bigint> },
  ): void {
    this.session = { send, linkId: welcome.linkId, epoch: welcome.epoch, key: this.trust.forSession(welcome.dispatchKey, welcome.chain ?? []) };
    for (const run of this.runs.values()) {
      const stored = welcome.cursors.get(run.id);
      if (stored === undefined) {
        // The control plane no longer tracks it (it ended the run itself, e.g. LINK_LOST): stop and forget it.
        if (!run.finished) void this.stopRun(run, RunFailure.LinkLost);
        this.runs.delete(run.id);
        continue;
      }
      run.outbox.resend(stored ?? 0n);
    }
    this.flush();
  }

  /**
   * The session ended: keep everything, send nothing until the next one. Output is read on
   * meanwhile (up to the outbox's bound in bytes): nothing is in flight to wait for.
   */
  detach(): void {
    this.session = undefined;
    for (const run of this.runs.values()) this.stopWaiting(run);
  }

  /**
   * Judges a signed operation other than a run (a sandbox request) by the rules of a dispatch —
   * pinned key, signature under its own domain, link, session, age, nonce — and records its nonce
   * when it passes. Without a welcomed session nothing passes.
   */
  checkSigned(fields: DispatchFields, signature: Uint8Array, kind: SignedKind): DispatchVerdict {
    const session = this.session;
    if (!session) return { kind: 'refuse', reason: SignatureRefusal.WrongSession, message: 'no session is welcomed' };
    this.forgetOldNonces();
    const verdict = checkDispatch(fields, signature, this.verifyContext(session, false), kind);
    if (verdict.kind === 'accept') this.seenNonces.set(verdict.nonceHex, Date.now());
    return verdict;
  }

  private verifyContext(session: NonNullable<RunSupervisor['session']>, knownRun: boolean) {
    return {
      key: session.key,
      keyProblem: this.trust.state.state === 'mismatch' ? { reason: SignatureRefusal.KeyMismatch, message: this.trust.state.message } : undefined,
      linkId: session.linkId,
      epoch: session.epoch,
      nowMs: Date.now(),
      knownRun,
      nonceSeen: (nonce: string) => this.seenNonces.has(nonce),
    };
  }

  async dispatch(d: DispatchRun): Promise<void> {
    const session = this.session;
    if (!session) return;
    const reject = (reason: DispatchRefusal, message: string) => {
      this.options.log.warn({ runId: d.runId, reason }, `refusing a dispatch: ${message}`);
      session.send({ frame: { case: 'runRejected', value: { runId: d.runId, reason, message } } });
    };
    this.forgetOldNonces();
    const admission = admitDispatch(d, {
      signature: this.verifyContext(session, this.runs.has(d.runId)),
      draining: this.draining,
      checkSandbox: (spec) => this.options.sandboxes.check(spec),
      adapters: this.options.adapters,
      installed: this.options.installed(),
      running: this.runningCount,
      maxConcurrentRuns: this.options.maxConcurrentRuns,
    });
    if (admission.kind === 'refuse') return reject(admission.reason, admission.message);
    if (admission.kind === 'resend') {
      // Idempotent: the same run again (a resend) is acknowledged, never started twice.
      session.send({ frame: { case: 'runAccepted', value: { runId: d.runId } } });
      return;
    }
    this.seenNonces.set(admission.nonceHex, Date.now());
    const { payload, adapter } = admission;
    const interactions = new InteractionBroker({
      mode: payload.permissionMode,
      rules: payload.allowRules,
      emit: (event) => this.emit(run, event),
      onWaiting: (waiting) => run.process?.holdIdle(waiting),
    });
    const run: ActiveRun = { id: d.runId, payload, outbox: new RunOutbox(), interactions, finished: false };
    this.runs.set(run.id, run);
    session.send({ frame: { case: 'runAccepted', value: { runId: run.id } } });
    await this.start(run, adapter);
  }

  private async start(run: ActiveRun, adapter: HarnessAdapter): Promise<void> {
    const emit = (event: EventInit) => this.emit(run, event);
    const fail = (code: string, message: string, reason: RunFailure) => {
      emit({ event: { case: 'error', value: { code, message } } });
      emit({ event: { case: 'done', value: { status: RunStatus.FAILED, failureReason: reason, exitCode: -1 } } });
    };
    let cwd: string;
    let sandbox: SandboxInfo | undefined;
    const spec = run.payload.sandbox;
    try {
      if (spec) {
        // The thread's sandbox, made now if this is its first use (or it was evicted).
        sandbox = await this.options.sandboxes.ensure(spec);
        cwd = sandbox.path;
        // A new worktree's set-up shows in the run that made it; a failed one fails the run.
        if (sandbox.setup && reportSetup(sandbox.setup, emit)) return fail('SETUP_FAILED', `the set-up command \`${sandbox.setup.command}\` failed with exit code ${sandbox.setup.exitCode}`, RunFailure.SetupFailed);
      } else {
        // A control plane that names no sandbox: the thread's own directory.
        cwd = join(this.options.dataDir, 'threads', run.payload.threadId);
        await mkdir(cwd, { recursive: true, mode: 0o700 });
      }
    } catch (error) {
      const reason = error instanceof SandboxError ? error.reason : 'workdir';
      return fail(reason, `cannot prepare the sandbox: ${(error as Error).message}`, RunFailure.SandboxFailed);
    }
    if (run.cancelled) {
      const status = run.cancelled === RunFailure.Interrupted ? RunStatus.INTERRUPTED : RunStatus.CANCELLED;
      emit({ event: { case: 'done', value: { status, failureReason: run.cancelled, exitCode: -1 } } });
      return;
    }
    // git never looks above the sandbox for a repository (a scratch directory is in none).
    const env: NodeJS.ProcessEnv = { ...(this.options.env ?? process.env), GIT_CEILING_DIRECTORIES: dirname(cwd) };
    // In a git sandbox, what the run changed goes out just before its done.
    const changes = sandbox && (await RunChangeRecorder.begin(this.options.sandboxes.root, sandbox, this.options.log.child({ runId: run.id })));
    this.options.log.info({ runId: run.id, harness: adapter.name, cwd, provider: spec?.provider }, 'run started');
    this.options.metrics?.runsStarted.inc({ harness: adapter.name });
    run.process = new HarnessProcess({
      adapter,
      payload: run.payload,
      cwd,
      env,
      emit: changes ? changes.emitter(emit) : emit,
      interactions: run.interactions,
      idleTimeoutMs: run.payload.idleTimeoutMs || this.options.idleTimeoutMs || 30 * 60_000,
      stopGraceMs: this.options.stopGraceMs ?? 5_000,
      wrap:
        spec?.provider === 'bwrap' && sandbox
          ? (command) => inBwrap(command, { sandbox: cwd, mirror: sandbox.mirror, home: env.HOME || homedir(), env })
          : undefined,
    });
    if (this.paused || run.waiting) run.process.pause();
    // Remember the process group until the run ends, so a linkd killed meanwhile can be cleaned up after.
    if (run.process.pid !== undefined) recordProcessGroup(this.options.dataDir, run.id, run.process.pid, spec?.handle ?? '', run.process.exited);
  }

  private stopRun(run: ActiveRun, reason: StopReason): Promise<void> | undefined {
    run.cancelled ??= reason;
    return run.process?.stop(reason);
  }

  private emit(run: ActiveRun, event: EventInit): void {
    run.outbox.add(event);
    this.options.metrics?.events.inc();
    if (event.event?.case === 'done') {
      this.options.metrics?.runsFinished.inc({ status: RunStatus[(event.event.value as { status?: RunStatus }).status ?? 0]?.toLowerCase() ?? 'unknown' });
      run.finished = true;
      this.options.log.info({ runId: run.id }, 'run finished');
    }
    this.applyBackpressure();
    this.flushSoon(run);
    if (!run.waiting && this.session && run.outbox.full) {
      // The store is behind this run's output: the CLI waits (its pipe fills) until the ack.
      run.waiting = true;
      run.process?.pause();
    }
  }

  /**
   * Flushes the run once what the current turn emits is in its outbox: the events a harness emits
   * together (the shell's `started` with its first line, the lines of one read) go in one frame,
   * so the first output does not wait behind a `started` sent alone for that batch's
   * acknowledgement (a store on the control plane). A microtask, not a timer: nothing waits longer.
   */
  private flushSoon(run: ActiveRun): void {
    if (run.flushQueued) return;
    run.flushQueued = true;
    queueMicrotask(() => {
      run.flushQueued = false;
      this.flushRun(run);
    });
  }

  /**
   * Cancels a run: the harness is interrupted, then its process group terminated and killed. With
   * `interrupt`, only the current turn ends, through the CLI's own interrupt (its session kept; the
   * run ends INTERRUPTED); the staged stop follows only if the CLI does not stop in time.
   */
  async cancel(c: CancelRun): Promise<void> {
    const run = this.runs.get(c.runId);
    if (!run || run.finished) return;
    if (c.interrupt) {
      this.options.log.info({ runId: run.id }, 'interrupting a run');
      if (!run.process) {
        run.cancelled ??= RunFailure.Interrupted;
        return;
      }
      return run.process.interrupt();
    }
    this.options.log.info({ runId: run.id }, 'cancelling a run');
    await this.stopRun(run, RunFailure.Cancelled);
  }

  /** A message for a run's running turn, signed like a dispatch (domain `steer`): agent/runs/steer.ts. */
  steer(signed: SignedSteer): void {
    const session = this.session;
    if (!session) return;
    receiveSteer(signed, {
      check: (fields, signature) => this.checkSigned(fields, signature, 'steer'),
      ledger: this.steers,
      target: (runId) => {
        const run = this.runs.get(runId);
        if (!run || run.finished) return undefined;
        return { steerable: this.options.adapters.get(run.payload.harness)?.steerable === true, process: run.process, emit: (event) => this.emit(run, event) };
      },
      ack: (value) => session.send({ frame: { case: 'steerAck', value } }),
      log: this.options.log,
    });
  }


  /**
   * The user's answer to one of a run's interactions, signed by the control plane like a dispatch
   * (domain `answer`). Applied at most once (a resend is acknowledged again); acknowledged so the
   * control plane stops sending it — unless the signature does not verify, when nothing is applied
   * nor acknowledged (a later session re-sends it, signed for that session).
   */
  answer(signed: SignedInteractionAnswer): void {
    const session = this.session;
    if (!session) return;
    const fields = { runId: signed.runId, linkId: signed.linkId, sessionEpoch: signed.sessionEpoch, issuedAtMs: signed.issuedAtMs, nonce: signed.nonce, payload: signed.answer };
    const verdict = this.checkSigned(fields, signed.signature, 'answer');
    if (verdict.kind === 'refuse') {
      this.options.log.warn({ runId: signed.runId, reason: verdict.reason }, `refusing an answer: ${verdict.message}`);
      return;
    }
    let payload;
    try {
      payload = fromBinary(InteractionAnswerPayloadSchema, signed.answer);
    } catch {
      this.options.log.warn({ runId: signed.runId }, 'refusing an answer whose payload does not decode');
      return;
    }
    if (payload.runId !== signed.runId || !payload.answer) {
      this.options.log.warn({ runId: signed.runId }, 'refusing an answer signed for another run');
      return;
    }
    const run = this.runs.get(payload.runId);
    const outcome = run ? run.interactions.answer(payload.interactionId, payload.answer) : { applied: false as const, reason: Reason.RunFinished };
    this.options.log.info({ runId: payload.runId, interactionId: payload.interactionId, ...outcome }, 'answer received');
    session.send({
      frame: {
        case: 'interactionAnswerAck',
        value: { runId: payload.runId, interactionId: payload.interactionId, applied: outcome.applied, reason: outcome.applied ? '' : outcome.reason },
      },
    });
  }

  ack(a: EventsAck): void {
    const run = this.runs.get(a.runId);
    if (!run) return;
    run.outbox.ack(a.ackedSeq);
    if (run.finished && run.outbox.drained) this.runs.delete(run.id);
    this.applyBackpressure();
    // What queued up while the acknowledged batch was out goes now, together.
    this.flushRun(run);
    if (!run.outbox.full) this.stopWaiting(run);
  }

  /** The run's output is read again (unless the outbox's bound in bytes holds every run). */
  private stopWaiting(run: ActiveRun): void {
    if (!run.waiting) return;
    run.waiting = false;
    if (!this.paused) run.process?.resume();
  }

  /** Sends every run's unsent events (a new session: nothing of it is in flight yet). */
  flush(): void {
    for (const run of this.runs.values()) this.flushRun(run);
  }

  /**
   * Nagle without a timer: a run's events go at once when none of its events are in flight, and
   * batch up while a send is outstanding, to go together when its acknowledgement comes. So a
   * lone event waits for nothing, and a burst costs one frame per round trip, not one per event.
   * A batch in flight when the session ends is resent by the next session's `attach`.
   */
  private flushRun(run: ActiveRun): void {
    const session = this.session;
    if (!session || run.outbox.inFlight) return;
    while (run.outbox.hasUnsent) {
      const events = run.outbox.takeUnsent(MAX_MESSAGE_BYTES / 4);
      if (events.length === 0) break;
      session.send({ frame: { case: 'runEvents', value: { runId: run.id, events } } });
    }
  }

  private applyBackpressure(): void {
    const limit = this.options.outboxLimitBytes ?? 8 * 1024 * 1024;
    let bytes = 0;
    for (const run of this.runs.values()) bytes += run.outbox.bytes;
    if (!this.paused && bytes > limit) {
      this.paused = true;
      this.options.log.warn({ bytes }, 'the outbox is full: pausing harness output until the control plane catches up');
      for (const run of this.runs.values()) run.process?.pause();
    } else if (this.paused && bytes < limit / 2) {
      this.paused = false;
      for (const run of this.runs.values()) if (!run.waiting) run.process?.resume();
    }
  }

  /** Takes no new runs from now on (linkd is shutting down); the running ones go on. */
  drain(): void {
    this.draining = true;
  }

  /** Resolves true once no run is executing, or false at the deadline. */
  async idle(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.runningCount > 0) {
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return true;
  }

  /** Stops every run (linkd is exiting) and waits for their processes. */
  async stopAll(reason: StopReason): Promise<void> {
    await Promise.all([...this.runs.values()].filter((r) => !r.finished).map((r) => this.stopRun(r, reason)));
  }

  private forgetOldNonces(): void {
    const cutoff = Date.now() - 2 * MAX_DISPATCH_SKEW_MS;
    for (const [nonce, at] of this.seenNonces) {
      if (at >= cutoff) break;
      this.seenNonces.delete(nonce);
    }
  }
}
