/**
 * Group commit of several runs' event batches: the batches of output (text, logs, tool calls, …)
 * that arrive while the replica stores others are stored together, in one transaction for all
 * their runs, instead of one transaction each. With twenty runs printing, twenty transactions of
 * two round trips and a commit become one.
 *
 *   batch ─▶ plain and continuing? ─ no ─▶ appendEvents (run-events.ts), alone
 *                  │ yes
 *                  ▼
 *            waiting batches ─▶ a group (one batch per run, ≤ MAX_GROUP_BATCHES) ─▶ one transaction:
 *              1. lock the runs' rows, in id order            ┐ one round trip
 *              2. insert every batch whose run it continues  ┘ (run-events.ts `insertContinuing`, as for a lone batch)
 *              3. each run's last_seq and state, each run's `run_event`, commit   — one round trip
 *            a batch the statement did not take (fenced, finished, out of order, a lost claim) goes
 *            on alone, where appendEvents decides and says why; a group that fails goes on batch by
 *            batch the same way, so one run's error acknowledges nothing of another's and each
 *            batch is stored once.
 *
 * "Plain" batches are those no per-batch step looks at (no `started`, `steered`, interaction,
 * usage-limit or `done` event: those go alone, through `storedInTx`), whose seqs continue from
 * their first (what an agent sends from its acknowledged point), and that are small (what a CLI
 * printing as it works sends; a large batch has no per-batch cost worth sharing). Locks are taken
 * in id order, so two groups never wait for each other in a cycle, and a lone batch locks only its
 * own run.
 */
import type { Sql } from 'postgres';
import type { RunEvent } from '../../gen/link/v1/run_pb.js';
import { notifyPayload } from '../notifications.js';
import { pipelined, pipelinedTransaction } from '../store/pipelined-transaction.js';
import { continuesPrefix, encodeEach, insertContinuing, runEventPayload, type AppendResult, type StoredOutcome } from './run-events.js';

/** At most this many batches in one group (the rest wait for the next). */
export const MAX_GROUP_BATCHES = 64;
/**
 * Only batches of at most this many events are grouped. A larger one has little per-batch cost
 * left to share, and stored alone it keeps Postgres's row work spread over the pool's connections
 * (grouped, a burst of large batches went to one backend and was slower).
 */
export const MAX_GROUPED_BATCH_EVENTS = 256;
/** At most this many events in one group. */
export const MAX_GROUP_EVENTS = 4_096;
/** Groups stored at once (each on a connection of its own); batches arriving meanwhile wait for one to end. */
export const GROUPS_IN_FLIGHT = 2;

/** Event kinds a per-batch step reads (run-events.ts `storedInTx`, the run's end): such a batch is stored alone. */
const STORED_ALONE = new Set<RunEvent['event']['case']>(['started', 'steered', 'interaction', 'interactionResolved', 'usageLimit', 'done']);

/** Whether `events` may be stored in a group: small, plain, and continuing from their first seq (run-events.ts `continuesPrefix`). */
export function groupable(events: readonly RunEvent[]): boolean {
  return events.length <= MAX_GROUPED_BATCH_EVENTS && continuesPrefix(events) && !events.some((e) => STORED_ALONE.has(e.event.case));
}

export interface GroupedBatch {
  runId: string;
  linkId: string;
  epoch: bigint;
  events: RunEvent[];
}

/** A stored batch of a group: what appendEvents would have returned for it. */
export type GroupedResult = AppendResult & { count?: number; outcome?: StoredOutcome['outcome'] };

