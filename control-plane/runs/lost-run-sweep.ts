/**
 * The lost-run sweep: every replica runs one, so the runs of a machine that went away fail
 * `LINK_LOST` even when the replica that held its session died too.
 *
 *   session ends ──▶ runs.detached_at = now ──(grace)──▶ sweep: still detached? ──▶ LINK_LOST
 *   replica killed ──▶ sweep: held by a session the registry no longer has ──▶ detached_at = now
 *   a newer session adopts the run ──▶ detached_at = null (the sweep's failure then does nothing)
 *
 * The grace is measured from when a run lost its session, never from its dispatch, so a long run
 * rides out any absence shorter than the grace. Every step is a compare-and-set in Postgres on the
 * run's session epoch, so sweeps on several replicas may overlap, and an adoption that comes first wins.
 */
import type { Logger } from '../../common/log.js';
import type { Registry } from '../registry/registry.js';
import type { RunStore } from './run-store.js';

/** How often a replica sweeps: a quarter of the grace (a run fails within 1.25 graces), 250 ms to 15 s. */
export function sweepIntervalMs(graceMs: number): number {
  return Math.min(15_000, Math.max(250, Math.floor(graceMs / 4)));
}

export class LostRunSweep {
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  /**
   * @param holds True when this replica has the live session `epoch` of the link (its runs need no
   *   registry read).
   */
  constructor(
    private readonly registry: Registry,
    private readonly runs: RunStore,
    private readonly graceMs: number,
    private readonly log: Logger,
    private readonly holds: (linkId: string, epoch: bigint) => boolean,
  ) {}

  /** Sweeps every {@link sweepIntervalMs} until stop(). The timer does not keep the process alive. */
  start(): void {
    this.timer ??= setInterval(() => void this.sweep(), sweepIntervalMs(this.graceMs));
    this.timer.unref();
  }

  /**
   * A session of `linkId` (epoch) ended: its unfinished runs are detached now, and fail LINK_LOST
   * one grace period later unless a newer session adopts them (the sweep of any replica does it).
   * If Postgres cannot be reached now, the sweep stamps them once the session is gone from the registry.
   */
  async sessionEnded(linkId: string, epoch: bigint): Promise<void> {
    try {
      const detached = await this.runs.detachRuns(linkId, epoch);
      if (detached.length > 0) this.log.info({ linkId, epoch: String(epoch), runs: detached }, 'the session ended: its runs wait for the machine to come back');
    } catch (error) {
      this.log.warn({ err: error, linkId }, 'cannot mark the runs of an ended session; the lost-run sweep will');
    }
  }

  /** Idempotent. A sweep under way finishes on its own. */
  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * One pass: overdue runs fail LINK_LOST (unless the registry shows their session alive after
   * all: then they are attached again), and runs held by a session the registry no longer has are
   * detached now. Skipped while the registry is unreachable; a failure is logged and the next pass
   * tries again.
   */
  async sweep(): Promise<void> {
    if (!this.registry.isReady() || this.sweeping) return;
    this.sweeping = true;
    try {
      const live = new Map<string, Promise<bigint | undefined>>();
      const liveEpoch = (userId: string, linkId: string) => {
        const key = `${userId}/${linkId}`;
        let found = live.get(key);
        if (!found) live.set(key, (found = this.registry.get(userId, linkId).then((record) => record?.epoch)));
        return found;
      };
      for (const run of await this.runs.overdueRuns(this.graceMs)) {
        if ((await liveEpoch(run.userId, run.linkId)) === run.epoch) {
          await this.runs.reattachRuns(run.linkId, run.epoch);
        } else if (await this.runs.failLostRun(run.id, run.epoch, this.graceMs)) {
          this.log.warn({ linkId: run.linkId, runId: run.id }, 'the machine did not come back within the grace period: run failed LINK_LOST');
        }
      }
      const sessions = new Map<string, { userId: string; linkId: string; epoch: bigint }>();
      for (const run of await this.runs.heldRuns()) {
        if (!this.holds(run.linkId, run.epoch)) sessions.set(`${run.linkId}/${run.epoch}`, run);
      }
      if (sessions.size > 64) {
        // Many sessions to check: one read of every record instead of one read each.
        for (const record of await this.registry.list()) live.set(`${record.userId}/${record.linkId}`, Promise.resolve(record.epoch));
        for (const { userId, linkId } of sessions.values()) if (!live.has(`${userId}/${linkId}`)) live.set(`${userId}/${linkId}`, Promise.resolve(undefined));
      }
      for (const { userId, linkId, epoch } of sessions.values()) {
        if ((await liveEpoch(userId, linkId)) === epoch) continue;
        const detached = await this.runs.detachRuns(linkId, epoch);
        if (detached.length > 0) this.log.info({ linkId, epoch: String(epoch), runs: detached }, 'runs of a session that is gone are detached; they fail LINK_LOST unless it comes back in time');
      }
    } catch (error) {
      this.log.warn({ err: error }, 'the lost-run sweep failed; it runs again later');
    } finally {
      this.sweeping = false;
    }
  }
}
