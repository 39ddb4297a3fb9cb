/**
 * Threads and their messages in Postgres. A thread's first message pins it (harness, link, sandbox
 * provider, branch, repository: `pins.ts`); a message is written with its `queued` run in one
 * transaction (together with the thread's sandbox row on its first message — the run and the
 * sandbox are written by their own stores' `…InTx` methods, on this transaction), or, while a run
 * of the thread is in progress, queued to start after it (message-queue.ts). Rows become camelCase
 * records here, at the store's edge.
 */
import type { Sql, TransactionSql } from 'postgres';
import { RunStore, type RunRecord, type RunStateName } from '../runs/run-store.js';
import type { PermissionModeName } from '../runs/run-record.js';
import { SandboxStore, type SandboxKey } from '../sandboxes/sandbox-store.js';
import { newId } from '../store/store.js';
import { pipelined, pipelinedTransaction } from '../store/pipelined-transaction.js';
import { pinConflict, type ThreadPins } from './pins.js';
import {
  activeRunInTx,
  insertMessageInTx,
  messageFromRow,
  queueHasRoomInTx,
  MAX_QUEUED_MESSAGES,
  type MessageDeliveryName,
  type MessageRecord,
  type MessageRow,
} from './message-queue.js';
import { Reason } from '../../common/reasons.js';
import { steerInTx } from '../steering/steer-store.js';

export interface ThreadRecord extends ThreadPins {
  id: string;
  userId: string;
  title: string;
  sandboxId: string | null;
  /** The harness's session the next run resumes ('' before the first run started). */
  sessionId: string;
  createdAt: Date;
  updatedAt: Date;
  /** The state of its newest run (listThreads, getThread). */
  lastRunState?: RunStateName | null;
  /** Left out of lists unless asked for (thread-admin.ts). */
  archived: boolean;
  /** Pending answers are denied after this many seconds (0: the server's default). */
  approvalTimeoutSeconds: number;
  /** The pinned machine's name, where the read joined it (thread-admin.ts). */
  linkName?: string;
  /** Its messages waiting to start (listThreads, getThread). */
  queuedMessages?: number;
  /** Park runs at the usage limit and continue after the reset; while parked, when (limits/parking.ts). */
  resumeAfterLimit?: boolean;
  resumesAt?: Date | null;
}

/** Which threads `listThreads` returns (every unarchived one by default). */
export interface ThreadFilter {
  /** Only threads whose title contains this, ignoring case. */
  query?: string;
  /** Archived threads too. */
  includeArchived?: boolean;
  /** Only these threads (archived or not as above). */
  threadIds?: string[];
}

export type { MessageRecord } from './message-queue.js';

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
  /** What the harness may do without asking (default 'edits'). */
  permissionMode?: PermissionModeName;
  /** During a run of the thread: into its running turn (a steer) or after it (the default). */
  delivery?: MessageDeliveryName;
  /** Not started by then, the message (and the run made from it) expires and never runs (absent: never). */
  expiresAt?: Date;
  /** The machine is online now (the default); when it is not, the message keeps its expiry even when it becomes a run at once. */
  linkOnline?: boolean;
  /** Into the running turn, when there is one (delivery NOW and the harness is steerable: steering/steer-store.ts). */
  steer?: boolean;
}

/** What sendMessage stored: the message, and its run when it became one at once (null while it waits). */
export interface SentMessage {
  runId: string | null;
  message: MessageRecord;
}

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
  archived: boolean;
  approval_timeout_seconds: number;
  /** Set while a run of the thread is parked at the usage limit. */
  resumes_at?: Date | null;
  /** Where the read counted them (listThreads, getThread). */
  queued_messages?: number;
  resume_after_limit?: boolean;
}

/** The count of a thread's queued messages, for `select t.*, …`. */
const QUEUED_COUNT = `(select count(*)::int from messages m where m.thread_id = t.id and m.state = 'queued') as queued_messages`;

export class ThreadStore {
  constructor(
    private readonly sql: Sql,
    private readonly runs: RunStore,
  ) {}

  async createThread(userId: string, title: string): Promise<ThreadRecord> {
    const [row] = await this.sql<ThreadRow[]>`
      insert into threads (id, user_id, title) values (${newId('thr')}, ${userId}, ${title}) returning *`;
    return { ...thread(row), lastRunState: null };
  }

