/**
 * A run's events in Postgres: the agent's batches stored (fenced by the session epoch that
 * accepted the run, resends harmless), terminal events the control plane writes itself, and reads
 * in order up to the contiguous prefix. Each stored batch is announced on `run_event`, so WatchRun
 * on any replica follows it. What a first `started` event says of the thread and the sandbox is
 * written by their stores' `…InTx` methods, in the same transaction.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import type { Sql, TransactionSql } from 'postgres';
import { RunDoneSchema, RunEventSchema, RunStatus, type RunEvent } from '../../gen/link/v1/run_pb.js';
import { notify, notifyPayload } from '../notifications.js';
import { SandboxStore } from '../sandboxes/sandbox-store.js';
import { ThreadStore } from '../threads/thread-store.js';
import { applyInteractionEventsInTx, closePendingInTx } from '../interactions/interaction-events.js';
import { EventsRefusal, type RunFailureReason } from '../../common/reasons.js';

export type RunStateName = 'queued' | 'dispatched' | 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled';
/** In progress: WAITING (the harness asked the user) counts as much as RUNNING. */
export const UNFINISHED: RunStateName[] = ['queued', 'dispatched', 'running', 'waiting'];

/** Only end the run if it still belongs to this session, and (when set) has been without it this long. */
export interface FinishGuard {
  epoch: bigint;
  detachedForMs?: number;
  /** Only a run of this link (a machine's refusal can finish only its own runs). */
  linkId?: string;
}

/** What was stored, for metrics. */
export interface StoredOutcome {
  stored: number;
  outcome?: { state: RunStateName; reason: string };
}

export type AppendResult = { ok: true; acked: bigint; finished: boolean } | { ok: false; reason: EventsRefusal; why: string };

interface FencedRun {
  link_id: string;
  thread_id: string | null;
  sandbox_id: string | null;
  state: RunStateName;
  session_epoch: string | null;
  last_seq: string;
}

/**
 * Stores a batch of the agent's events (see RunStore.appendEvents), in one transaction with the
 * run's state and the announcement; `stored` reports what went in for metrics.
 */
export async function appendEvents(
  sql: Sql, runId: string, linkId: string, epoch: bigint, events: RunEvent[], approvalTimeoutSeconds = 0,
): Promise<AppendResult & Partial<StoredOutcome>> {
  return sql.begin(async (tx) => {
    const [run] = await tx<FencedRun[]>`
      select link_id, thread_id, sandbox_id, state, session_epoch::text, last_seq::text from runs where id = ${runId} for update`;
    if (!run || run.link_id !== linkId) return { ok: false as const, reason: EventsRefusal.NotThisLink, why: 'not a run of this link' };
    const lastSeq = BigInt(run.last_seq);
    if (!UNFINISHED.includes(run.state)) {
      // Finished (by its own Done, or by the control plane): everything it sends is moot.
      const top = events.reduce((m, e) => (e.seq > m ? e.seq : m), lastSeq);
      return { ok: true as const, acked: top, finished: false };
    }
    if (run.session_epoch !== String(epoch)) return { ok: false as const, reason: EventsRefusal.Fenced, why: `fenced: the run belongs to session ${run.session_epoch}` };
    const fresh = events.filter((e) => e.seq > lastSeq && e.seq > 0n);
    const acked = fresh.length > 0 ? await insertEvents(tx, runId, lastSeq, fresh) : await contiguous(tx, runId, lastSeq);
    const stored = fresh.filter((e) => e.seq <= acked);
    await applyStarted(tx, run, stored);
    const next = await applyInteractionEventsInTx(tx, runId, run, stored, approvalTimeoutSeconds);
    const done = stored.find((e) => e.event.case === 'done');
    if (done?.event.case === 'done') {
      const d = done.event.value;
      await tx`
        update runs set state = ${stateOf(d.status)}, exit_code = ${d.exitCode}, failure_reason = ${d.failureReason},
          session_id = ${d.sessionId}, finished_at = now(), last_seq = ${String(acked)}
        where id = ${runId}`;
      if (d.sessionId && run.thread_id) await ThreadStore.recordSessionInTx(tx, run.thread_id, d.sessionId, true);
      await notify(tx, 'run_event', { runId, seq: String(acked) });
      return { ok: true as const, acked, finished: true, stored: fresh.length, outcome: { state: stateOf(d.status), reason: d.failureReason } };
    }
    // The update and the announcement in one round trip.
    await tx`
      with updated as (
        update runs set last_seq = ${String(acked)}, state = ${next}, started_at = coalesce(started_at, now()) where id = ${runId} returning id
      )
      select pg_notify('run_event', ${notifyPayload<'run_event'>({ runId, seq: String(acked) })}) from updated where ${acked > lastSeq}`;
    return { ok: true as const, acked, finished: false, stored: fresh.length };
  });
}

