/**
 * The sandbox map in Postgres, (user, link, repository, branch, provider[, thread]) → sandbox, and
 * the operations forwarded to a machine. An operation is a row: the requester inserts it `queued`
 * and notifies `sandbox_op`; the replica that holds the machine's session claims it (`queued → sent`,
 * compare-and-set) and sends a SandboxRequest; the machine's SandboxReply is stored on the row and
 * announced on `sandbox_reply`, which wakes the requester on whichever replica it is. Replicas never
 * call each other, and a request that gets no reply in time fails at its deadline.
 *
 *   sandbox_op    {linkId}  operations wait for the replica that holds the link
 *   sandbox_reply {opId}    the machine answered
 *
 * (sent through notifications.ts). The map's rows are this store's alone: a run's transaction
 * writes them through `upsertIdInTx` and `markReadyInTx`.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { Sql, TransactionSql } from 'postgres';
import type { Logger } from '../../common/log.js';
import { SandboxReplySchema, SandboxRequestSchema, type SandboxReply, type SandboxRequest } from '../../gen/link/v1/link_service_pb.js';
import { randomBytes } from 'node:crypto';
import { notify, type Notifications } from '../notifications.js';
import { RunStore } from '../runs/run-store.js';
import { newId } from '../store/store.js';

export interface SandboxRow {
  id: string;
  user_id: string;
  link_id: string;
  repository: string;
  branch: string;
  provider: string;
  thread_scope: string;
  state: 'pending' | 'ready' | 'failed';
  path: string;
  size_bytes: string;
  error: string;
  created_at: Date;
  last_used_at: Date;
}

/** A sandbox with what its threads and runs say of it (for the machines page and listings). */
export interface SandboxUseRow extends SandboxRow {
  last_thread_id: string | null;
  last_thread_title: string | null;
  thread_count: number;
  /** The latest finished run in it could not prepare it (SANDBOX_FAILED) or its set-up failed (SETUP_FAILED). */
  last_failure: string | null;
  /** That run's error event (a RunEvent), when there is one. */
  last_error: Buffer | null;
}

/** Where a dispatched run runs (RunPayload.sandbox). */
export interface SandboxSpec {
  handle: string;
  provider: string;
  repository: string;
  branch: string;
}

export interface SandboxKey {
  userId: string;
  linkId: string;
  repository: string;
  branch: string;
  provider: string;
  /** The thread a directory sandbox without a branch belongs to; '' otherwise. */
  threadScope: string;
}

/** A sandbox id, which is also its handle on the machine: "sbx_" and 20 lowercase letters or digits. */
export function newSandboxId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return `sbx_${[...randomBytes(20)].map((b) => alphabet[b % 36]).join('')}`;
}

/**
 * The sandbox for the key, made (pending) if there is none; marked used now. On `sql` as given, so
 * a caller may make it part of its own transaction (a thread's first message writes its sandbox in
 * the run's transaction: a refused message leaves no row behind).
 */
export async function upsertSandbox(sql: Sql | TransactionSql, key: SandboxKey): Promise<SandboxRow> {
  const [row] = await (sql as Sql)<SandboxRow[]>`${upsertStatement(sql, key)} returning *`;
  return row;
}

/** The upsert of `upsertSandbox` without its `returning`: a caller's statement may use it as a CTE (`… returning id`). */
function upsertStatement(sql: Sql | TransactionSql, key: SandboxKey) {
  return (sql as Sql)`
    insert into sandboxes (id, user_id, link_id, repository, branch, provider, thread_scope)
    values (${newSandboxId()}, ${key.userId}, ${key.linkId}, ${key.repository}, ${key.branch}, ${key.provider}, ${key.threadScope})
    on conflict (user_id, link_id, repository, branch, provider, thread_scope) do update set last_used_at = now()`;
}

export class SandboxStore {
  private readonly replyWaiters = new Map<string, () => void>();
  private readonly stopListening: (() => void)[] = [];

