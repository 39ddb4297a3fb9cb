/**
 * A thread's queued messages in Postgres: a message sent while a run of the thread is in progress
 * (or while a run of it is parked at the usage limit) is stored `queued`, with no run, and waits.
 * It may be edited or withdrawn until it starts; when the thread's run ends, its oldest queued
 * message becomes the next run in the very transaction that ends the run; a queued message (or a
 * queued run) not started by its `expires_at` expires and never runs (message-expiry.ts).
 *
 *   SendMessage ─▶ thread locked ─▶ active run or resumes_at? ─no─▶ run queued, message 'sent'
 *                                                            └yes─▶ message 'queued'
 *   run ends ─▶ afterRunEndedInTx ─▶ startNextMessageInTx ─▶ oldest queued message ─▶ run queued, 'sent'
 *   UpdateQueuedMessage / WithdrawMessage ─▶ compare-and-set on 'queued' (else MESSAGE_STARTED)
 *
 * Every step that makes a thread's run holds the thread's row (`for update`) first, so the thread's
 * one unfinished run is never raced for, and a message queued just as the run ends is seen by the
 * promotion (it waits for the sender's commit).
 */
import type { Sql, TransactionSql } from 'postgres';
import { RunFailure } from '../../common/reasons.js';
import type { RunDone } from '../../gen/link/v1/run_pb.js';
import type { EndingRun } from '../runs/run-ended.js';
import type { RunStateName } from '../runs/run-events.js';
import type { PermissionModeName } from '../runs/run-record.js';
import { newId } from '../store/store.js';

/** A message's life (see MessageState in run.proto). */
export type MessageStateName = 'queued' | 'sent' | 'steering' | 'steered' | 'withdrawn' | 'expired';
/** When a message sent during a run takes effect. */
export type MessageDeliveryName = 'after_turn' | 'now';

/** How many messages a thread may have waiting at once; one more is refused THREAD_BUSY. */
export const MAX_QUEUED_MESSAGES = 100;