  /**
   * The user's threads, most recently active first (500 at most), each with its newest run's state
   * and its machine's name. Archived ones only with `includeArchived`; with `query`, only those
   * whose title contains it (case-insensitive); with `threadIds`, only those.
   */
  async listThreads(userId: string, filter: ThreadFilter = {}): Promise<ThreadRecord[]> {
    const query = filter.query ?? '';
    const rows = await this.sql<(ThreadRow & { link_name: string | null })[]>`
      select t.*, l.name as link_name, ${this.sql.unsafe(QUEUED_COUNT)} from threads t left join links l on l.id = t.link_id
      where t.user_id = ${userId}
        ${filter.includeArchived ? this.sql`` : this.sql`and not t.archived`}
        ${query ? this.sql`and strpos(lower(t.title), lower(${query})) > 0` : this.sql``}
        ${filter.threadIds ? this.sql`and t.id = any(${filter.threadIds}::text[])` : this.sql``}
      order by t.updated_at desc limit 500`;
    const states = await this.runs.lastRunStates(rows.map((r) => r.id));
    return rows.map((row) => ({ ...thread(row), lastRunState: states.get(row.id) ?? null, linkName: row.link_name ?? '' }));
  }

  /** The thread with its messages and runs, oldest first; undefined unless `userId` owns it. */
  async getThread(userId: string, threadId: string): Promise<{ thread: ThreadRecord; messages: MessageRecord[]; runs: RunRecord[] } | undefined> {
    const [row] = await this.sql<(ThreadRow & { link_name: string | null })[]>`
      select t.*, l.name as link_name, ${this.sql.unsafe(QUEUED_COUNT)} from threads t left join links l on l.id = t.link_id
      where t.id = ${threadId} and t.user_id = ${userId}`;
    if (!row) return undefined;
    const messages = await this.sql<MessageRow[]>`select * from messages where thread_id = ${threadId} order by created_at, id`;
    const runs = await this.runs.runsOfThread(threadId);
    const last = runs.reduce<RunRecord | undefined>((newest, run) => (!newest || run.createdAt >= newest.createdAt ? run : newest), undefined);
    return { thread: { ...thread(row), lastRunState: last?.state ?? null, linkName: row.link_name ?? '' }, messages: messages.map(messageFromRow), runs };
  }

  /** The thread as it stands (pins) for the checks before queueing. */
  async threadPins(userId: string, threadId: string): Promise<ThreadRecord | undefined> {
    const [row] = await this.sql<ThreadRow[]>`select * from threads where id = ${threadId} and user_id = ${userId}`;
    return row && thread(row);
  }

  /**
   * Pins the thread on its first message (refusing THREAD_PINNED on a later mismatch) and, with
   * the thread's row locked: when no run of the thread is in progress (and none is parked at the
   * usage limit), inserts the message and its `queued` run, waking the replica that holds the link;
   * otherwise steers the message into the running turn (delivery NOW to a steerable harness:
   * steering/steer-store.ts) or queues it to start after the run (message-queue.ts). THREAD_BUSY
   * only when the thread already has MAX_QUEUED_MESSAGES waiting.
   */
  async sendMessage(input: SendInput): Promise<SentMessage> {
    return pipelinedTransaction(this.sql, async (tx) => {
      // Few round trips: statements that need no answer of the one before go together (postgres.js
      // pipelines them on the transaction's connection, Postgres runs them in order), the first
      // behind the transaction's `begin`, the last ones ahead of its `commit`
      // (store/pipelined-transaction.ts). The run check
      // goes behind the lock as a statement of its own, so it runs once the lock is held and sees a
      // run that the lock's previous holder committed.
      const locked = tx<ThreadRow[]>`select * from threads where id = ${input.threadId} and user_id = ${input.userId} for update`.execute();
      const running = activeRunInTx(tx, input.threadId);
      const [[row], active] = await Promise.all([locked, running]);
      if (!row) throw new SendRefused(Reason.ThreadNotFound, `no thread ${input.threadId}`, { thread_id: input.threadId });
      const pinned = thread(row);
      const conflict = pinConflict(pinned, input);
      if (conflict) {
        throw new SendRefused(Reason.ThreadPinned, `this thread runs with ${conflict.field} "${conflict.pinned}"; start a new thread to use "${conflict.requested}"`, {
          ...conflict,
        });
      }
      const newSandbox = pinned.sandboxId === null && input.sandbox !== null;
      const pinning = this.pin(tx, pinned, input);
      const message = {
        threadId: pinned.id,
        userId: input.userId,
        text: input.text,
        model: input.model,
        tier: input.tier,
        delivery: input.delivery ?? 'after_turn',
        permissionMode: input.permissionMode ?? 'edits',
        expiresAt: input.expiresAt ?? null,
      };
      if (active || row.resumes_at) {
        // A run is in progress (or parked until its limit resets): into its running turn, or the
        // message waits for its end (whether the queue has room is asked behind the pins, together).
        const steers = input.steer && active;
        const [, steering, room] = await Promise.all([pinning, steers ? steerInTx(tx, message) : undefined, steers ? undefined : queueHasRoomInTx(tx, pinned.id)]);
        if (steering) return { runId: null, message: steering };
        if (!(room ?? (await queueHasRoomInTx(tx, pinned.id)))) {
          throw new SendRefused(Reason.ThreadBusy, `this thread already has ${MAX_QUEUED_MESSAGES} messages waiting; withdraw some or wait for them to run`, {
            thread_id: pinned.id,
          });
        }
        return pipelined(insertMessageInTx(tx, message, 'queued', null).then((queued) => ({ runId: null, message: queued })));
      }
      // Sent behind the pins, together: the run takes the sandbox the pins just wrote.
      const runId = newId('run');
      const queueing = RunStore.insertQueuedInTx(tx, {
        id: runId,
        threadId: pinned.id,
        sandboxId: pinned.sandboxId,
        sandboxOfThread: newSandbox,
        userId: input.userId,
        linkId: pinned.linkId ?? input.linkId,
        harness: pinned.harness ?? input.harness,
        model: input.model,
        tier: input.tier,
        prompt: input.text,
        resumeSessionId: pinned.sessionId,
        permissionMode: input.permissionMode,
        expiresAt: message.expiresAt,
      });
      // For an online machine the message started at once: it has no expiry of its own to show.
      const sent = { ...message, expiresAt: input.linkOnline === false ? message.expiresAt : null };
      const storing = insertMessageInTx(tx, sent, 'sent', runId);
      // The last statements: the commit goes right behind them (a failure among them rolls back).
      return pipelined(Promise.all([pinning, queueing, storing]).then(([, , stored]) => ({ runId, message: stored })));
    });
  }