  private constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
  ) {}

  /** The store on `sql`; requesters hear `sandbox_reply` through `notifications` and read again after a LISTEN reconnect. */
  static async open(sql: Sql, notifications: Notifications, log: Logger): Promise<SandboxStore> {
    const store = new SandboxStore(sql, log);
    store.stopListening.push(
      notifications.on('sandbox_reply', ({ opId }) => store.replyWaiters.get(opId)?.()),
      // A reply may have been missed: every waiter reads again.
      notifications.onReconnect(() => {
        for (const wake of [...store.replyWaiters.values()]) wake();
      }),
    );
    return store;
  }

  async close(): Promise<void> {
    for (const stop of this.stopListening.splice(0)) stop();
  }

  /**
   * `upsertSandbox` (a thread's first message) as a fragment for a CTE of the caller's statement in its transaction
   * (`with sandbox as (${fragment}) …`): it yields the sandbox's `id`, so the sandbox costs no round
   * trip of its own. The caller must run the statement (an unused fragment writes nothing).
   */
  static upsertIdInTx(tx: TransactionSql, key: SandboxKey) {
    return tx`${upsertStatement(tx, key)} returning id`;
  }

  /** A run started in the sandbox at `path`: the map learns where it is, in the transaction that stored the run's events. */
  static async markReadyInTx(tx: TransactionSql, id: string, path: string): Promise<void> {
    await tx`update sandboxes set state = 'ready', path = ${path}, error = '', last_used_at = now() where id = ${id}`;
  }

  /** Where each of the sandboxes `ids` is, for the runs dispatched into them. */
  static async specs(sql: Sql | TransactionSql, ids: string[]): Promise<Map<string, SandboxSpec>> {
    if (ids.length === 0) return new Map();
    const rows = await sql<{ id: string; provider: string; repository: string; branch: string }[]>`
      select id, provider, repository, branch from sandboxes where id = any(${ids}::text[])`;
    return new Map(rows.map((r) => [r.id, { handle: r.id, provider: r.provider, repository: r.repository, branch: r.branch }]));
  }

  // ── the map ──────────────────────────────────────────────────────────────

  /** The sandbox for the key, made (pending) if there is none; marked used now. */
  async upsert(key: SandboxKey): Promise<SandboxRow> {
    return upsertSandbox(this.sql, key);
  }

  async get(userId: string, id: string): Promise<SandboxUseRow | undefined> {
    const [row] = await this.sql<SandboxUseRow[]>`${this.withUse()} where s.id = ${id} and s.user_id = ${userId}`;
    return row;
  }

  async getById(id: string): Promise<SandboxRow | undefined> {
    const [row] = await this.sql<SandboxRow[]>`select * from sandboxes where id = ${id}`;
    return row;
  }

  async list(userId: string, linkId?: string): Promise<SandboxUseRow[]> {
    return linkId
      ? this.sql<SandboxUseRow[]>`${this.withUse()} where s.user_id = ${userId} and s.link_id = ${linkId} order by s.last_used_at desc limit 1000`
      : this.sql<SandboxUseRow[]>`${this.withUse()} where s.user_id = ${userId} order by s.last_used_at desc limit 1000`;
  }

  /** The sandboxes with their last thread, thread count, and the failure of their latest finished run. */
  private withUse() {
    return this.sql`
      select s.*, t.id as last_thread_id, t.title as last_thread_title,
        (select count(*)::int from threads where sandbox_id = s.id) as thread_count,
        case when r.failure_reason in ('SANDBOX_FAILED', 'SETUP_FAILED') then r.failure_reason end as last_failure,
        case when r.failure_reason in ('SANDBOX_FAILED', 'SETUP_FAILED') then
          (select body from run_events where run_id = r.id and kind = 'error' order by seq desc limit 1) end as last_error
      from sandboxes s
      left join lateral (select id, title from threads where sandbox_id = s.id order by updated_at desc limit 1) t on true
      left join lateral (select id, failure_reason from runs where sandbox_id = s.id and state in ('completed', 'failed', 'cancelled')
                         order by created_at desc limit 1) r on true`;
  }

  /** The disk use the machine measured now. */
  async setSize(id: string, sizeBytes: bigint): Promise<void> {
    await this.sql`update sandboxes set size_bytes = ${String(sizeBytes)} where id = ${id}`;
  }

  async markReady(id: string, path: string, sizeBytes: bigint): Promise<SandboxRow | undefined> {
    const [row] = await this.sql<SandboxRow[]>`
      update sandboxes set state = 'ready', path = ${path}, size_bytes = ${String(sizeBytes)}, error = '', last_used_at = now()
      where id = ${id} returning *`;
    return row;
  }

  /** Marks the last attempt failed; a ready sandbox stays ready unless `evenIfReady` (its set-up failed). */
  async markFailed(id: string, error: string, evenIfReady = false): Promise<void> {
    await this.sql`update sandboxes set state = 'failed', error = ${error.slice(0, 1024)} where id = ${id} and (state <> 'ready' or ${evenIfReady})`;
  }

  /** Removes the sandbox from the map unless a run is in progress in it (then false). */
  async remove(id: string): Promise<boolean> {
    return this.sql.begin(async (tx) => {
      // Under the row's lock: a first message that would put a run in it waits for this (upsertIdInTx).
      const [row] = await tx`select id from sandboxes where id = ${id} for update`;
      if (!row || (await RunStore.activeRunsInSandbox(tx, id)) > 0) return false;
      await tx`delete from sandboxes where id = ${id}`;
      return true;
    });
  }

  async activeRuns(id: string): Promise<number> {
    return RunStore.activeRunsInSandbox(this.sql, id);
  }

  // ── operations on the machine ───────────────────────────────────────────

  /**
   * Sends `op` to the link's machine through whichever replica holds its session, and waits for
   * the reply. Undefined when none came within `timeoutMs` (the operation is then withdrawn).
   */
  async forward(linkId: string, sandboxId: string, op: SandboxRequest['op'], timeoutMs: number, signal?: AbortSignal): Promise<SandboxReply | undefined> {
    const opId = newId('sop');
    const request = toBinary(SandboxRequestSchema, create(SandboxRequestSchema, { opId, op }));
    let wake: () => void = () => undefined;
    let woken = false;
    this.replyWaiters.set(opId, () => {
      woken = true;
      wake();
    });
    const deadline = Date.now() + timeoutMs;
    try {
      await this.sql.begin(async (tx) => {
        await tx`insert into sandbox_ops (id, link_id, sandbox_id, request, deadline)
                 values (${opId}, ${linkId}, ${sandboxId}, ${Buffer.from(request)}, now() + ${timeoutMs / 1000} * interval '1 second')`;
        await notify(tx, 'sandbox_op', { linkId });
      });
      for (;;) {
        const [row] = await this.sql<{ reply: Buffer | null }[]>`select reply from sandbox_ops where id = ${opId}`;
        if (row?.reply) return fromBinary(SandboxReplySchema, new Uint8Array(row.reply));
        const left = deadline - Date.now();
        if (left <= 0 || signal?.aborted) return undefined;
        if (!woken) {
          await new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer);
              signal?.removeEventListener('abort', done);
              resolve();
            };
            const timer = setTimeout(done, left);
            signal?.addEventListener('abort', done, { once: true });
            wake = done;
          });
        }
        woken = false;
      }
    } finally {
      this.replyWaiters.delete(opId);
      await this.sql`delete from sandbox_ops where id = ${opId}`.catch((error) => this.log.warn({ err: error }, 'cannot delete a sandbox operation'));
    }
  }

  /** Claims the link's queued operations that are still in time (compare-and-set), oldest first. */
  async claimOps(linkId: string): Promise<SandboxRequest[]> {
    const rows = await this.sql<{ request: Buffer }[]>`
      update sandbox_ops set state = 'sent'
      where id in (select id from sandbox_ops where link_id = ${linkId} and state = 'queued' and deadline > now()
                   order by created_at for update skip locked)
      returning request`;
    return rows.map((row) => fromBinary(SandboxRequestSchema, new Uint8Array(row.request)));
  }

  /** Stores the machine's reply to one of its link's operations and wakes the requester. */
  async reply(linkId: string, reply: SandboxReply): Promise<void> {
    const rows = await this.sql`
      update sandbox_ops set state = 'done', reply = ${Buffer.from(toBinary(SandboxReplySchema, reply))}
      where id = ${reply.opId} and link_id = ${linkId} and state = 'sent' returning id`;
    if (rows.length > 0) await notify(this.sql, 'sandbox_reply', { opId: reply.opId });
  }
}
