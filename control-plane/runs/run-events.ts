/**
 * A run's events in Postgres: the agent's batches stored (fenced by the session epoch that
 * accepted the run, resends harmless), terminal events the control plane writes itself, and reads
 * in order up to the contiguous prefix. Each stored batch is announced on `run_event`, so WatchRun
 * on any replica follows it. What a first `started` event says of the thread and the sandbox is
 * written by their stores' `…InTx` methods, in the same transaction.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { timestampDate, timestampNow } from '@bufbuild/protobuf/wkt';
import type { Sql, TransactionSql } from 'postgres';
import { RunDoneSchema, RunEventSchema, RunStatus, type RunDone, type RunEvent } from '../../gen/link/v1/run_pb.js';
import { RunEventsSchema } from '../../gen/link/v1/link_service_pb.js';
import { notify, notifyPayload, type Channels } from '../notifications.js';
import { SandboxStore } from '../sandboxes/sandbox-store.js';
import { ThreadStore } from '../threads/thread-store.js';
import { applyInteractionEventsInTx, closePendingInTx } from '../interactions/interaction-events.js';
import { EventsRefusal, RunFailure, type RunFailureReason } from '../../common/reasons.js';
import { applySteeredInTx } from '../steering/steer-store.js';
import { afterRunEndedInTx, endStateInTx } from './run-ended.js';
import type { SizedEvents } from './run-follow.js';
import { recordLimitEventsInTx } from '../limits/usage-limits.js';
import { pipelined, pipelinedTransaction } from '../store/pipelined-transaction.js';

export type RunStateName = 'queued' | 'dispatched' | 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled' | 'interrupted' | 'parked_limit';
/** In progress: WAITING (the harness asked the user) counts as much as RUNNING. */
export const UNFINISHED: RunStateName[] = ['queued', 'dispatched', 'running', 'waiting'];

/** Only end the run if it still belongs to this session, and (when set) has been without it this long. */
export interface FinishGuard {
  /** Only a run held by this session (absent: whoever holds it). */
  epoch?: bigint;
  /** Only a run still in this state (the expiry sweep ends only runs still queued). */
  state?: RunStateName;
  detachedForMs?: number;
  /** Only a run of this link (a machine's refusal can finish only its own runs). */
  linkId?: string;
}

/** What was stored, for metrics. */
export interface StoredOutcome {
  stored: number;
  outcome?: { state: RunStateName; reason: string };
  /** The events written, in order (for watchers on this replica). */
  events?: RunEvent[];
}

/**
 * `stored`: the events this call stored that are now within the contiguous prefix, in order (what
 * watchers may be handed from memory); `acked` may be past the last of them when earlier stored
 * events closed a gap.
 */
export type AppendResult = { ok: true; acked: bigint; finished: boolean; stored?: RunEvent[]; storedSizes?: number[] } | { ok: false; reason: EventsRefusal; why: string };

/** Events larger than this (encoded, all together) are announced without themselves: watchers read them. */
export const NOTIFY_EVENTS_MAX_CHARS = 6_000;

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
 * run's state and the announcement; `count` reports what went in (for metrics), `stored` what is now
 * within the prefix (for watchers).
 */