  /**
   * Marks the thread active in one statement, writing its pins on its first message and its
   * sandbox (found or made, in a CTE) when it has none. Sent at once; the caller awaits it.
   */
  private pin(tx: TransactionSql, pinned: ThreadRecord, input: SendInput): Promise<unknown> {
    const sandbox = pinned.sandboxId === null && input.sandbox ? tx`with sandbox as (${SandboxStore.upsertIdInTx(tx, input.sandbox)})` : tx``;
    const sandboxId = pinned.sandboxId === null && input.sandbox ? tx`, sandbox_id = (select id from sandbox)` : tx``;
    const pins =
      pinned.harness === null
        ? tx`, harness = ${input.harness}, link_id = ${input.linkId}, sandbox_provider = ${input.sandboxProvider}, branch = ${input.branch},
             repository = ${input.repository}, title = case when title = '' then ${input.text.slice(0, 80)} else title end`
        : tx``;
    return tx`${sandbox} update threads set updated_at = now() ${sandboxId} ${pins} where id = ${pinned.id}`.execute();
  }

  /**
   * The harness's session a thread's next run resumes, in the transaction that stored the run's
   * events (RunStore.appendEvents); `touch` marks the thread active (its run finished).
   */
  static async recordSessionInTx(tx: TransactionSql, threadId: string, sessionId: string, touch: boolean): Promise<void> {
    // Sent at the call (`execute`): a later call's write lands after this one's.
    if (touch) await tx`update threads set session_id = ${sessionId}, updated_at = now() where id = ${threadId}`.execute();
    else await tx`update threads set session_id = ${sessionId} where id = ${threadId}`.execute();
  }
}

/** A `threads` row (`select *`) as its record: for the other thread modules' own queries. */
export function threadFromRow(row: ThreadRow): ThreadRecord {
  return thread(row);
}

function thread(row: ThreadRow): ThreadRecord {
  return {
    id: row.id,
    userId: row.user_id,
    title: row.title,
    harness: row.harness,
    linkId: row.link_id,
    sandboxProvider: row.sandbox_provider,
    branch: row.branch,
    repository: row.repository,
    sandboxId: row.sandbox_id,
    sessionId: row.session_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    archived: row.archived ?? false,
    approvalTimeoutSeconds: row.approval_timeout_seconds ?? 0,
    queuedMessages: row.queued_messages ?? 0,
    resumeAfterLimit: row.resume_after_limit ?? false,
    resumesAt: row.resumes_at ?? null,
  };
}
