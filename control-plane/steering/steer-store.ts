/**
 * Steer and interrupt in Postgres: messages delivered into a running turn, and the user's request
 * to end a turn through the CLI's own interrupt.
 *
 *   SendMessage NOW, run running/waiting, harness steerable ─▶ steerInTx: message 'steering' (run_id = the run)
 *     ─NOTIFY run_steer─▶ the replica holding the link ─▶ SteerDelivery ─▶ SignedSteer ─▶ linkd
 *   the run's `steered` event stored ─▶ applySteeredInTx: message 'steered'
 *   SteerAck ─▶ steerAcked: acknowledged; not applied ─▶ back to 'queued' (it runs after the turn)
 *   the run ends with a message still 'steering' ─▶ steeringEndedInTx: back to 'queued'
 *
 *   InterruptRun ─▶ requestInterrupt: interrupt_requested_at ─NOTIFY run_cancel {interrupt}─▶ CancelRun{interrupt}
 *
 * A message is 'steered' only once its `steered` event is stored (in the events' own transaction,
 * so before the run's `done`), never by the acknowledgement alone: a message the CLI took can never
 * also run again after the turn.
 */
import type { Sql, TransactionSql } from 'postgres';
import type { RunEvent } from '../../gen/link/v1/run_pb.js';
import { notify } from '../notifications.js';
import type { RunStateName } from '../runs/run-events.js';
import type { EndingRun } from '../runs/run-ended.js';
import { insertMessageInTx, type MessageRecord, type NewMessage } from '../threads/message-queue.js';

/** A steered message not yet acknowledged by the machine, for the session that holds its run. */
export interface UndeliveredSteer {
  runId: string;
  messageId: string;
  text: string;
}

/**
 * In SendMessage's transaction (the thread's row locked): when the thread's active run is running
 * or waiting (and not being stopped), stores the message as 'steering' into it and announces it on
 * `run_steer`; undefined (nothing written) when no run is running, so the caller queues it instead.
 * The run's row is read, not locked: the transaction that ends a run holds the run's row and then
 * takes the thread's (run-ended.ts), so taking them the other way round here could deadlock. A run
 * ending meanwhile waits for this thread's row before it looks for messages still 'steering', and
 * so finds this one and sends it back to the queue.
 */
export async function steerInTx(tx: TransactionSql, message: NewMessage): Promise<MessageRecord | undefined> {
  const [run] = await tx<{ id: string; link_id: string }[]>`
    select id, link_id from runs where thread_id = ${message.threadId} and state in ('running', 'waiting')
      and cancel_requested_at is null and interrupt_requested_at is null
    order by created_at desc limit 1`;
  if (!run) return undefined;
  const steering = await insertMessageInTx(tx, { ...message, delivery: 'now' }, 'steering', run.id);
  await notify(tx, 'run_steer', { linkId: run.link_id });
  return steering;
}

/** Stored `steered` events (RunStore's events transaction): their messages are 'steered'. */
export async function applySteeredInTx(tx: TransactionSql, runId: string, stored: readonly RunEvent[]): Promise<void> {
  const ids = stored.flatMap((e) => (e.event.case === 'steered' ? [e.event.value.messageId] : []));
  if (ids.length === 0) return;
  await tx`update messages set state = 'steered', steer_acked_at = coalesce(steer_acked_at, now()), updated_at = now()
           where run_id = ${runId} and id = any(${ids}::text[]) and state = 'steering'`;
}

/** After a run ended (run-ended.ts): what never reached its turn goes back to the queue, to run after it. */
export async function steeringEndedInTx(tx: TransactionSql, run: EndingRun): Promise<void> {
  // Sent at the call (`execute`), ahead of what the caller sends after it (the next queued message's read).
  await tx`update messages set state = 'queued', run_id = null, steer_acked_at = now(), updated_at = now()
           where run_id = ${run.id} and state = 'steering'`.execute();
}

/** The steer table's reads and writes outside those transactions. */
export class SteerStore {
  constructor(private readonly sql: Sql) {}

  /** The messages still 'steering' into runs that session `epoch` of the link holds, oldest first. */
  async undelivered(linkId: string, epoch: bigint): Promise<UndeliveredSteer[]> {
    const rows = await this.sql<{ run_id: string; id: string; text: string }[]>`
      select m.run_id, m.id, m.text from messages m join runs r on r.id = m.run_id
      where r.link_id = ${linkId} and m.state = 'steering' and m.steer_acked_at is null
        and r.session_epoch = ${String(epoch)} and r.state in ('running', 'waiting')
      order by m.created_at, m.id`;
    return rows.map((row) => ({ runId: row.run_id, messageId: row.id, text: row.text }));
  }

  /**
   * The machine's SteerAck for a message of a run of `linkId`: acknowledged (not sent again); one
   * it did not apply goes back to 'queued'. False when there was nothing to change (already
   * acknowledged, steered by its event, or not this link's).
   */
  async acked(linkId: string, runId: string, messageId: string, applied: boolean): Promise<boolean> {
    const rows = applied
      ? await this.sql`update messages m set steer_acked_at = now() from runs r
          where m.id = ${messageId} and m.run_id = ${runId} and r.id = m.run_id and r.link_id = ${linkId}
            and m.state in ('steering', 'steered') and m.steer_acked_at is null returning m.id`
      : await this.sql`update messages m set state = 'queued', run_id = null, steer_acked_at = now(), updated_at = now() from runs r
          where m.id = ${messageId} and m.run_id = ${runId} and r.id = m.run_id and r.link_id = ${linkId}
            and m.state = 'steering' returning m.id`;
    return rows.length > 0;
  }

  /**
   * InterruptRun on a run on its machine (dispatched, running or waiting): recorded, and the replica
   * holding the link tells the machine (CancelRun with `interrupt`). Returns the run's state and
   * link, or undefined when it is not the user's; a queued or finished run is returned unchanged.
   */
  async requestInterrupt(userId: string, runId: string): Promise<{ state: RunStateName; linkId: string } | undefined> {
    return this.sql.begin(async (tx) => {
      const [run] = await tx<{ state: RunStateName; link_id: string }[]>`select state, link_id from runs where id = ${runId} and user_id = ${userId} for update`;
      if (!run) return undefined;
      if (['dispatched', 'running', 'waiting'].includes(run.state)) {
        await tx`update runs set interrupt_requested_at = coalesce(interrupt_requested_at, now()) where id = ${runId}`;
        await notify(tx, 'run_cancel', { runId, linkId: run.link_id, interrupt: true });
      }
      return { state: run.state, linkId: run.link_id };
    });
  }

  /** The link's runs to interrupt on the machine (asked, not cancelled, not ended): sent again after a reconnect. */
  async pendingInterrupts(linkId: string): Promise<string[]> {
    const rows = await this.sql<{ id: string }[]>`
      select id from runs where link_id = ${linkId} and interrupt_requested_at is not null and cancel_requested_at is null
        and state in ('dispatched', 'running', 'waiting')`;
    return rows.map((r) => r.id);
  }
}