export async function appendEvents(
  sql: Sql, runId: string, linkId: string, epoch: bigint, events: RunEvent[], approvalTimeoutSeconds = 0, origin?: string,
): Promise<AppendResult & { count?: number; outcome?: StoredOutcome['outcome'] }> {
  // Few round trips: `begin` goes with the lock, `commit` behind the last statement
  // (store/pipelined-transaction.ts); at the end, what needs no answer of the one before goes together.
  return pipelinedTransaction(sql, async (tx) => {
    // Encoded once, for the rows and the announcement.
    const encoded = encodeEach(events);
    const locking = tx<FencedRun[]>`
      select link_id, thread_id, sandbox_id, state, session_epoch::text, last_seq::text from runs where id = ${runId} for update`.execute();
    // The usual batch continues the stored prefix: its rows go right behind the lock, stored only
    // if the run's row says so (else the batch goes the way below, once the row is read).
    const continuing = continuesPrefix(events) ? insertContinuing(tx, [{ runId, linkId, epoch, events, encoded }]) : undefined;
    const [[run], continued] = await Promise.all([locking, continuing]);
    const continuedTop = continued?.get(runId);
    const ending = { id: runId, linkId, threadId: run?.thread_id ?? null };
    if (!run || run.link_id !== linkId) return { ok: false as const, reason: EventsRefusal.NotThisLink, why: 'not a run of this link' };
    const lastSeq = BigInt(run.last_seq);
    if (!UNFINISHED.includes(run.state)) {
      // Finished (by its own Done, or by the control plane): everything it sends is moot.
      const top = events.reduce((m, e) => (e.seq > m ? e.seq : m), lastSeq);
      return { ok: true as const, acked: top, finished: false };
    }
    // A run still queued whose events come from a session of its link: a database crash lost its
    // claim (claims commit asynchronously); the session that sends its events holds it and takes it.
    const lostClaim = run.state === 'queued' && run.session_epoch === null && !(await newerSessionHoldsRuns(tx, linkId, epoch));
    if (!lostClaim && run.session_epoch !== String(epoch)) return { ok: false as const, reason: EventsRefusal.Fenced, why: `fenced: the run belongs to session ${run.session_epoch}` };
    if (lostClaim) await tx`update runs set state = 'dispatched', session_epoch = ${String(epoch)}, dispatched_at = coalesce(dispatched_at, now()) where id = ${runId}`;
    // Stored with the lock (then every event was fresh), or now.
    const isFresh = (e: RunEvent) => continuedTop !== undefined || (e.seq > lastSeq && e.seq > 0n);
    const fresh = events.filter(isFresh);
    const bodies = encoded.filter((_, i) => isFresh(events[i]));
    const acked = continuedTop !== undefined
      ? continuedTop
      : fresh.length > 0
        ? await insertEvents(tx, runId, lastSeq, fresh, bodies)
        : await contiguous(tx, runId, lastSeq);
    const stored = fresh.filter((e) => e.seq <= acked);
    const storedBodies = bodies.filter((_, i) => fresh[i].seq <= acked);
    const done = stored.find((e) => e.event.case === 'done');
    if (done?.event.case === 'done') {
      const d = done.event.value;
      // What the batch does besides ending the run needs no answer of the end, nor the end of it:
      // sent together with the run's row and what follows its end (run-ended.ts). The state the run
      // ends in is known without a statement unless the run may park at the usage limit.
      const steps = storedInTx(tx, runId, run, stored, approvalTimeoutSeconds);
      // A usage limit the batch reports is recorded before the one its end may record (the last counts).
      if (stored.some((e) => e.event.case === 'usageLimit')) await steps.state;
      const state = await endStateInTx(tx, ending, d);
      const ended = tx`
        update runs set state = ${state}, exit_code = ${d.exitCode}, failure_reason = ${d.failureReason},
          failure_message = ${d.message.slice(0, 4096)}, limit_resets_at = ${d.limitResetsAt ? timestampDate(d.limitResetsAt) : null},
          session_id = ${d.sessionId}, finished_at = now(), last_seq = ${String(acked)}
        where id = ${runId}`.execute();
      const session = d.sessionId && run.thread_id ? ThreadStore.recordSessionInTx(tx, run.thread_id, d.sessionId, true) : undefined;
      const announced = notify(tx, 'run_event', runEventPayload(runId, acked, stored, origin, storedBodies));
      const following = Promise.all([steps.written, ended, session, announced, afterRunEndedInTx(tx, ending, state, d)]);
      const result = { ok: true as const, acked, finished: true, stored, storedSizes: storedBodies.map((b) => b.length), count: fresh.length, outcome: { state, reason: d.failureReason } };
      // The usual end sends nothing behind an answer: its commit goes right behind it. Interactions
      // asked or resolved in the batch, and a usage limit, take statements behind answers.
      if (sendsAllAtOnce(stored, d)) return pipelined(following.then(() => result));
      await following;
      return result;
    }
    const steps = storedInTx(tx, runId, run, stored, approvalTimeoutSeconds);
    const next = await steps.state;
    // The update and the announcement in one statement, the transaction's last (with the steps'
    // statements when they need no answer for the state): the commit goes right behind it.
    const updated = tx`
      with updated as (
        update runs set last_seq = ${String(acked)}, state = ${next}, started_at = coalesce(started_at, now()) where id = ${runId} returning id
      )
      select pg_notify('run_event', ${notifyPayload<'run_event'>(runEventPayload(runId, acked, stored, origin, storedBodies))}) from updated where ${acked > lastSeq}`.execute();
    return pipelined(Promise.all([steps.written, updated]).then(() => ({ ok: true as const, acked, finished: false, stored, storedSizes: storedBodies.map((b) => b.length), count: fresh.length })));
  });
}

/**
 * Whether storing `stored` (a batch ending with `done`) sends every statement at once, none behind
 * another's answer (then a commit may follow them at once): not when it asks or resolves
 * interactions, reports a usage limit, or ends at one.
 */