/** Inserts `fresh` and returns the top of the contiguous prefix over what was there and what went in; one statement. */
async function insertEvents(tx: TransactionSql, runId: string, lastSeq: bigint, fresh: RunEvent[]): Promise<bigint> {
  // The scan sees the snapshot before the insert, so the two sets do not overlap.
  const rows = fresh.map((e) => ({ run_id: runId, seq: String(e.seq), kind: e.event.case ?? '', body: Buffer.from(toBinary(RunEventSchema, e)) }));
  const [row] = (await tx`
    with inserted as (
      insert into run_events ${tx(rows, 'run_id', 'seq', 'kind', 'body')} on conflict (run_id, seq) do nothing returning seq
    ), known as (
      select seq from run_events where run_id = ${runId} and seq > ${String(lastSeq)}
      union all select seq from inserted
    )
    ${contiguousTop(tx, lastSeq)}`) as unknown as { top: string }[];
  return BigInt(row.top);
}

/** A stored `started` event: the thread learns the harness's session, the sandbox map where the sandbox is. */
async function applyStarted(tx: TransactionSql, run: FencedRun, stored: RunEvent[]): Promise<void> {
  const started = stored.find((e) => e.event.case === 'started');
  if (started?.event.case !== 'started') return;
  const { sessionId, cwd } = started.event.value;
  if (sessionId && run.thread_id) await ThreadStore.recordSessionInTx(tx, run.thread_id, sessionId, false);
  // The run is in its sandbox on the machine: the map learns where that is.
  if (cwd && run.sandbox_id) await SandboxStore.markReadyInTx(tx, run.sandbox_id, cwd);
}

/**
 * Ends an unfinished run from the control plane's side with its terminal event at the next seq
 * (see RunStore.finish). Returns what it stored, or undefined when the run had ended or `guard` refused.
 */
export async function finishRun(sql: Sql, runId: string, status: RunStatus, reason: RunFailureReason, message: string, guard?: FinishGuard): Promise<StoredOutcome | undefined> {
  return sql.begin(async (tx) => {
    const [run] = await tx<(FencedRun & { overdue: boolean })[]>`
      select link_id, state, session_epoch::text, last_seq::text,
        coalesce(detached_at <= now() - ${(guard?.detachedForMs ?? 0) / 1000} * interval '1 second', false) as overdue
      from runs where id = ${runId} for update`;
    if (!run || !UNFINISHED.includes(run.state)) return undefined;
    if (guard && run.session_epoch !== String(guard.epoch)) return undefined;
    if (guard?.linkId !== undefined && run.link_id !== guard.linkId) return undefined;
    if (guard?.detachedForMs !== undefined && !run.overdue) return undefined;
    const seq = (await contiguous(tx, runId, BigInt(run.last_seq))) + 1n;
    const events: RunEvent[] = [];
    if (status === RunStatus.FAILED) {
      events.push(create(RunEventSchema, { seq, at: timestampNow(), event: { case: 'error', value: { code: reason, message } } }));
    }
    events.push(
      create(RunEventSchema, {
        seq: seq + BigInt(events.length),
        at: timestampNow(),
        event: { case: 'done', value: create(RunDoneSchema, { status, failureReason: reason, exitCode: -1 }) },
      }),
    );
    for (const event of events) {
      await tx`insert into run_events (run_id, seq, kind, body)
               values (${runId}, ${String(event.seq)}, ${event.event.case ?? ''}, ${Buffer.from(toBinary(RunEventSchema, event))})`;
    }
    const last = events[events.length - 1].seq;
    await closePendingInTx(tx, runId);
    await tx`update runs set state = ${stateOf(status)}, failure_reason = ${reason}, exit_code = -1, finished_at = now(),
               last_seq = ${String(last)} where id = ${runId}`;
    await notify(tx, 'run_event', { runId, seq: String(last) });
    return { stored: events.length, outcome: { state: stateOf(status), reason } };
  });
}

/**
 * Stored events after `afterSeq`, in order, up to the contiguous prefix (`last_seq`): a watcher
 * never sees an event before all the ones ahead of it.
 */
export async function readEvents(sql: Sql, runId: string, afterSeq: bigint, limit: number): Promise<RunEvent[]> {
  const rows = await sql<{ body: Buffer }[]>`
    select e.body from run_events e join runs r on r.id = e.run_id
    where e.run_id = ${runId} and e.seq > ${String(afterSeq)} and e.seq <= r.last_seq
    order by e.seq limit ${limit}`;
  return rows.map((row) => fromBinary(RunEventSchema, new Uint8Array(row.body)));
}

/**
 * The highest seq of the gap-free run that follows `known` in the query's `known` relation (the
 * stored seqs above it): in that prefix seq = known + row number, after the first gap seq is larger.
 */
function contiguousTop(tx: TransactionSql, known: bigint) {
  return tx`
    select coalesce(max(seq), ${String(known)})::text as top
    from (select seq, seq - row_number() over (order by seq) as base from known) numbered
    where base = ${String(known)}`;
}

async function contiguous(tx: TransactionSql, runId: string, known: bigint): Promise<bigint> {
  const [row] = await tx<{ top: string }[]>`
    with known as (select seq from run_events where run_id = ${runId} and seq > ${String(known)})
    ${contiguousTop(tx, known)}`;
  return BigInt(row.top);
}

export function stateOf(status: RunStatus): RunStateName {
  return status === RunStatus.COMPLETED ? 'completed' : status === RunStatus.CANCELLED ? 'cancelled' : 'failed';
}