export interface MessageRecord {
  id: string;
  threadId: string;
  userId: string;
  text: string;
  model: string;
  tier: number;
  /** The run it became (sent), or the running turn it goes into (steering, steered); else null. */
  runId: string | null;
  state: MessageStateName;
  delivery: MessageDeliveryName;
  permissionMode: PermissionModeName;
  /** Not started by then, it expires (null for one that started at once on an online machine). */
  expiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A `messages` row (`select *`). */
export interface MessageRow {
  id: string;
  thread_id: string;
  user_id: string;
  text: string;
  model: string;
  tier: number;
  run_id: string | null;
  state: MessageStateName;
  delivery: MessageDeliveryName;
  permission_mode: PermissionModeName;
  expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** The thread's unfinished run, if any (the one a new message waits behind). */
export interface ActiveRun {
  id: string;
  state: RunStateName;
}

/** A message to store: as it was sent, without its id and state. */
export interface NewMessage {
  threadId: string;
  userId: string;
  text: string;
  model: string;
  tier: number;
  delivery: MessageDeliveryName;
  permissionMode: PermissionModeName;
  expiresAt: Date | null;
}

/**
 * The thread's unfinished run (queued, dispatched, running, waiting), in the caller's transaction.
 * The caller holds the thread's row (`for update`), so the answer stands until it commits.
 */
export async function activeRunInTx(tx: TransactionSql, threadId: string): Promise<ActiveRun | undefined> {
  const [row] = await tx<ActiveRun[]>`
    select id, state from runs where thread_id = ${threadId} and state in ('queued', 'dispatched', 'running', 'waiting') limit 1`.execute();
  return row;
}

/**
 * Stores a message in the caller's transaction: `state` 'sent' with the run it became, 'queued'
 * with none (it waits), or 'steering' with the running turn it goes into. Returns it as stored.
 */
export async function insertMessageInTx(tx: TransactionSql, message: NewMessage, state: MessageStateName, runId: string | null): Promise<MessageRecord> {
  const [row] = await tx<MessageRow[]>`
    insert into messages (id, thread_id, user_id, text, model, tier, run_id, state, delivery, permission_mode, expires_at)
    values (${newId('msg')}, ${message.threadId}, ${message.userId}, ${message.text}, ${message.model}, ${message.tier}, ${runId},
            ${state}, ${message.delivery}, ${message.permissionMode}, ${message.expiresAt})
    returning *`;
  return messageFromRow(row);
}

/** Whether the thread may queue one more message (fewer than {@link MAX_QUEUED_MESSAGES} wait). */
export async function queueHasRoomInTx(tx: TransactionSql, threadId: string): Promise<boolean> {
  const [row] = await tx<{ n: number }[]>`select count(*)::int as n from messages where thread_id = ${threadId} and state = 'queued'`;
  return row.n < MAX_QUEUED_MESSAGES;
}

/**
 * What a run's end means for its thread's messages, in the transaction that ended it (called once,
 * from afterRunEndedInTx, after the messages that never reached the ended turn went back to the
 * queue: steering/steer-store.ts `steeringEndedInTx`): the message of a run that expired is expired too;
 * and unless the run parked at the usage limit (or the thread waits for a reset), the thread's
 * oldest queued message that has not expired becomes the next run, resuming the thread's session
 * in its sandbox. The statement that inserts the run announces it on `run_queued`, which wakes the
 * replica that holds the machine's session. Every statement is sent at the call and none waits for
 * another's answer, so the caller may send more behind them (and its commit).
 */
export async function startNextMessageInTx(tx: TransactionSql, run: EndingRun, state: RunStateName, done: RunDone): Promise<void> {
  if (!run.threadId) return;
  const expired = done.failureReason === RunFailure.Expired ? tx`update messages set state = 'expired', updated_at = now() where run_id = ${run.id} and state = 'sent'`.execute() : undefined;
  if (state === 'parked_limit') return void (await expired);
  // Sent at their calls, nothing behind their answers (a commit may go right behind them): the
  // thread's row locked, so the next statement's snapshot has every message sent before; then, in
  // one statement, when the thread can start a run (pinned, not waiting for a usage limit's reset,
  // none of its runs in progress), its oldest queued message that has not expired becomes its next
  // run (the row RunStore.insertQueuedInTx writes), 'sent' with it, the thread touched, and the
  // link's replica woken (`run_queued`, as `notify` writes it).
  const locking = tx`select 1 from threads where id = ${run.threadId} for update`.execute();
  const runId = newId('run');
  const promoting = tx`
    with thread as (
      select id, user_id, link_id, harness, sandbox_id, session_id from threads
      where id = ${run.threadId} and resumes_at is null and link_id is not null and harness is not null
        and not exists (select 1 from runs where thread_id = ${run.threadId} and state in ('queued', 'dispatched', 'running', 'waiting'))
    ),
    next as (
      select m.id, m.model, m.tier, m.text, m.permission_mode, m.expires_at from messages m join thread t on t.id = m.thread_id
      where m.state = 'queued' and (m.expires_at is null or m.expires_at > now())
      order by m.created_at, m.id limit 1 for update of m
    ),
    queued as (
      insert into runs (id, thread_id, sandbox_id, user_id, link_id, harness, model, tier, prompt, resume_session_id, state, permission_mode, expires_at)
      select ${runId}, t.id, t.sandbox_id, t.user_id, t.link_id, t.harness, n.model, n.tier, n.text, t.session_id, 'queued', n.permission_mode, n.expires_at
      from thread t cross join next n
      returning link_id
    ),
    sent as (update messages set state = 'sent', run_id = ${runId}, updated_at = now() where id = (select id from next)),
    touched as (update threads set updated_at = now() where id = (select id from thread) and exists (select 1 from next))
    select pg_notify('run_queued', json_build_object('linkId', link_id, 'at', ${Date.now()}::bigint)::text) from queued`.execute();
  await Promise.all([expired, locking, promoting]);
}

/** Why an edit or a withdrawal was refused. */
export type QueuedChangeRefusal = 'not_found' | 'started';

/** Edits and withdrawals of queued messages (UpdateQueuedMessage, WithdrawMessage). */
export class MessageQueue {
  constructor(private readonly sql: Sql) {}

  /**
   * Changes the text of the user's message while it is still queued (a compare-and-set: a
   * promotion that took it first wins, and then this is 'started'). The caller checked the text.
   */
  async updateText(userId: string, messageId: string, text: string): Promise<MessageRecord | QueuedChangeRefusal> {
    const [row] = await this.sql<MessageRow[]>`
      update messages set text = ${text}, updated_at = now()
      where id = ${messageId} and user_id = ${userId} and state = 'queued' returning *`;
    return row ? messageFromRow(row) : this.whyNot(userId, messageId);
  }

  /** Withdraws the user's message while it is still queued: it never runs (compare-and-set as above). */
  async withdraw(userId: string, messageId: string): Promise<MessageRecord | QueuedChangeRefusal> {
    const [row] = await this.sql<MessageRow[]>`
      update messages set state = 'withdrawn', updated_at = now()
      where id = ${messageId} and user_id = ${userId} and state = 'queued' returning *`;
    return row ? messageFromRow(row) : this.whyNot(userId, messageId);
  }

  private async whyNot(userId: string, messageId: string): Promise<QueuedChangeRefusal> {
    const [row] = await this.sql`select 1 from messages where id = ${messageId} and user_id = ${userId}`;
    return row ? 'started' : 'not_found';
  }
}

/** A row as its record. */
export function messageFromRow(row: MessageRow): MessageRecord {
  return {
    id: row.id,
    threadId: row.thread_id,
    userId: row.user_id,
    text: row.text,
    model: row.model,
    tier: row.tier,
    runId: row.run_id,
    state: row.state,
    delivery: row.delivery,
    permissionMode: row.permission_mode,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