function sendsAllAtOnce(stored: RunEvent[], done: RunDone): boolean {
  if (done.failureReason === RunFailure.UsageLimit) return false;
  return !stored.some((e) => e.event.case === 'interaction' || e.event.case === 'interactionResolved' || e.event.case === 'usageLimit');
}

/** Whether a newer session of the link than `epoch` holds runs (then `epoch`'s session was superseded). */
export async function newerSessionHoldsRuns(tx: TransactionSql, linkId: string, epoch: bigint): Promise<boolean> {
  const [row] = await tx<{ newer: boolean }[]>`
    select exists (select 1 from runs where link_id = ${linkId} and session_epoch > ${String(epoch)} and state in ('dispatched', 'running', 'waiting')) as newer`;
  return row.newer;
}

/**
 * Everything that follows from a batch of stored events besides the run's own row, in the storing
 * transaction: the one place such per-batch steps go (each receives the events now within the
 * contiguous prefix, in order). Their statements go out together, none waiting for another's
 * answer. `state`: the state the run is in after them, known once every step that sends a
 * statement behind another's answer is done (at once when the batch has nothing for them), so what
 * is left for `written` is statements already sent: a commit may go right behind them. The caller
 * awaits `written`.
 */
function storedInTx(tx: TransactionSql, runId: string, run: FencedRun, stored: RunEvent[], approvalTimeoutSeconds: number): StoredSteps {
  // One statement each, sent at the call.
  const sent = Promise.all([applyStarted(tx, run, stored), applySteeredInTx(tx, runId, stored)]);
  // Interactions asked and resolved: their table, and whether the run now waits for the user.
  const state = Promise.all([recordLimitEventsInTx(tx, runId, run.link_id, stored), applyInteractionEventsInTx(tx, runId, run, stored, approvalTimeoutSeconds)]).then(([, next]) => next);
  const written = Promise.all([sent, state]);
  // Joined by the caller through `written`; should it fail first elsewhere, the transaction reports that.
  written.catch(() => undefined);
  return { state, written };
}

interface StoredSteps {
  state: Promise<'running' | 'waiting'>;
  written: Promise<unknown>;
}

/**
 * The `run_event` announcement: the new top, and the events themselves when they are few enough
 * to ride along (other replicas then hand them to their watchers without reading them back).
 * `bodies`: the events' encodings when the caller has them (else they are encoded here).
 */
export function runEventPayload(runId: string, top: bigint, stored: RunEvent[], origin?: string, bodies?: Uint8Array[]): Channels['run_event'] {
  const payload = { runId, seq: String(top), origin };
  if (stored.length === 0 || stored[stored.length - 1].seq !== top) return payload;
  // Each event takes 3 characters and 4 for every 3 bytes of it: a batch surely past the bound is not turned into text.
  if (stored.length * 3 > NOTIFY_EVENTS_MAX_CHARS) return payload;
  const encodings = bodies ?? encodeEach(stored);
  if (encodings.reduce((sum, b) => sum + b.length, 0) * 4 > NOTIFY_EVENTS_MAX_CHARS * 3) return payload;
  const events: string[] = [];
  let chars = 0;
  for (const body of encodings) {
    const encoded = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64');
    chars += encoded.length + 3;
    if (chars > NOTIFY_EVENTS_MAX_CHARS) return payload;
    events.push(encoded);
  }
  return { ...payload, events };
}

/**
 * Each event's encoding, in order: all of them written by one writer (a `RunEvents` holding only
 * them, which encodes as one length-delimited entry per event) and cut apart, cheaper than a writer
 * for each.
 */
export function encodeEach(events: readonly RunEvent[]): Uint8Array[] {
  if (events.length === 0) return [];
  const reader = new BinaryReader(toBinary(RunEventsSchema, create(RunEventsSchema, { events: [...events] })));
  return events.map(() => {
    const [field] = reader.tag();
    if (field !== 2) throw new Error(`encoding run events: field ${field} where an event was expected`);
    return reader.bytes();
  });
}

/**
 * The rows of `events` as statement parameters: seqs, kinds, and the bodies (`encoded`, each
 * event's encoding) as one bytea end to end with where each starts and its length, which the
 * statement cuts apart. One bytea costs one hex conversion, where an array of them is escaped
 * element by element.
 */
function eventRows(events: RunEvent[], encoded: Uint8Array[]): { seqs: string[]; kinds: string[]; bodies: Buffer; starts: number[]; lengths: number[] } {
  const starts: number[] = [];
  let at = 1; // substring() counts from 1
  for (const body of encoded) {
    starts.push(at);
    at += body.length;
  }
  return {
    seqs: events.map((e) => String(e.seq)),
    kinds: events.map((e) => e.event.case ?? ''),
    bodies: Buffer.concat(encoded),
    starts,
    lengths: encoded.map((b) => b.length),
  };
}

