/**
 * Runs and their events in Postgres. The run row is the queue: a message's run is inserted
 * `queued` in the thread's transaction (`insertQueuedInTx`) and announced on `run_queued`; the
 * replica that holds the link's session claims it with a compare-and-set (`queued → dispatched`).
 * Events are stored by `run-events.ts` (small plain batches of several runs together by
 * `event-group.ts`) and followed by `run-follow.ts`; `run_event` and `run_cancel` go out through
 * `notifications.ts`. Rows become camelCase records here.
 */
import { randomUUID } from 'node:crypto';
import { create, fromBinary } from '@bufbuild/protobuf';
import type { Sql, TransactionSql } from 'postgres';
import type { Logger } from '../../common/log.js';
import { AllowRuleSchema, RunEventSchema, RunStatus, type AllowRule, type RunEvent } from '../../gen/link/v1/run_pb.js';
import { notify, type Delivered, type Notifications } from '../notifications.js';
import type { SandboxSpec } from '../sandboxes/sandbox-store.js';
import { newId } from '../store/store.js';
import { appendEvents, finishRun, readEvents, UNFINISHED, type AppendResult, type FinishGuard, type RunStateName, type StoredOutcome } from './run-events.js';
import { batched } from '../store/batched.js';
import { EventGroupWriter, groupable, type GroupedBatch, type GroupedResult } from './event-group.js';
import { followRun, followRunBatches, type RunEventDelivery, type SizedEvents } from './run-follow.js';
import { RUN_COLUMNS, run, type PermissionModeName, type RunRecord, type RunRow } from './run-record.js';
import { RunFailure, type RunFailureReason } from '../../common/reasons.js';
import { cancelParkedInTx } from '../limits/parking.js';

export { UNFINISHED, type FinishGuard, type RunStateName } from './run-events.js';
export { DATABASE_OUTAGE_MS, isConnectionError } from './run-follow.js';
export type { RunRecord } from './run-record.js';

/** A run just claimed for a session, with where it runs and its thread's "always allow" rules. */
export type ClaimedRun = RunRecord & { sandbox: SandboxSpec | null; allowRules: AllowRule[] };

/** A claimed run's row with its sandbox's columns (null without one) and its thread's allow rules. */
type ClaimRow = RunRow & { sandbox_provider: string | null; sandbox_repository: string | null; sandbox_branch: string | null; allow_rules: { tool: string; commandPrefix: string }[] };

/** A run held by a session (for the lost-run sweep). */
export interface HeldRunRow {
  id: string;
  userId: string;
  linkId: string;
  epoch: bigint;
}

/** A run to queue in a thread's transaction (see ThreadStore.sendMessage). */
export interface QueuedRun {
  /** Its id, when the caller needs it before the insert's answer (default: a new one). */
  id?: string;
  threadId: string;
  sandboxId: string | null;
  /** The sandbox is the thread's as this transaction wrote it (`sandboxId` is ignored): its first message's. */
  sandboxOfThread?: boolean;
  userId: string;
  linkId: string;
  harness: string;
  model: string;
  tier: number;
  prompt: string;
  resumeSessionId: string;
  /** What the harness may do without asking (default 'edits'). */
  permissionMode?: PermissionModeName;
  /** Not taken by its machine by then, it fails EXPIRED (absent: never). */
  expiresAt?: Date | null;
}

/** What the store reports to metrics. */
export interface RunObserver {
  runsFinished: { inc(labels: { state: string; reason: string }): void };
  eventsStored: { inc(n: number): void };
  /** How many batches each group commit stored (event-group.ts). */
  eventBatchesPerCommit: { observe(batches: number): void };
}

export class RunStore {
  private readonly eventListeners = new Map<string, Set<(delivery: RunEventDelivery) => void>>();
  /** Stamped on this store's `run_event` announcements: its own come back to it, and are skipped. */
  private readonly origin = randomUUID();
  private readonly stopListening: (() => void)[] = [];
  private observer: RunObserver | undefined;
  /** The server's approval timeout (`--approval-timeout`), for threads without their own; 0: none. */
  approvalTimeoutSeconds = 0;

  /** Plain batches of several runs, stored in one transaction (event-group.ts). */
  private readonly groups: EventGroupWriter;