interface Waiting extends GroupedBatch {
  resolve: (result: GroupedResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Takes plain batches (see {@link groupable}) and stores them in groups. `alone` stores one batch
 * by itself (appendEvents): what a group did not take, and every batch of a group that failed.
 */
export class EventGroupWriter {
  private readonly waiting: Waiting[] = [];
  private inFlight = 0;

  constructor(
    private readonly sql: Sql,
    private readonly alone: (batch: GroupedBatch) => Promise<GroupedResult>,
    private readonly options: {
      /** Stamped on the `run_event` announcements (RunStore's origin). */
      origin?: string;
      /** Told how many batches each group stored, once it committed. */
      committed?: (batches: number) => void;
      /** Told of a group that failed (its batches then go alone). */
      failed?: (error: unknown, batches: number) => void;
    } = {},
  ) {}

  /** Stores `batch` with the others waiting, once a group is free; resolves when it committed. */
  append(batch: GroupedBatch): Promise<GroupedResult> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ ...batch, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    while (this.inFlight < GROUPS_IN_FLIGHT && this.waiting.length > 0) {
      const group = this.take();
      this.inFlight++;
      void this.store(group).finally(() => {
        this.inFlight--;
        this.next();
      });
    }
  }

  /** The next group: waiting batches in arrival order, one per run (a run's next batch waits for the next group). */
  private take(): Waiting[] {
    const group: Waiting[] = [];
    const runs = new Set<string>();
    let events = 0;
    for (let i = 0; i < this.waiting.length && group.length < MAX_GROUP_BATCHES; ) {
      const batch = this.waiting[i];
      if (runs.has(batch.runId) || (group.length > 0 && events + batch.events.length > MAX_GROUP_EVENTS)) {
        i++;
        continue;
      }
      runs.add(batch.runId);
      events += batch.events.length;
      group.push(batch);
      this.waiting.splice(i, 1);
    }
    return group;
  }

  private async store(group: Waiting[]): Promise<void> {
    let taken: Map<Waiting, GroupedResult> | undefined;
    try {
      taken = await storeGroup(this.sql, group, this.options.origin);
      if (taken.size > 0) this.options.committed?.(taken.size);
    } catch (error) {
      // The group wrote nothing: each batch goes on alone, and fails (or not) by itself.
      this.options.failed?.(error, group.length);
      taken = new Map();
    }
    await Promise.all(
      group.map(async (batch) => {
        const result = taken.get(batch);
        if (result) return batch.resolve(result);
        try {
          batch.resolve(await this.alone(batch));
        } catch (error) {
          batch.reject(error);
        }
      }),
    );
  }
}

/**
 * Stores a group in one transaction: the batches whose runs they continue (this session's
 * unfinished run, `last_seq` right below the batch), with each run's `last_seq`, state and
 * announcement. Returns the result of each batch it stored; the others are left untouched.
 */
async function storeGroup(sql: Sql, group: readonly Waiting[], origin?: string): Promise<Map<Waiting, GroupedResult>> {
  const byRun = [...group].sort((a, b) => (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
  const batches = byRun.map((batch) => ({ ...batch, encoded: encodeEach(batch.events) }));
  return pipelinedTransaction(sql, async (tx) => {
    const ids = byRun.map((batch) => batch.runId);
    const locked = tx`select id from runs where id = any(${ids}::text[]) order by id for update`.execute();
    // Sent right behind the lock: each batch goes in only if its run's row says it continues its prefix.
    const [, tops] = await Promise.all([locked, insertContinuing(tx, batches)]);
    const results = new Map<Waiting, GroupedResult>();
    const stored: { id: string; top: string; payload: string }[] = [];
    byRun.forEach((batch, i) => {
      const top = tops.get(batch.runId);
      if (top === undefined) return;
      const { events, encoded } = batches[i];
      results.set(batch, { ok: true, acked: top, finished: false, stored: events, storedSizes: encoded.map((b) => b.length), count: events.length });
      stored.push({ id: batch.runId, top: String(top), payload: notifyPayload<'run_event'>(runEventPayload(batch.runId, top, events, origin, encoded)) });
    });
    if (stored.length === 0) return results;
    // The runs' rows and their announcements in one statement, the transaction's last: the commit
    // goes right behind it. A plain batch leaves a run WAITING as it was, and makes it RUNNING otherwise.
    const updated = tx`
      with v as (select * from unnest(${stored.map((s) => s.id)}::text[], ${stored.map((s) => s.top)}::bigint[], ${stored.map((s) => s.payload)}::text[]) as v(id, top, payload)),
      updated as (
        update runs r set last_seq = v.top, state = case when r.state = 'waiting' then 'waiting' else 'running' end,
          started_at = coalesce(r.started_at, now())
        from v where r.id = v.id returning r.id
      )
      select pg_notify('run_event', v.payload) from v where v.id in (select id from updated)`.execute();
    return pipelined(updated.then(() => results));
  });
}