/**
 * `insert … select` of `events`' rows for run `runId` (see eventRows); `skipStored`: seqs already
 * stored are left as they are (else one is an error).
 */
function insertRows(tx: TransactionSql, runId: string, events: RunEvent[], encoded: Uint8Array[], skipStored: boolean) {
  const { seqs, kinds, bodies, starts, lengths } = eventRows(events, encoded);
  return tx`insert into run_events (run_id, seq, kind, body)
    select ${runId}, e.seq, e.kind, substring(${bodies}::bytea from e.start for e.len)
    from unnest(${seqs}::bigint[], ${kinds}::text[], ${starts}::int[], ${lengths}::int[]) as e(seq, kind, start, len)
    ${skipStored ? tx`on conflict (run_id, seq) do nothing` : tx``}`;
}

/** Whether the batch's seqs are first, first+1, … with first > 0 (what an agent sends from its acknowledged point). */
export function continuesPrefix(events: readonly RunEvent[]): boolean {
  const first = events[0]?.seq ?? 0n;
  return first > 0n && events.every((e, i) => e.seq === first + BigInt(i));
}

/** A batch that continues its run's stored prefix (see continuesPrefix), with its events' encodings. */
export interface ContinuingBatch {
  runId: string;
  linkId: string;
  epoch: bigint;
  events: RunEvent[];
  encoded: Uint8Array[];
}

/**
 * Sends the insert of batches that continue their runs' stored prefixes (at most one per run; a
 * lone batch here, several runs' for a group commit in event-group.ts) without the runs' rows read:
 * written behind the statement that locks the rows, it stores a batch's rows only if its run's row
 * says the batch continues its prefix (`last_seq` just below the batch) and is this session's
 * unfinished run — a subset of what appendEvents checks once it reads the row, so a batch it would
 * refuse or store otherwise is left untouched here. Resolves to the runs whose batch went in, each
 * with what insertEvents would return for it: the top of its contiguous prefix over what was
 * stored (rows stored earlier past the batch count too) and what went in.
 */
export function insertContinuing(tx: TransactionSql, batches: readonly ContinuingBatch[]): Promise<Map<string, bigint>> {
  const rows = eventRows(batches.flatMap((batch) => batch.events), batches.flatMap((batch) => batch.encoded));
  const runOfRow = batches.flatMap((batch) => batch.events.map(() => batch.runId));
  const below = batches.map((batch) => String(batch.events[0].seq - 1n));
  const end = batches.map((batch) => String(batch.events[0].seq - 1n + BigInt(batch.events.length)));
  const statement = tx`
    with b as (
      select * from unnest(${batches.map((batch) => batch.runId)}::text[], ${batches.map((batch) => batch.linkId)}::text[],
        ${batches.map((batch) => String(batch.epoch))}::bigint[], ${below}::bigint[], ${end}::bigint[]) as b(run_id, link_id, epoch, below, top_end)
    ),
    continues as (
      select b.run_id, b.top_end from b join runs r on r.id = b.run_id
      where r.link_id = b.link_id and r.session_epoch = b.epoch and r.state in ('dispatched', 'running', 'waiting') and r.last_seq = b.below
    ),
    inserted as (
      insert into run_events (run_id, seq, kind, body)
      select e.run_id, e.seq, e.kind, substring(${rows.bodies}::bytea from e.start for e.len)
      from unnest(${runOfRow}::text[], ${rows.seqs}::bigint[], ${rows.kinds}::text[], ${rows.starts}::int[], ${rows.lengths}::int[]) as e(run_id, seq, kind, start, len)
      where e.run_id in (select run_id from continues)
      on conflict (run_id, seq) do nothing
    ),
    -- The scan sees the snapshot before the insert: rows stored earlier, past each batch.
    known as (select k.run_id, k.seq from run_events k join continues c on k.run_id = c.run_id and k.seq > c.top_end),
    numbered as (select run_id, seq, seq - row_number() over (partition by run_id order by seq) as base from known)
    select c.run_id, coalesce((select max(n.seq) from numbered n where n.run_id = c.run_id and n.base = c.top_end), c.top_end)::text as top
    from continues c`.execute();
  return (statement as unknown as Promise<{ run_id: string; top: string }[]>).then((found) => new Map(found.map((row) => [row.run_id, BigInt(row.top)])));
}