  private constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
  ) {
    this.groups = new EventGroupWriter(sql, (batch) => this.appendAlone(batch), {
      origin: this.origin,
      committed: (batches) => this.observer?.eventBatchesPerCommit.observe(batches),
      failed: (error, batches) => this.log.warn({ err: error, batches }, 'a group commit of event batches failed; each is stored alone'),
    });
  }

  /**
   * The store on `sql`. WatchRun watchers on this replica are handed what it stores from memory,
   * what other replicas store through `run_event` (with the events when they fit in it), and read
   * the table again after a LISTEN reconnect.
   */
  static async open(sql: Sql, notifications: Notifications, log: Logger): Promise<RunStore> {
    const store = new RunStore(sql, log);
    store.stopListening.push(
      notifications.on('run_event', (announced) => store.announced(announced)),
      // Notifications may have been missed: every watcher reads the table again.
      notifications.onReconnect(() => store.wakeAllWatchers()),
    );
    return store;
  }

  async close(): Promise<void> {
    for (const stop of this.stopListening.splice(0)) stop();
  }

  observe(observer: RunObserver): void {
    this.observer = observer;
  }

  /** Calls `deliver` whenever new events of `runId` may be stored (with them, when they are at hand). */
  onRunEvent(runId: string, deliver: (delivery: RunEventDelivery) => void): () => void {
    let set = this.eventListeners.get(runId);
    if (!set) this.eventListeners.set(runId, (set = new Set()));
    set.add(deliver);
    return () => {
      set!.delete(deliver);
      if (set!.size === 0) this.eventListeners.delete(runId);
    };
  }

  /** Hands events just committed (in order, ending at `top`) to this replica's watchers of the run. */
  private deliver(runId: string, delivery: RunEventDelivery): void {
    const set = this.eventListeners.get(runId);
    if (!set) return;
    for (const deliver of [...set]) deliver(delivery);
  }

  /** Another replica stored events: its announcement carries them when they fit, else watchers read. */
  private announced({ runId, seq, events, origin }: Delivered<'run_event'>): void {
    if (!runId || origin === this.origin || !this.eventListeners.has(runId)) return;
    let decoded: RunEvent[] | undefined;
    let sizes: number[] | undefined;
    try {
      const bodies = events?.map((text) => Buffer.from(text, 'base64'));
      decoded = bodies?.map((body) => fromBinary(RunEventSchema, body));
      sizes = bodies?.map((body) => body.length);
    } catch {
      decoded = undefined; // not ours to trust: the table says
    }
    this.deliver(runId, { top: seq ? BigInt(seq) : undefined, events: decoded, sizes });
  }

  private wakeAllWatchers(): void {
    for (const set of this.eventListeners.values()) for (const deliver of [...set]) deliver({});
  }

  // ── queueing ─────────────────────────────────────────────────────────────

  /**
   * Inserts a thread's `queued` run in the caller's transaction and wakes the replica that holds
   * the link (when the transaction commits). The caller holds the thread's row (`for update`) and
   * has seen no unfinished run of it (message-queue.ts): a second one would fail the transaction
   * with Postgres's unique violation. Returns the run id.
   */
  static async insertQueuedInTx(tx: TransactionSql, run: QueuedRun): Promise<string> {
    const runId = run.id ?? newId('run');
    const sandboxId = run.sandboxOfThread ? tx`(select sandbox_id from threads where id = ${run.threadId})` : tx`${run.sandboxId}`;
    // The two statements go together (pipelined); the notification is delivered only at commit.
    const inserting = tx`
      insert into runs (id, thread_id, sandbox_id, user_id, link_id, harness, model, tier, prompt, resume_session_id, state, permission_mode, expires_at)
      values (${runId}, ${run.threadId}, ${sandboxId}, ${run.userId}, ${run.linkId}, ${run.harness}, ${run.model},
              ${run.tier}, ${run.prompt}, ${run.resumeSessionId}, 'queued', ${run.permissionMode ?? 'edits'}, ${run.expiresAt ?? null})`.execute();
    await Promise.all([inserting, notify(tx, 'run_queued', { linkId: run.linkId })]);
    return runId;
  }

  /** Queues a command in a sandbox (SandboxService.Exec): a shell run outside any thread. */
  async queueExec(input: { userId: string; linkId: string; sandboxId: string; command: string }): Promise<string> {
    const runId = newId('run');
    await this.sql.begin(async (tx) => {
      await tx`insert into runs (id, sandbox_id, user_id, link_id, harness, prompt, state)
               values (${runId}, ${input.sandboxId}, ${input.userId}, ${input.linkId}, 'shell', ${input.command}, 'queued')`;
      await notify(tx, 'run_queued', { linkId: input.linkId });
    });
    return runId;
  }

  /** Unfinished runs in a sandbox, on `sql` or the caller's transaction (SandboxStore.remove). */
  static async activeRunsInSandbox(sql: Sql | TransactionSql, sandboxId: string): Promise<number> {
    const [row] = await (sql as Sql)<{ n: number }[]>`
      select count(*)::int as n from runs where sandbox_id = ${sandboxId} and state in ('queued', 'dispatched', 'running', 'waiting')`;
    return row.n;
  }

  // ── dispatch ─────────────────────────────────────────────────────────────

  /**
   * Claims queued runs of the link for a session (compare-and-set), oldest first: at most `capacity`
   * runs of the link are dispatched or running at once, and none for a session older than one that
   * holds runs of the link already. Each with its sandbox.
   */
  async claimQueued(linkId: string, epoch: bigint, capacity: number): Promise<ClaimedRun[]> {
    if (capacity <= 0) return [];
    // One statement, so one round trip and atomic: a claim whose sandboxes cannot be read is not
    // left dispatched and unsent. It does not wait for its WAL flush (`set_config(…, true)` lasts
    // to the end of the statement's own transaction, whose commit it governs). A claim lost in a
    // database crash only puts the run back in the queue: nothing after it was stored either (any
    // later commit that waits for its flush, such as storing the machine's events, makes the claim
    // durable too). The run is then claimed and sent again, and linkd answers a DispatchRun for a
    // run it holds by acknowledging it, never by starting it twice (idempotent by run id).
    // Whatever comes first from the machine takes the queued run for the session that holds it:
    // its RunAccepted (`markRunning`), its events (`appendEvents`) or, after a reconnect, its Hello
    // (`adoptRuns`). The compare-and-set below still sends each claim once, whatever wakes the dispatcher.
    const rows = await this.sql<ClaimRow[]>`
      with no_flush_wait as materialized (select set_config('synchronous_commit', 'off', true)),
      room as (
        -- No room at all for a session older than one that already holds runs of the link: it was superseded.
        select case when bool_or(session_epoch > ${String(epoch)}) then 0 else greatest(0, ${capacity}::int - count(*)::int) end as n
        from runs where link_id = ${linkId} and state in ('dispatched', 'running', 'waiting')
      ),
      claimed as (
        update runs set state = 'dispatched', session_epoch = ${String(epoch)}, dispatched_at = now(), detached_at = null
        where id in (
          -- An expired run is never sent, whether or not the expiry sweep has failed it yet.
          select id from runs where link_id = ${linkId} and state = 'queued' and cancel_requested_at is null
            and (expires_at is null or expires_at > now())
          order by created_at limit (select n from room) for update skip locked)
        and state = 'queued'
        returning ${this.sql.unsafe(RUN_COLUMNS)}
      )
      select claimed.*, s.provider as sandbox_provider, s.repository as sandbox_repository, s.branch as sandbox_branch,
        (select coalesce(json_agg(json_build_object('tool', r.tool, 'commandPrefix', r.command_prefix) order by r.created_at, r.tool, r.command_prefix), '[]')
           from thread_allow_rules r where r.thread_id = claimed.thread_id) as allow_rules
      from claimed cross join no_flush_wait left join sandboxes s on s.id = claimed.sandbox_id`;
    return rows
      .map((row) => ({
        ...run(row),
        sandbox: row.sandbox_id && row.sandbox_provider !== null ? { handle: row.sandbox_id, provider: row.sandbox_provider, repository: row.sandbox_repository!, branch: row.sandbox_branch! } : null,
        allowRules: row.allow_rules.map((rule) => create(AllowRuleSchema, rule)),
      }))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  /**
   * Puts runs that session `epoch` claimed but never sent back in the queue (compare-and-set: only
   * while they are still dispatched to that session), and wakes the link's sessions through
   * `run_queued`. Returns the runs put back.
   */
  async unclaim(linkId: string, epoch: bigint, runIds: string[]): Promise<string[]> {
    return this.sql.begin(async (tx) => {
      const rows = await tx<{ id: string }[]>`
        update runs set state = 'queued', session_epoch = null, dispatched_at = null, detached_at = null
        where link_id = ${linkId} and id = any(${runIds}::text[]) and state = 'dispatched' and session_epoch = ${String(epoch)}
        returning id`;
      if (rows.length > 0) await notify(tx, 'run_queued', { linkId });
      return rows.map((r) => r.id);
    });
  }

  /**
   * Whether a link has anything a new session of it may owe the machine: unfinished runs (queued
   * ones to dispatch; dispatched, running or waiting ones with cancels, interrupts, answers or
   * steered messages to send) and queued sandbox operations. One read, so that a session's set-up
   * skips the reads of each kind when there is nothing (an idle fleet reconnecting). What is queued
   * after this read reaches the session by its notification, the session being live by then.
   */
  pendingForLink(linkId: string): Promise<{ runs: boolean; sandboxOps: boolean }> {
    return this.pendingOfLinks(linkId);
  }

  // Asked by every session's set-up: one statement for those that come together (store/batched.ts).
  private readonly pendingOfLinks = batched(async (linkIds: readonly string[]) => {
    const rows = await this.sql<{ runs: boolean; ops: boolean }[]>`
      select exists (select 1 from runs where link_id = k.id and state in ('queued', 'dispatched', 'running', 'waiting')) as runs,
             exists (select 1 from sandbox_ops where link_id = k.id and state = 'queued') as ops
      from unnest(${linkIds as string[]}::text[]) with ordinality as k(id, n) order by k.n`;
    return rows.map((row) => ({ runs: row.runs, sandboxOps: row.ops }));
  });

  /** Whether each link has runs held by a session older than `epoch` (which a session of `epoch` would adopt, queue again or fail). */
  private readonly heldByOlder = batched(async (keys: readonly { linkId: string; epoch: string }[]) => {
    const rows = await this.sql<{ any: boolean }[]>`
      select exists (select 1 from runs where link_id = k.id and state in ('dispatched', 'running', 'waiting') and session_epoch < k.epoch) as any
      from unnest(${keys.map((k) => k.linkId)}::text[], ${keys.map((k) => k.epoch)}::bigint[]) with ordinality as k(id, epoch, n) order by k.n`;
    return rows.map((row) => row.any);
  });

  /** Runs of the link that must be cancelled on the machine (requested while dispatched or running). */
  async pendingCancels(linkId: string): Promise<RunRecord[]> {
    const rows = await this.sql<RunRow[]>`
      select ${this.sql.unsafe(RUN_COLUMNS)} from runs
      where link_id = ${linkId} and state in ('dispatched', 'running', 'waiting') and cancel_requested_at is not null`;
    return rows.map(run);
  }

  /**
   * The machine accepted the run on session `epoch`. A run still `queued` with no session is one
   * whose claim a database crash lost (claims commit asynchronously, see `claimQueued`): linkd
   * accepts only a DispatchRun signed for its own session, so the session that accepts it holds
   * it, and takes it — unless a newer session of the link holds runs already (this one was superseded).
   */
  async markRunning(runId: string, linkId: string, epoch: bigint): Promise<boolean> {
    // Not waiting for the flush either (as the claim, one statement: see `claimQueued`): lost in a
    // crash, the run stays dispatched (or queued, see above) until its first stored events, which
    // set it running themselves.
    const rows = await this.sql`
      with no_flush_wait as materialized (select set_config('synchronous_commit', 'off', true))
      update runs set state = case when state = 'waiting' then state else 'running' end, started_at = coalesce(started_at, now()),
        session_epoch = ${String(epoch)}, dispatched_at = coalesce(dispatched_at, now())
      where id = ${runId} and link_id = ${linkId} and exists (select 1 from no_flush_wait) and (
        (session_epoch = ${String(epoch)} and state in ('dispatched', 'running', 'waiting'))
        or (state = 'queued' and session_epoch is null and cancel_requested_at is null and not exists (
          select 1 from runs newer where newer.link_id = ${linkId} and newer.session_epoch > ${String(epoch)} and newer.state in ('dispatched', 'running', 'waiting'))))
      returning id`;
    return rows.length > 0;
  }

  /**
   * After a reconnect: the new session adopts the runs the agent still holds (their writes are
   * fenced to the new epoch, and they are attached again), runs it never accepted go back to the
   * queue, and runs it was running but no longer holds fail AGENT_RESTARTED. Every transition is a
   * compare-and-set on an older epoch: a session never takes a run from a newer one, and a run the
   * lost-run sweep failed meanwhile stays failed. Returns the stored seq of each adopted run.
   *
   * A held run the table says is `queued` was dispatched by a claim that a database crash lost
   * (claims commit asynchronously, see `claimQueued`): the machine has it, so it is adopted as
   * dispatched rather than sent again (which the machine, having forgotten it, would run twice).
   */
  async adoptRuns(linkId: string, epoch: bigint, held: string[]): Promise<{ cursors: Map<string, bigint>; failed: string[] }> {
    const mine = String(epoch);
    if (held.length === 0) {
      // Most machines connect holding nothing and owed nothing: one read says so (then the three below change nothing).
      if (!(await this.heldByOlder({ linkId, epoch: mine }))) return { cursors: new Map(), failed: [] };
    }
    const adopted = await this.sql<{ id: string; last_seq: string }[]>`
      update runs set session_epoch = ${mine}, detached_at = null,
        state = case when state = 'queued' then 'dispatched' else state end, dispatched_at = coalesce(dispatched_at, now())
      where link_id = ${linkId} and id = any(${held}::text[])
        and ((state in ('dispatched', 'running', 'waiting') and session_epoch < ${mine}) or (state = 'queued' and cancel_requested_at is null))
      returning id, last_seq::text`;
    await this.sql`
      update runs set state = 'queued', session_epoch = null, dispatched_at = null, detached_at = null
      where link_id = ${linkId} and state = 'dispatched' and not (id = any(${held}::text[])) and cancel_requested_at is null
        and session_epoch < ${mine}`;
    const lost = await this.sql<{ id: string; epoch: string }[]>`
      select id, session_epoch::text as epoch from runs where link_id = ${linkId} and not (id = any(${held}::text[])) and session_epoch < ${mine}
        and (state in ('running', 'waiting') or (state = 'dispatched' and cancel_requested_at is not null))`;
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
      where link_id = ${linkId} and session_epoch = ${String(epoch)} and state in ('dispatched', 'running', 'waiting') and detached_at is null
      returning id`;
    return rows.map((r) => r.id);
  }

  /** A live session holds these runs after all (the sweep saw it late): they are attached again. */
  async reattachRuns(linkId: string, epoch: bigint): Promise<void> {
    await this.sql`
      update runs set detached_at = null
      where link_id = ${linkId} and session_epoch = ${String(epoch)} and state in ('dispatched', 'running', 'waiting') and detached_at is not null`;
  }

  /** Unfinished runs that some session holds (not detached), for the sweep to check those sessions are alive. */
  async heldRuns(): Promise<HeldRunRow[]> {
    const rows = await this.sql<{ id: string; user_id: string; link_id: string; epoch: string }[]>`
      select id, user_id, link_id, session_epoch::text as epoch from runs
      where state in ('dispatched', 'running', 'waiting') and session_epoch is not null and detached_at is null`;
    return rows.map((r) => ({ id: r.id, userId: r.user_id, linkId: r.link_id, epoch: BigInt(r.epoch) }));
  }

  /** Unfinished runs detached from their session for at least `graceMs` (by the database's clock). */
  async overdueRuns(graceMs: number): Promise<HeldRunRow[]> {
    const rows = await this.sql<{ id: string; user_id: string; link_id: string; epoch: string }[]>`
      select id, user_id, link_id, session_epoch::text as epoch from runs
      where state in ('dispatched', 'running', 'waiting') and detached_at is not null
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
  async appendEvents(runId: string, linkId: string, epoch: bigint, events: RunEvent[]): Promise<AppendResult> {
    const batch = { runId, linkId, epoch, events };
    const result = groupable(events) ? await this.groups.append(batch) : await this.appendAlone(batch);
    if (!result.ok) return result;
    this.count({ stored: result.count ?? 0, outcome: result.outcome });
    // Committed: this replica's watchers need not read it back.
    if (result.stored && result.stored.length > 0) this.deliver(runId, { top: result.acked, events: result.stored, sizes: result.storedSizes });
    return { ok: true, acked: result.acked, finished: result.finished };
  }

  private appendAlone({ runId, linkId, epoch, events }: GroupedBatch): Promise<GroupedResult> {
    return appendEvents(this.sql, runId, linkId, epoch, events, this.approvalTimeoutSeconds, this.origin);
  }

  /**
   * Ends an unfinished run from the control plane's side with its terminal event at the next seq
   * (rejections, cancel before dispatch, LINK_LOST, AGENT_RESTARTED). False when it had ended, or
   * when `guard` is given and the run moved to another session (or was attached again) meanwhile.
   */
  async finish(runId: string, status: RunStatus, reason: RunFailureReason, message: string, guard?: FinishGuard): Promise<boolean> {
    const outcome = await finishRun(this.sql, runId, status, reason, message, guard, this.origin);
    if (outcome) this.count(outcome);
    if (outcome?.events) this.deliver(runId, { top: outcome.events.at(-1)!.seq, events: outcome.events });
    return outcome !== undefined;
  }

  private count({ stored, outcome }: Partial<StoredOutcome>): void {
    if (stored) this.observer?.eventsStored.inc(stored);
    if (outcome) this.observer?.runsFinished.inc(outcome);
  }

  /** Records a cancel request. A queued run is cancelled at once; otherwise the holder is told. */
  async requestCancel(userId: string, runId: string): Promise<RunStateName | undefined> {
    const [row] = await this.sql<RunRow[]>`
      update runs set cancel_requested_at = coalesce(cancel_requested_at, now())
      where id = ${runId} and user_id = ${userId} returning ${this.sql.unsafe(RUN_COLUMNS)}`;
    if (!row) return undefined;
    if (row.state === 'queued') {
      await this.finish(runId, RunStatus.CANCELLED, RunFailure.Cancelled, 'cancelled before it reached the machine');
      return 'cancelled';
    }
    if (row.state === 'parked_limit' && (await this.sql.begin((tx) => cancelParkedInTx(tx, runId)))) return 'cancelled';
    if (UNFINISHED.includes(row.state)) await notify(this.sql, 'run_cancel', { runId, linkId: row.link_id });
    return row.state;
  }

  async getRun(userId: string, runId: string): Promise<RunRecord | undefined> {
    const [row] = await this.sql<RunRow[]>`select ${this.sql.unsafe(RUN_COLUMNS)} from runs where id = ${runId} and user_id = ${userId}`;
    return row && run(row);
  }

  async listRuns(userId: string, threadId?: string): Promise<RunRecord[]> {
    const rows = threadId
      ? await this.sql<RunRow[]>`select ${this.sql.unsafe(RUN_COLUMNS)} from runs where user_id = ${userId} and thread_id = ${threadId} order by created_at desc limit 200`
      : await this.sql<RunRow[]>`select ${this.sql.unsafe(RUN_COLUMNS)} from runs where user_id = ${userId} order by created_at desc limit 200`;
    return rows.map(run);
  }

  /** A thread's runs, oldest first (ThreadStore.getThread). */
  async runsOfThread(threadId: string): Promise<RunRecord[]> {
    const rows = await this.sql<RunRow[]>`select ${this.sql.unsafe(RUN_COLUMNS)} from runs where thread_id = ${threadId} order by created_at, id`;
    return rows.map(run);
  }

  /** The state of each thread's newest run (ThreadStore.listThreads). */
  async lastRunStates(threadIds: string[]): Promise<Map<string, RunStateName>> {
    if (threadIds.length === 0) return new Map();
    const rows = await this.sql<{ thread_id: string; state: RunStateName }[]>`
      select distinct on (thread_id) thread_id, state from runs where thread_id = any(${threadIds}::text[])
      order by thread_id, created_at desc`;
    return new Map(rows.map((r) => [r.thread_id, r.state]));
  }

  /**
   * A run's events after `afterSeq`: what is stored, then live as it is stored (on any replica),
   * ending after the terminal `done` event or when `signal` aborts (see run-follow.ts).
   */
  follow(runId: string, afterSeq: bigint, signal: AbortSignal): AsyncGenerator<RunEvent> {
    return followRun(this, runId, afterSeq, signal, this.log);
  }

  /** The same in batches, as WatchRun sends them to a client that asks for `batched` (see run-follow.ts). */
  followBatches(runId: string, afterSeq: bigint, signal: AbortSignal): AsyncGenerator<RunEvent[]> {
    return followRunBatches(this, runId, afterSeq, signal, this.log);
  }

  /** Stored events after `afterSeq`, in order, up to the contiguous prefix (`last_seq`). */
  async events(runId: string, afterSeq: bigint, limit: number): Promise<RunEvent[]> {
    return (await readEvents(this.sql, runId, afterSeq, limit)).events;
  }

  /** The same, with each event's encoded size. */
  sizedEvents(runId: string, afterSeq: bigint, limit: number): Promise<SizedEvents> {
    return readEvents(this.sql, runId, afterSeq, limit);
  }
}
