/**
 * The replica's live sessions, by link id. What other replicas ask of a link (disconnect, revoke,
 * rotate, user disabled, new runs, cancels, sandbox operations) arrives as a notification and goes
 * to that link's sessions only; after the LISTEN connection dropped, every live session catches up
 * on what it may have missed. Drain asks every agent to reconnect elsewhere; the server closes when
 * the set is empty (or its grace period runs out).
 */
import type { HandlerContext } from '@connectrpc/connect';
import { Code, linkError, Reason, reasonOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { ConnectRequest } from '../../gen/link/v1/link_service_pb.js';
import type { ServerMetrics } from '../metrics.js';
import type { Notifications } from '../notifications.js';
import type { InteractionStore } from '../interactions/interaction-store.js';
import type { Registry } from '../registry/registry.js';
import { LostRunSweep } from '../runs/lost-run-sweep.js';
import type { RunStore } from '../runs/run-store.js';
import type { SandboxStore } from '../sandboxes/sandbox-store.js';
import { SetupGate } from '../setup-gate.js';
import { HeartbeatWatchdog, type Watched } from './heartbeat-watchdog.js';
import type { LinkControl, LinkRecord, Store } from '../store/store.js';
import type { SteerStore } from '../steering/steer-store.js';
import { LinkSession, type LinkSessionOptions, type Outgoing, type SessionServices } from './link-session.js';

export type { LinkSessionOptions } from './link-session.js';

export class LinkSessionHub implements SessionServices {
  /** Sessions by link id (a link has more than one only while a newer one supersedes an older). */
  private readonly sessions = new Map<string, Set<LinkSession>>();
  private count = 0;
  private draining = false;
  /** Called (and cleared) when the last session has ended. */
  private emptied = new Set<() => void>();
  private readonly stopListening: (() => void)[] = [];
  private readonly setupGate: SetupGate;
  private readonly lostRuns: LostRunSweep;
  /** One timer for every session's heartbeats. */
  private readonly heartbeats: HeartbeatWatchdog;

  constructor(
    readonly registry: Registry,
    readonly store: Store,
    readonly runs: RunStore,
    readonly sandboxes: SandboxStore,
    readonly interactions: InteractionStore,
    readonly steers: SteerStore,
    notifications: Notifications,
    readonly options: LinkSessionOptions,
    private readonly log: Logger,
    readonly metrics?: ServerMetrics,
  ) {
    this.heartbeats = new HeartbeatWatchdog(options.heartbeatIntervalMs);
    this.setupGate = new SetupGate(options.maxConcurrentSetups ?? 128, options.maxQueuedSetups ?? 2048);
    // Disconnect, revoke, new runs, cancels and sandbox operations reach the replica that holds the
    // session through Postgres NOTIFY; replicas never call each other.
    this.stopListening.push(
      store.onLinkControl((message) => this.control(message)),
      notifications.on('run_queued', ({ linkId }) => this.forLink(linkId, (session) => session.dispatchPending())),
      notifications.on('run_cancel', ({ runId, linkId, interrupt }) => this.forLink(linkId, (session) => session.cancel(runId, interrupt === true))),
      notifications.on('run_steer', ({ linkId }) => this.forLink(linkId, (session) => session.sendSteers())),
      notifications.on('sandbox_op', ({ linkId }) => this.forLink(linkId, (session) => session.sendSandboxOps())),
      notifications.on('interaction_answer', ({ linkId }) => this.forLink(linkId, (session) => session.sendAnswers())),
      notifications.onReconnect(() => this.catchUp()),
    );
    // Every replica sweeps, so the runs of a replica that died are failed too.
    this.lostRuns = new LostRunSweep(registry, runs, options.linkLostGraceMs, log, (linkId, epoch) => this.holds(linkId, epoch));
    this.lostRuns.start();
  }

  get size(): number {
    return this.count;
  }

  /** True when this replica has the live session `epoch` of the link. */
  private holds(linkId: string, epoch: bigint): boolean {
    for (const session of this.sessions.get(linkId) ?? []) if (session.live && session.heldEpoch === epoch) return true;
    return false;
  }

  /**
   * A run of the link was just queued by this replica: its session here (if any) claims it now;
   * the `run_queued` notification that follows finds nothing left to claim (the claim is a
   * compare-and-set), and reaches the replica that holds the link when it is another.
   */
  runQueued(linkId: string): void {
    this.forLink(linkId, (session) => session.dispatchPending());
  }

  private forLink(linkId: string, act: (session: LinkSession) => void): void {
    for (const session of this.sessions.get(linkId) ?? []) if (session.live) act(session);
  }

  private *all(): Generator<LinkSession> {
    for (const set of this.sessions.values()) yield* set;
  }

  private control(message: LinkControl): void {
    if (message.type === 'changed') return;
    if (message.type === 'user_disabled') {
      for (const session of this.all()) if (session.userId === message.userId) session.revoked('user');
      return;
    }
    for (const session of this.sessions.get(message.linkId) ?? []) {
      if (message.type === 'shutdown') session.shutdown(message.reason || 'the link was disconnected from the web page');
      else if (message.type === 'rotate') session.rotateToken();
      else session.revoked();
    }
  }

  /**
   * After the LISTEN connection held again: what was sent meanwhile was not heard here, so every
   * live session reads again its queued runs, sandbox operations, answers and cancels, and whether its link
   * was revoked or its user disabled.
   */
  private async catchUp(): Promise<void> {
    const live = [...this.all()].filter((session) => session.live);
    if (live.length === 0) return;
    this.log.info({ sessions: live.length }, 'catching up the live sessions on missed notifications');
    const standings = await this.store.linkStandings([...new Set(live.map((s) => s.linkId))]).catch((error) => {
      // What the sessions wait for is read all the same; a revoked link's token is refused at its next connect.
      this.log.warn({ err: error }, 'cannot read again whether the links of the live sessions changed');
      return undefined;
    });
    for (const session of live) {
      const standing = standings ? standings.get(session.linkId) ?? { revoked: true, userDisabled: false } : undefined;
      if (standing?.revoked) {
        session.revoked();
        continue;
      }
      if (standing?.userDisabled) {
        session.revoked('user');
        continue;
      }
      session.dispatchPending();
      session.sendSandboxOps();
      session.sendAnswers();
      session.sendSteers();
      await session.resendCancels().catch((error) => this.log.warn({ err: error, linkId: session.linkId }, 'cannot read the cancels to send again'));
    }
  }

  /** Detaches the runs of an ended session (runs/lost-run-sweep.ts). */
  detachRuns(linkId: string, epoch: bigint): Promise<void> {
    return this.lostRuns.sessionEnded(linkId, epoch);
  }

  /** Watches a session's heartbeats until it ends or misses three (heartbeat-watchdog.ts). */
  watchHeartbeats(session: Watched): () => void {
    return this.heartbeats.watch(session);
  }

  /** Waits for a turn to set a session up (see SetupGate); resolves with the function that gives it back. */
  admitSetup(signal: AbortSignal): Promise<() => void> {
    return this.setupGate.admit(signal);
  }

  /** Runs one session; the returned frames are the server's side of the stream. */
  run(link: LinkRecord, requests: AsyncIterable<ConnectRequest>, ctx: HandlerContext): AsyncIterable<Outgoing> {
    const session = new LinkSession(link, this, this.log.child({ linkId: link.id }));
    const hub = this;
    return (async function* () {
      if (hub.draining) {
        throw linkError(Code.Unavailable, Reason.Draining, 'this control-plane replica is shutting down; connect again', { retry: 'true' });
      }
      hub.add(session);
      hub.metrics?.sessionsOpened.inc();
      let reason = 'CLOSED';
      try {
        yield* session.run(requests, ctx);
      } catch (error) {
        reason = reasonOf(error) ?? 'ERROR';
        throw error;
      } finally {
        hub.metrics?.sessionsClosed.inc({ reason });
        hub.remove(session);
      }
    })();
  }

  private add(session: LinkSession): void {
    let set = this.sessions.get(session.linkId);
    if (!set) this.sessions.set(session.linkId, (set = new Set()));
    set.add(session);
    this.count++;
  }

  private remove(session: LinkSession): void {
    const set = this.sessions.get(session.linkId);
    if (!set?.delete(session)) return;
    if (set.size === 0) this.sessions.delete(session.linkId);
    if (--this.count > 0) return;
    for (const resolve of this.emptied) resolve();
    this.emptied.clear();
  }

  /**
   * Stops taking sessions and sends Drain to every live one, then waits until all have ended or
   * `graceMs` passed. Returns how many were still open at the end.
   */
  async drain(reason: string, reconnectAfterMs: number, graceMs: number): Promise<number> {
    this.draining = true;
    for (const stop of this.stopListening.splice(0)) stop();
    this.lostRuns.stop();
    for (const session of this.all()) session.send({ frame: { case: 'drain', value: { reason, reconnectAfterMs } } });
    return this.settled(graceMs);
  }

  /**
   * Waits until every session has ended, its last writes (runs detached, last seen, presence
   * released) done, or `timeoutMs` passed; returns how many had not. A stream closed under a
   * session does not end it at once: it ends when those writes are.
   */
  async settled(timeoutMs: number): Promise<number> {
    if (this.count > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.emptied.delete(done);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        this.emptied.add(done);
      });
    }
    return this.count;
  }
}