/**
 * Inserts `fresh` (as arrays, one statement whatever their number) and returns the top of the
 * contiguous prefix over what was there and what went in. The usual batch continues the prefix
 * (seqs lastSeq+1 … lastSeq+n): then only rows stored earlier above it are scanned, none read back.
 */
async function insertEvents(tx: TransactionSql, runId: string, lastSeq: bigint, fresh: RunEvent[], bodies: Uint8Array[]): Promise<bigint> {
  const insert = insertRows(tx, runId, fresh, bodies, true);
  const end = lastSeq + BigInt(fresh.length);
  if (fresh.every((e, i) => e.seq === lastSeq + BigInt(i + 1))) {
    // The scan sees the snapshot before the insert: rows stored earlier, past this batch.
    const [row] = (await tx`
      with inserted as (${insert}), known as (select seq from run_events where run_id = ${runId} and seq > ${String(end)})
      ${contiguousTop(tx, end)}`) as unknown as { top: string }[];
    return BigInt(row.top);
  }
  // Out of order (a gap, or seqs overlapping rows stored past the prefix): what went in counts too.
  const [row] = (await tx`
    with inserted as (${insert} returning seq), known as (
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
  await Promise.all([
    sessionId && run.thread_id ? ThreadStore.recordSessionInTx(tx, run.thread_id, sessionId, false) : undefined,
    // The run is in its sandbox on the machine: the map learns where that is.
    cwd && run.sandbox_id ? SandboxStore.markReadyInTx(tx, run.sandbox_id, cwd) : undefined,
  ]);
}

/**
 * Ends an unfinished run from the control plane's side with its terminal event at the next seq
 * (see RunStore.finish). Returns what it stored, or undefined when the run had ended or `guard` refused.
 */
export async function finishRun(sql: Sql, runId: string, status: RunStatus, reason: RunFailureReason, message: string, guard?: FinishGuard, origin?: string): Promise<StoredOutcome | undefined> {
  return sql.begin(async (tx) => {
    const [run] = await tx<(FencedRun & { overdue: boolean })[]>`
      select link_id, thread_id, state, session_epoch::text, last_seq::text,
        coalesce(detached_at <= now() - ${(guard?.detachedForMs ?? 0) / 1000} * interval '1 second', false) as overdue
      from runs where id = ${runId} for update`;
    if (!run || !UNFINISHED.includes(run.state)) return undefined;
    if (guard?.epoch !== undefined && run.session_epoch !== String(guard.epoch)) return undefined;
    if (guard?.state !== undefined && run.state !== guard.state) return undefined;
    if (guard?.linkId !== undefined && run.link_id !== guard.linkId) return undefined;
    if (guard?.detachedForMs !== undefined && !run.overdue) return undefined;
    const seq = (await contiguous(tx, runId, BigInt(run.last_seq))) + 1n;
    const events: RunEvent[] = [];
    if (status === RunStatus.FAILED) {
      events.push(create(RunEventSchema, { seq, at: timestampNow(), event: { case: 'error', value: { code: reason, message } } }));
    }
    const done = create(RunDoneSchema, { status, failureReason: reason, exitCode: -1 });
    events.push(create(RunEventSchema, { seq: seq + BigInt(events.length), at: timestampNow(), event: { case: 'done', value: done } }));
    const bodies = encodeEach(events);
    await insertRows(tx, runId, events, bodies, false);
    const last = events[events.length - 1].seq;
    await closePendingInTx(tx, runId);
    const ending = { id: runId, linkId: run.link_id, threadId: run.thread_id };
    const state = await endStateInTx(tx, ending, done);
    await tx`update runs set state = ${state}, failure_reason = ${reason}, exit_code = -1, finished_at = now(),
               last_seq = ${String(last)} where id = ${runId}`;
    await afterRunEndedInTx(tx, ending, state, done);
    await notify(tx, 'run_event', runEventPayload(runId, last, events, origin, bodies));
    return { stored: events.length, outcome: { state, reason }, events };
  });
}

/**
 * Stored events after `afterSeq`, in order, up to the contiguous prefix (`last_seq`): a watcher
 * never sees an event before all the ones ahead of it.
 */
export async function readEvents(sql: Sql, runId: string, afterSeq: bigint, limit: number): Promise<SizedEvents> {
  const rows = await sql<{ body: Buffer }[]>`
    select e.body from run_events e join runs r on r.id = e.run_id
    where e.run_id = ${runId} and e.seq > ${String(afterSeq)} and e.seq <= r.last_seq
    order by e.seq limit ${limit}`;
  return { events: rows.map((row) => fromBinary(RunEventSchema, row.body)), sizes: rows.map((row) => row.body.length) };
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


