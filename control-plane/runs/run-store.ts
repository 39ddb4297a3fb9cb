/**
 * Threads, runs and run events in Postgres. The run row is the queue: `sendMessage` inserts it
 * `queued` in the same transaction as the message and notifies `run_queued`; the replica that holds
 * the link's session claims it with a compare-and-set (`queued → dispatched`). Events are inserted
 * in batches with ON CONFLICT DO NOTHING (resends are harmless), fenced by the session epoch that
 * accepted the run, and announced on `run_event` so WatchRun on any replica follows them.
 *
 *   run_queued {linkId}         a run waits for the replica that holds the link
 *   run_event  {runId, seq}     events up to seq are stored
 *   run_cancel {runId, linkId}  cancel a run on the machine
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import type { Sql, TransactionSql } from 'postgres';
import { Channel } from '../../common/channel.js';
import type { Logger } from '../../common/log.js';
import { RunDoneSchema, RunEventSchema, RunStatus, type RunEvent } from '../../gen/link/v1/run_pb.js';
import { upsertSandbox, type SandboxKey } from '../sandboxes/sandbox-store.js';
import { newId } from '../store/store.js';
import { EventsRefusal, Reason, RunFailure, type RunFailureReason } from '../../common/reasons.js';

export type RunStateName = 'queued' | 'dispatched' | 'running' | 'completed' | 'failed' | 'cancelled';
export const UNFINISHED: RunStateName[] = ['queued', 'dispatched', 'running'];

export interface ThreadRow {
  id: string;
  user_id: string;
  title: string;
  harness: string | null;
  link_id: string | null;
  sandbox_provider: string | null;
  branch: string | null;
  repository: string | null;
  sandbox_id: string | null;
  session_id: string;
  created_at: Date;
  updated_at: Date;
  last_run_state?: RunStateName | null;
}

export interface RunRow {
  id: string;
  /** Null for an Exec (a command run in a sandbox outside any thread). */
  thread_id: string | null;
  sandbox_id: string | null;
  user_id: string;
  link_id: string;
  harness: string;
  model: string;
  tier: number;
  prompt: string;
  resume_session_id: string;
  state: RunStateName;
  session_epoch: string | null;
  cancel_requested_at: Date | null;
  exit_code: number;
  failure_reason: string;
  session_id: string;
  last_seq: string;
  created_at: Date;
  dispatched_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  /** When the session holding it ended with no newer one taking it over; null while held. */
  detached_at: Date | null;
}

/** A run held by a session (for the lost-run sweep). */
export interface HeldRunRow {
  id: string;
  userId: string;
  linkId: string;
  epoch: bigint;
}

/** Only end the run if it still belongs to this session, and (when set) has been without it this long. */
export interface FinishGuard {
  epoch: bigint;
  detachedForMs?: number;
}

export interface SandboxSpecRow {
  handle: string;
  provider: string;
  repository: string;
  branch: string;
}

export interface MessageRow {
  id: string;
  thread_id: string;
  text: string;
  model: string;
  tier: number;
  run_id: string | null;
  created_at: Date;
}

