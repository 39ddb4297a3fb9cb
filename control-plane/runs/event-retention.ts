/**
 * Event retention (`link-server serve --retain-events 30d`, off by default): the events of runs
 * that finished longer ago than the retention are deleted, in small batches, so `run_events` stops
 * growing forever. What stays of such a run is its row (prompt, state, exit code, reason, times)
 * and its terminal `done` event, so WatchRun still replays the outcome and ends; the run is marked
 * `events_pruned_at`. Runs that are not finished are never touched, however old they are.
 *
 * Every replica may run it: each batch takes the runs it works on with `FOR UPDATE SKIP LOCKED`,
 * so two replicas never delete the same run's events twice and neither waits for the other.
 *
 *   every interval, one short transaction after another:
 *     pick ≤ runsPerBatch finished, unpruned runs older than the retention (SKIP LOCKED)
 *     └─ delete ≤ eventsPerStatement of their events (never `done`)
 *     └─ none left → mark them pruned
 *   …until no such run is left, then sleep until the next interval
 */
import type { Sql } from 'postgres';
import { sleep } from '../../common/backoff.js';
import type { Logger } from '../../common/log.js';

export interface EventRetentionOptions {
  /** Events of runs finished longer ago than this are deleted. */
  retainMs: number;
  /** How often to look for such runs (default: hourly, or the retention when it is shorter). */
  intervalMs?: number;
  /** Runs taken per batch (default 50). */
  runsPerBatch?: number;
  /** Rows deleted per statement (default 5,000): keeps each statement short and its locks brief. */
  eventsPerStatement?: number;
}

export interface PruneResult {
  runs: number;
  events: number;
}

export class EventRetention {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly sql: Sql,
    private readonly options: EventRetentionOptions,
    private readonly log: Logger,
  ) {}

  /** Starts the periodic loop (the first pass runs at once). `close()` stops it. */
  start(): void {
    this.loop ??= this.run(this.stopping.signal);
  }

  /** Stops the loop and waits for a batch in progress; may be called twice. */
  async close(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  /**
   * One full pass: prunes every run that is due, batch after batch, and returns what it removed.
   * A failure (database away) ends the pass; the next interval tries again.
   */
  async pruneDue(signal?: AbortSignal): Promise<PruneResult> {
    const total: PruneResult = { runs: 0, events: 0 };
    for (;;) {
      if (signal?.aborted) return total;
      const batch = await this.pruneBatch();
      total.runs += batch.runs;
      total.events += batch.events;
      if (!batch.more) return total;
    }
  }

  private async run(signal: AbortSignal): Promise<void> {
    const intervalMs = this.options.intervalMs ?? Math.min(3_600_000, this.options.retainMs);
    while (!signal.aborted) {
      try {
        const { runs, events } = await this.pruneDue(signal);
        if (runs > 0) this.log.info({ runs, events }, `event retention: removed ${events} events of ${runs} finished runs`);
      } catch (error) {
        this.log.warn({ err: error }, `event retention failed: ${(error as Error).message}; will retry in ${Math.round(intervalMs / 1000)}s`);
      }
      await sleep(intervalMs, signal).catch(() => undefined);
    }
  }

  /**
   * One short transaction: takes up to `runsPerBatch` due runs, deletes at most
   * `eventsPerStatement` of their events (never `done`), and marks them pruned once none is left.
   * Runs with more events than that stay due and are taken again by the next batch.
   */
  private async pruneBatch(): Promise<PruneResult & { more: boolean }> {
    const runsPerBatch = this.options.runsPerBatch ?? 50;
    const eventsPerStatement = this.options.eventsPerStatement ?? 5_000;
    const retainSeconds = this.options.retainMs / 1000;
    return this.sql.begin(async (tx) => {
      const picked = await tx<{ id: string }[]>`
        select id from runs
        where events_pruned_at is null and finished_at is not null
          and finished_at < now() - make_interval(secs => ${retainSeconds})
          and state in ('completed', 'failed', 'cancelled')
        order by finished_at
        limit ${runsPerBatch}
        for update skip locked`;
      if (picked.length === 0) return { runs: 0, events: 0, more: false };
      const ids = picked.map((row) => row.id);
      const deleted = await tx`
        delete from run_events where ctid = any(array(
          select ctid from run_events where run_id = any(${ids}) and kind <> 'done' limit ${eventsPerStatement}))`;
      if (deleted.count === eventsPerStatement) return { runs: 0, events: deleted.count, more: true };
      await tx`update runs set events_pruned_at = now() where id = any(${ids})`;
      return { runs: ids.length, events: deleted.count, more: ids.length === runsPerBatch };
    });
  }
}
