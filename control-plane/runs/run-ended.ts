/**
 * What follows a run's end, in the transaction that ends it — by its own `done` (appendEvents) or
 * from the control plane's side (finishRun): the one place such steps go, so that no way of ending
 * a run misses one.
 *
 *   done / finishRun ─▶ endStateInTx (the state the run ends in) ─▶ update runs ─▶ afterRunEndedInTx
 *
 * `endStateInTx` decides the final state from the `done` (a run at the usage limit may park instead
 * of failing). `afterRunEndedInTx` runs after the run's row says it ended: the thread's next queued
 * message may start, a usage limit is recorded for the machine. Their statements go out together
 * (one round trip where nothing is to be started), each read behind what it depends on.
 */
import type { TransactionSql } from 'postgres';
import { RunStatus, type RunDone } from '../../gen/link/v1/run_pb.js';
import type { RunStateName } from './run-events.js';
import { afterLimitInTx, parkOrFailInTx } from '../limits/parking.js';
import { startNextMessageInTx } from '../threads/message-queue.js';
import { steeringEndedInTx } from '../steering/steer-store.js';

/** The run that ends, as the ending transaction read it (its row is locked). */
export interface EndingRun {
  id: string;
  linkId: string;
  threadId: string | null;
}

/** The state a run ends in, from its `done`. */
export async function endStateInTx(tx: TransactionSql, run: EndingRun, done: RunDone): Promise<RunStateName> {
  return parkOrFailInTx(tx, run, done, stateOf(done.status));
}

/** Steps after the run's row records its end (`state`), in the same transaction. */
export async function afterRunEndedInTx(tx: TransactionSql, run: EndingRun, state: RunStateName, done: RunDone): Promise<void> {
  // Sent together (none needs another's answer; Postgres runs them in the order they are written,
  // which is this order: each step whose order counts sends its statement at the call): the usage limit,
  // the thread's row first, as SendMessage takes it (a message it steers into this run meanwhile is
  // committed before the next statement looks), then what never reached the turn goes back to the
  // queue, before the queue's next message is looked for.
  await Promise.all([
    afterLimitInTx(tx, run, state, done),
    run.threadId ? tx`select 1 from threads where id = ${run.threadId} for update`.execute() : undefined,
    steeringEndedInTx(tx, run),
    startNextMessageInTx(tx, run, state, done),
  ]);
}

/** The run state a terminal status maps to. */
export function stateOf(status: RunStatus): RunStateName {
  switch (status) {
    case RunStatus.COMPLETED:
      return 'completed';
    case RunStatus.CANCELLED:
      return 'cancelled';
    case RunStatus.INTERRUPTED:
      return 'interrupted';
    default:
      return 'failed';
  }
}