/** Why sendMessage refused, before anything was written. */
export class SendRefused extends Error {
  constructor(
    readonly reason: typeof Reason.ThreadNotFound | typeof Reason.ThreadPinned | typeof Reason.ThreadBusy,
    message: string,
    readonly metadata: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface SendInput {
  userId: string;
  threadId: string;
  text: string;
  harness: string;
  linkId: string;
  sandboxProvider: string;
  branch: string;
  repository: string;
  /**
   * Where the thread's sandbox is, for its first message: the row is found or made (pending) in
   * the run's transaction, so a refused message leaves none. Null only where a caller keeps no
   * sandbox map. A thread that has its sandbox keeps it; one whose sandbox was deleted gets it again.
   */
  sandbox: SandboxKey | null;
  model: string;
  tier: number;
}

const RUN_COLUMNS = `id, thread_id, sandbox_id, user_id, link_id, harness, model, tier, prompt, resume_session_id, state, session_epoch::text,
  cancel_requested_at, exit_code, failure_reason, session_id, last_seq::text, created_at, dispatched_at, started_at, finished_at, detached_at`;

type Listener<T> = (message: T) => void;

/** What the store reports to metrics. */
export interface RunObserver {
  runsFinished: { inc(labels: { state: string; reason: string }): void };
  eventsStored: { inc(n: number): void };
  notificationLag: { observe(labels: { channel: string }, seconds: number): void };
}

export class RunStore {
  private readonly queuedListeners = new Set<Listener<{ linkId: string }>>();
  private readonly cancelListeners = new Set<Listener<{ runId: string; linkId: string }>>();
  private readonly eventListeners = new Map<string, Set<() => void>>();
  private readonly unlisteners: (() => Promise<void>)[] = [];
  private observer: RunObserver | undefined;

  private constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
  ) {}

  static async open(sql: Sql, log: Logger): Promise<RunStore> {
    const store = new RunStore(sql, log);
    const parse = <T>(payload: string): T | undefined => {
      try {
        return JSON.parse(payload) as T;
      } catch {
        return undefined;
      }
    };
    for (const [channel, deliver] of [
      ['run_queued', (p: string) => {
        const message = parse<{ linkId: string; at?: number }>(p);
        store.lag('run_queued', message);
        store.emit(store.queuedListeners, message);
      }],
      ['run_cancel', (p: string) => store.emit(store.cancelListeners, parse<{ runId: string; linkId: string }>(p))],
      ['run_event', (p: string) => {
        const message = parse<{ runId: string; at?: number }>(p);
        store.lag('run_event', message);
        store.wakeWatchers(message?.runId);
      }],
    ] as const) {
      // After a reconnect of the LISTEN connection notifications may have been missed: wake every
      // watcher so it reads the table again.
      const { unlisten } = await sql.listen(channel, deliver, () => store.wakeAllWatchers());
      store.unlisteners.push(unlisten);
    }
    return store;
  }

  async close(): Promise<void> {
    for (const unlisten of this.unlisteners.splice(0)) await unlisten().catch(() => undefined);
  }

  observe(observer: RunObserver): void {
    this.observer = observer;
  }

  /** Notification payloads carry their send time (`at`, ms); the lag is how late this replica got it. */
  private lag(channel: string, payload: { at?: number } | undefined): void {
    if (payload?.at) this.observer?.notificationLag.observe({ channel }, Math.max(0, Date.now() - payload.at) / 1000);
  }

  private emit<T>(listeners: Set<Listener<T>>, message: T | undefined): void {
    if (!message) return;
    for (const listener of [...listeners]) {
      try {
        listener(message);
      } catch (error) {
        this.log.error({ err: error }, 'a run notification listener failed');
      }
    }
  }

  onRunQueued(listener: Listener<{ linkId: string }>): () => void {
    this.queuedListeners.add(listener);
    return () => this.queuedListeners.delete(listener);
  }

  onRunCancel(listener: Listener<{ runId: string; linkId: string }>): () => void {
    this.cancelListeners.add(listener);
    return () => this.cancelListeners.delete(listener);
  }

  /** Calls `wake` whenever new events of `runId` may be stored. */
  onRunEvent(runId: string, wake: () => void): () => void {
    let set = this.eventListeners.get(runId);
    if (!set) this.eventListeners.set(runId, (set = new Set()));
    set.add(wake);
    return () => {
      set!.delete(wake);
      if (set!.size === 0) this.eventListeners.delete(runId);
    };
  }

  private wakeWatchers(runId: string | undefined): void {
    if (!runId) return;
    for (const wake of [...(this.eventListeners.get(runId) ?? [])]) wake();
  }

  private wakeAllWatchers(): void {
    for (const set of this.eventListeners.values()) for (const wake of [...set]) wake();
  }

  // ── threads ──────────────────────────────────────────────────────────────

  async createThread(userId: string, title: string): Promise<ThreadRow> {
    const [row] = await this.sql<ThreadRow[]>`
      insert into threads (id, user_id, title) values (${newId('thr')}, ${userId}, ${title}) returning *`;
    return row;
  }

  async listThreads(userId: string): Promise<ThreadRow[]> {
    return this.sql<ThreadRow[]>`
      select t.*, (select r.state from runs r where r.thread_id = t.id order by r.created_at desc limit 1) as last_run_state
      from threads t where t.user_id = ${userId} order by t.updated_at desc limit 500`;
  }

  async getThread(userId: string, threadId: string): Promise<{ thread: ThreadRow; messages: MessageRow[]; runs: RunRow[] } | undefined> {
    const [thread] = await this.sql<ThreadRow[]>`
      select t.*, (select r.state from runs r where r.thread_id = t.id order by r.created_at desc limit 1) as last_run_state
      from threads t where t.id = ${threadId} and t.user_id = ${userId}`;
    if (!thread) return undefined;
    const messages = await this.sql<MessageRow[]>`select * from messages where thread_id = ${threadId} order by created_at, id`;
    const runs = await this.sql<RunRow[]>`select ${this.sql.unsafe(RUN_COLUMNS)} from runs where thread_id = ${threadId} order by created_at, id`;
    return { thread, messages, runs };
  }

  // ── queueing ─────────────────────────────────────────────────────────────

  /**
   * Pins the thread on its first message (refusing THREAD_PINNED on a later mismatch), inserts the
   * message and its `queued` run in one transaction (THREAD_BUSY when a run is unfinished), and
   * wakes the replica that holds the link.
   */
  async sendMessage(input: SendInput): Promise<{ runId: string; messageId: string }> {
    const runId = newId('run');
    const messageId = newId('msg');
    await this.sql.begin(async (tx) => {
      const [thread] = await tx<ThreadRow[]>`select * from threads where id = ${input.threadId} and user_id = ${input.userId} for update`;
      if (!thread) throw new SendRefused(Reason.ThreadNotFound, `no thread ${input.threadId}`, { thread_id: input.threadId });
      const hasPins = thread.harness !== null;
      if (hasPins) {
        const pins: [string, string | null, string][] = [
          ['harness', thread.harness, input.harness],
          ['link_id', thread.link_id, input.linkId],
          ['sandbox_provider', thread.sandbox_provider, input.sandboxProvider],
          ['branch', thread.branch, input.branch],
          ['repository', thread.repository, input.repository],
        ];
        for (const [field, pinned, asked] of pins) {
          if (asked !== '' && asked !== pinned) {
            throw new SendRefused(
              Reason.ThreadPinned,
              `this thread runs with ${field} "${pinned}"; start a new thread to use "${asked}"`,
              { field, pinned: pinned ?? '', requested: asked },
            );
          }
        }
      }
      if (thread.sandbox_id === null && input.sandbox) {
        thread.sandbox_id = (await upsertSandbox(tx, input.sandbox)).id;
        if (hasPins) await tx`update threads set sandbox_id = ${thread.sandbox_id} where id = ${thread.id}`;
      }
      if (!hasPins) {
        await tx`update threads set harness = ${input.harness}, link_id = ${input.linkId},
                   sandbox_provider = ${input.sandboxProvider}, branch = ${input.branch},
                   repository = ${input.repository}, sandbox_id = ${thread.sandbox_id},
                   title = case when title = '' then ${input.text.slice(0, 80)} else title end
                 where id = ${thread.id}`;
      }
      const harness = thread.harness ?? input.harness;
      const linkId = thread.link_id ?? input.linkId;
      try {
        await tx`
          insert into runs (id, thread_id, sandbox_id, user_id, link_id, harness, model, tier, prompt, resume_session_id, state)
          values (${runId}, ${thread.id}, ${thread.sandbox_id}, ${input.userId}, ${linkId}, ${harness}, ${input.model},
                  ${input.tier}, ${input.text}, ${thread.session_id}, 'queued')`;
      } catch (error) {
        if ((error as { code?: string }).code === '23505') {
          throw new SendRefused(Reason.ThreadBusy, 'a run is already in progress on this thread; wait for it or cancel it', { thread_id: thread.id });
        }
        throw error;
      }
      await tx`insert into messages (id, thread_id, text, model, tier, run_id)
               values (${messageId}, ${thread.id}, ${input.text}, ${input.model}, ${input.tier}, ${runId})`;
      await tx`update threads set updated_at = now() where id = ${thread.id}`;
      await tx`select pg_notify('run_queued', ${JSON.stringify({ linkId, at: Date.now() })})`;
    });
    return { runId, messageId };
  }

  /** Queues a command in a sandbox (SandboxService.Exec): a shell run outside any thread. */
  async queueExec(input: { userId: string; linkId: string; sandboxId: string; command: string }): Promise<string> {
    const runId = newId('run');
    await this.sql.begin(async (tx) => {
      await tx`insert into runs (id, sandbox_id, user_id, link_id, harness, prompt, state)
               values (${runId}, ${input.sandboxId}, ${input.userId}, ${input.linkId}, 'shell', ${input.command}, 'queued')`;
      await tx`select pg_notify('run_queued', ${JSON.stringify({ linkId: input.linkId, at: Date.now() })})`;
    });
    return runId;
  }

  /** The thread as it stands (pins) for the checks before queueing. */
  async threadPins(userId: string, threadId: string): Promise<ThreadRow | undefined> {
    const [row] = await this.sql<ThreadRow[]>`select * from threads where id = ${threadId} and user_id = ${userId}`;
    return row;
  }

  // ── dispatch ─────────────────────────────────────────────────────────────

  /**
   * Claims queued runs of the link for a session (compare-and-set), oldest first: at most `capacity`
   * runs of the link are dispatched or running at once, and none for a session older than one that
   * holds runs of the link already. One statement, with each run's sandbox.
   */
  async claimQueued(linkId: string, epoch: bigint, capacity: number): Promise<(RunRow & { sandbox: SandboxSpecRow | null })[]> {
    if (capacity <= 0) return [];
    return this.sql<(RunRow & { sandbox: SandboxSpecRow | null })[]>`
      with room as (
        -- No room at all for a session older than one that already holds runs of the link: it was superseded.
        select case when bool_or(session_epoch > ${String(epoch)}) then 0 else greatest(0, ${capacity}::int - count(*)::int) end as n
        from runs where link_id = ${linkId} and state in ('dispatched', 'running')
      ), claimed as (
        update runs set state = 'dispatched', session_epoch = ${String(epoch)}, dispatched_at = now(), detached_at = null
        where id in (
          select id from runs where link_id = ${linkId} and state = 'queued' and cancel_requested_at is null
          order by created_at limit (select n from room) for update skip locked)
        and state = 'queued'
        returning *
      )
      select ${this.sql.unsafe(RUN_COLUMNS.replace(/(^|,\s*)(\w+)/g, '$1c.$2'))},
        case when s.id is null then null
             else json_build_object('handle', s.id, 'provider', s.provider, 'repository', s.repository, 'branch', s.branch) end as sandbox
      from claimed c left join sandboxes s on s.id = c.sandbox_id
      order by c.created_at`;
  }

  /** Runs of the link that must be cancelled on the machine (requested while dispatched or running). */
  async pendingCancels(linkId: string): Promise<RunRow[]> {
    return this.sql<RunRow[]>`
      select ${this.sql.unsafe(RUN_COLUMNS)} from runs
      where link_id = ${linkId} and state in ('dispatched', 'running') and cancel_requested_at is not null`;
  }

  async markRunning(runId: string, linkId: string, epoch: bigint): Promise<boolean> {
    const rows = await this.sql`
      update runs set state = 'running', started_at = coalesce(started_at, now())
      where id = ${runId} and link_id = ${linkId} and session_epoch = ${String(epoch)} and state in ('dispatched', 'running')
      returning id`;
    return rows.length > 0;
  }

  /**
   * After a reconnect: the new session adopts the runs the agent still holds (their writes are
   * fenced to the new epoch, and they are attached again), runs it never accepted go back to the
   * queue, and runs it was running but no longer holds fail AGENT_RESTARTED. Every transition is a
   * compare-and-set on an older epoch: a session never takes a run from a newer one, and a run the
   * lost-run sweep failed meanwhile stays failed. Returns the stored seq of each adopted run.
   */
  async adoptRuns(linkId: string, epoch: bigint, held: string[]): Promise<{ cursors: Map<string, bigint>; failed: string[] }> {
    const mine = String(epoch);
    const adopted = await this.sql<{ id: string; last_seq: string }[]>`
      update runs set session_epoch = ${mine}, detached_at = null
      where link_id = ${linkId} and id = any(${held}::text[]) and state in ('dispatched', 'running') and session_epoch < ${mine}
      returning id, last_seq::text`;
    await this.sql`
      update runs set state = 'queued', session_epoch = null, dispatched_at = null, detached_at = null
      where link_id = ${linkId} and state = 'dispatched' and not (id = any(${held}::text[])) and cancel_requested_at is null
        and session_epoch < ${mine}`;
    const lost = await this.sql<{ id: string; epoch: string }[]>`
      select id, session_epoch::text as epoch from runs where link_id = ${linkId} and not (id = any(${held}::text[])) and session_epoch < ${mine}
        and (state = 'running' or (state = 'dispatched' and cancel_requested_at is not null))`;
    const failed: string[] = [];
    for (const { id, epoch: theirs } of lost) {
      const guard = { epoch: BigInt(theirs) };
      if (await this.finish(id, RunStatus.FAILED, RunFailure.AgentRestarted, 'the agent restarted and no longer has this run', guard)) failed.push(id);
    }
    return { cursors: new Map(adopted.map((r) => [r.id, BigInt(r.last_seq)])), failed };
  }

  /**
   * The session `epoch` of the link ended: its unfinished runs are detached from now on, and fail
   * LINK_LOST once they have been for the grace period unless a newer session adopts them first.
   * A run a newer session already took over is not touched. Returns the runs detached.
   */
  async detachRuns(linkId: string, epoch: bigint): Promise<string[]> {
    const rows = await this.sql<{ id: string }[]>`
      update runs set detached_at = now()
      where link_id = ${linkId} and session_epoch = ${String(epoch)} and state in ('dispatched', 'running') and detached_at is null
      returning id`;
    return rows.map((r) => r.id);
  }

  /** A live session holds these runs after all (the sweep saw it late): they are attached again. */
  async reattachRuns(linkId: string, epoch: bigint): Promise<void> {
    await this.sql`
      update runs set detached_at = null
      where link_id = ${linkId} and session_epoch = ${String(epoch)} and state in ('dispatched', 'running') and detached_at is not null`;
  }

  /** Unfinished runs that some session holds (not detached), for the sweep to check those sessions are alive. */
  async heldRuns(): Promise<HeldRunRow[]> {
    const rows = await this.sql<{ id: string; user_id: string; link_id: string; epoch: string }[]>`
      select id, user_id, link_id, session_epoch::text as epoch from runs
      where state in ('dispatched', 'running') and session_epoch is not null and detached_at is null`;
    return rows.map((r) => ({ id: r.id, userId: r.user_id, linkId: r.link_id, epoch: BigInt(r.epoch) }));
  }

  /** Unfinished runs detached from their session for at least `graceMs` (by the database's clock). */
  async overdueRuns(graceMs: number): Promise<HeldRunRow[]> {
    const rows = await this.sql<{ id: string; user_id: string; link_id: string; epoch: string }[]>`
      select id, user_id, link_id, session_epoch::text as epoch from runs
      where state in ('dispatched', 'running') and detached_at is not null
        and detached_at <= now() - ${graceMs / 1000} * interval '1 second'`;
    return rows.map((r) => ({ id: r.id, userId: r.user_id, linkId: r.link_id, epoch: BigInt(r.epoch) }));
  }

  /** Fails LINK_LOST a run still detached from session `epoch` for the whole grace (checked under its row lock). */
  async failLostRun(runId: string, epoch: bigint, graceMs: number): Promise<boolean> {
    return this.finish(runId, RunStatus.FAILED, RunFailure.LinkLost, 'the machine disconnected and did not come back in time', { epoch, detachedForMs: graceMs });
  }

  // ── events ───────────────────────────────────────────────────────────────

  /**
   * Stores a batch of the agent's events. Refused (nothing written) when the run is not this link's
   * or was accepted by another session epoch. Returns the highest contiguous stored seq (what the
   * agent may forget) and whether the run just finished.
   */
  async appendEvents(
    runId: string,
    linkId: string,
    epoch: bigint,
    events: RunEvent[],
  ): Promise<{ ok: true; acked: bigint; finished: boolean } | { ok: false; reason: EventsRefusal; why: string }> {
    const result = await this.sql.begin(async (tx) => {
      const [run] = await tx<RunRow[]>`select ${tx.unsafe(RUN_COLUMNS)} from runs where id = ${runId} for update`;
      if (!run || run.link_id !== linkId) return { ok: false as const, reason: EventsRefusal.NotThisLink, why: 'not a run of this link' };
      const lastSeq = BigInt(run.last_seq);
      if (!UNFINISHED.includes(run.state)) {
        // Finished (by its own Done, or by the control plane): everything it sends is moot.
        const top = events.reduce((m, e) => (e.seq > m ? e.seq : m), lastSeq);
        return { ok: true as const, acked: top, finished: false };
      }
      if (run.session_epoch !== String(epoch)) return { ok: false as const, reason: EventsRefusal.Fenced, why: `fenced: the run belongs to session ${run.session_epoch}` };
      const fresh = events.filter((e) => e.seq > lastSeq && e.seq > 0n);
      let acked: bigint;
      if (fresh.length > 0) {
        // One statement: insert, then the contiguous prefix over what was there and what went in
        // (the scan sees the snapshot before the insert, so the two sets do not overlap).
        const rows = fresh.map((e) => ({ run_id: runId, seq: String(e.seq), kind: e.event.case ?? '', body: Buffer.from(toBinary(RunEventSchema, e)) }));
        const [row] = (await tx`
          with inserted as (
            insert into run_events ${tx(rows, 'run_id', 'seq', 'kind', 'body')} on conflict (run_id, seq) do nothing returning seq
          ), known as (
            select seq from run_events where run_id = ${runId} and seq > ${String(lastSeq)}
            union all select seq from inserted
          )
          ${contiguousTop(tx, lastSeq)}`) as unknown as { top: string }[];
        acked = BigInt(row.top);
      } else {
        acked = await contiguous(tx, runId, lastSeq);
      }
      let finished = false;
      const stored = fresh.filter((e) => e.seq <= acked);
      const started = stored.find((e) => e.event.case === 'started');
      if (started?.event.case === 'started') {
        const { sessionId, cwd } = started.event.value;
        if (sessionId && run.thread_id) await tx`update threads set session_id = ${sessionId} where id = ${run.thread_id}`;
        // The run is in its sandbox on the machine: the map learns where that is.
        if (cwd && run.sandbox_id) {
          await tx`update sandboxes set state = 'ready', path = ${cwd}, error = '', last_used_at = now() where id = ${run.sandbox_id}`;
        }
      }
      const done = stored.find((e) => e.event.case === 'done');
      if (done?.event.case === 'done') {
        const d = done.event.value;
        await tx`
          update runs set state = ${stateOf(d.status)}, exit_code = ${d.exitCode}, failure_reason = ${d.failureReason},
            session_id = ${d.sessionId}, finished_at = now(), last_seq = ${String(acked)}
          where id = ${runId}`;
        if (d.sessionId && run.thread_id) await tx`update threads set session_id = ${d.sessionId}, updated_at = now() where id = ${run.thread_id}`;
        finished = true;
      } else {
        // The update and the announcement in one round trip.
        await tx`
          with updated as (
            update runs set last_seq = ${String(acked)}, state = 'running', started_at = coalesce(started_at, now()) where id = ${runId} returning id
          )
          select pg_notify('run_event', ${JSON.stringify({ runId, seq: String(acked), at: Date.now() })}) from updated where ${acked > lastSeq}`;
      }
      if (finished) await tx`select pg_notify('run_event', ${JSON.stringify({ runId, seq: String(acked), at: Date.now() })})`;
      const outcome = done?.event.case === 'done' ? { state: stateOf(done.event.value.status), reason: done.event.value.failureReason } : undefined;
      return { ok: true as const, acked, finished, stored: fresh.length, outcome };
    });
    if (!result.ok) return result;
    if ('stored' in result) {
      if (result.stored) this.observer?.eventsStored.inc(result.stored);
      if (result.outcome) this.observer?.runsFinished.inc(result.outcome);
    }
    return { ok: true, acked: result.acked, finished: result.finished };
  }

  /**
   * Ends an unfinished run from the control plane's side with its terminal event at the next seq
   * (rejections, cancel before dispatch, LINK_LOST, AGENT_RESTARTED). False when it had ended, or
   * when `guard` is given and the run moved to another session (or was attached again) meanwhile.
   */
  async finish(runId: string, status: RunStatus, reason: RunFailureReason, message: string, guard?: FinishGuard): Promise<boolean> {
    return this.sql.begin(async (tx) => {
      const [run] = await tx<(RunRow & { overdue: boolean })[]>`
        select ${tx.unsafe(RUN_COLUMNS)},
          coalesce(detached_at <= now() - ${(guard?.detachedForMs ?? 0) / 1000} * interval '1 second', false) as overdue
        from runs where id = ${runId} for update`;
      if (!run || !UNFINISHED.includes(run.state)) return false;
      if (guard && run.session_epoch !== String(guard.epoch)) return false;
      if (guard?.detachedForMs !== undefined && !run.overdue) return false;
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
      await tx`update runs set state = ${stateOf(status)}, failure_reason = ${reason}, exit_code = -1, finished_at = now(),
                 last_seq = ${String(last)} where id = ${runId}`;
      await tx`select pg_notify('run_event', ${JSON.stringify({ runId, seq: String(last), at: Date.now() })})`;
      this.observer?.eventsStored.inc(events.length);
      this.observer?.runsFinished.inc({ state: stateOf(status), reason });
      return true;
    });
  }

  /** Records a cancel request. A queued run is cancelled at once; otherwise the holder is told. */
  async requestCancel(userId: string, runId: string): Promise<RunStateName | undefined> {
    const [run] = await this.sql<RunRow[]>`
      update runs set cancel_requested_at = coalesce(cancel_requested_at, now())
      where id = ${runId} and user_id = ${userId} returning ${this.sql.unsafe(RUN_COLUMNS)}`;
    if (!run) return undefined;
    if (run.state === 'queued') {
      await this.finish(runId, RunStatus.CANCELLED, RunFailure.Cancelled, 'cancelled before it reached the machine');
      return 'cancelled';
    }
    if (UNFINISHED.includes(run.state)) {
      await this.sql`select pg_notify('run_cancel', ${JSON.stringify({ runId, linkId: run.link_id })})`;
    }
    return run.state;
  }

  async getRun(userId: string, runId: string): Promise<RunRow | undefined> {
    const [row] = await this.sql<RunRow[]>`select ${this.sql.unsafe(RUN_COLUMNS)} from runs where id = ${runId} and user_id = ${userId}`;
    return row;
  }

  async listRuns(userId: string, threadId?: string): Promise<RunRow[]> {
    return threadId
      ? this.sql<RunRow[]>`select ${this.sql.unsafe(RUN_COLUMNS)} from runs where user_id = ${userId} and thread_id = ${threadId} order by created_at desc limit 200`
      : this.sql<RunRow[]>`select ${this.sql.unsafe(RUN_COLUMNS)} from runs where user_id = ${userId} order by created_at desc limit 200`;
  }

  /**
   * A run's events after `afterSeq`: what is stored, then live as it is stored (on any replica),
   * ending after the terminal `done` event or when `signal` aborts. A database that goes away for a
   * while (a restart, a failover) is waited for, up to {@link DATABASE_OUTAGE_MS}; the watcher
   * misses nothing, as it reads from where it was.
   */
  async *follow(runId: string, afterSeq: bigint, signal: AbortSignal): AsyncGenerator<RunEvent> {
    // Listen before reading, so nothing stored between the read and the wait is missed.
    const wake = new Channel<void>();
    const stop = this.onRunEvent(runId, () => wake.size === 0 && wake.push());
    const onAbort = () => wake.close();
    signal.addEventListener('abort', onAbort, { once: true });
    const pending = wake[Symbol.asyncIterator]();
    let cursor = afterSeq;
    try {
      for (;;) {
        const batch = await this.riding(() => this.events(runId, cursor, 500), signal);
        if (!batch) return;
        for (const event of batch) {
          yield event;
          cursor = event.seq;
          if (event.event.case === 'done') return;
        }
        if (batch.length === 500) continue;
        if ((await pending.next()).done) return;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      stop();
      wake.close();
    }
  }

  /** `read`, again while the database is unreachable (with backoff, for a bounded time); undefined once `signal` aborted. */
  private async riding<T>(read: () => Promise<T>, signal: AbortSignal): Promise<T | undefined> {
    const since = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await read();
      } catch (error) {
        if (!isConnectionError(error) || Date.now() - since > DATABASE_OUTAGE_MS) throw error;
        if (attempt === 0) this.log.warn({ err: error }, 'the database is unreachable; watchers wait for it');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, Math.min(2_000, 100 * 2 ** attempt));
          signal.addEventListener('abort', done, { once: true });
          function done() {
            clearTimeout(timer);
            signal.removeEventListener('abort', done);
            resolve();
          }
        });
        if (signal.aborted) return undefined;
      }
    }
  }

  /**
   * Stored events after `afterSeq`, in order, up to the contiguous prefix (`last_seq`): a watcher
   * never sees an event before all the ones ahead of it.
   */
  async events(runId: string, afterSeq: bigint, limit: number): Promise<RunEvent[]> {
    const rows = await this.sql<{ body: Buffer }[]>`
      select e.body from run_events e join runs r on r.id = e.run_id
      where e.run_id = ${runId} and e.seq > ${String(afterSeq)} and e.seq <= r.last_seq
      order by e.seq limit ${limit}`;
    return rows.map((row) => fromBinary(RunEventSchema, new Uint8Array(row.body)));
  }
}

/** How long a watcher waits for an unreachable database before its call fails. */
export const DATABASE_OUTAGE_MS = 60_000;

/**
 * True for an error that says the database connection went away (not that the query was wrong):
 * postgres.js's own connection errors, socket errors, SQLSTATE class 08, and the server shutting
 * down or starting up (57P01, 57P02, 57P03).
 */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return false;
  return (
    code.startsWith('CONNECT') ||
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', '57P01', '57P02', '57P03'].includes(code) ||
    code.startsWith('08')
  );
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

function stateOf(status: RunStatus): RunStateName {
  return status === RunStatus.COMPLETED ? 'completed' : status === RunStatus.CANCELLED ? 'cancelled' : 'failed';
}
