/**
 * A run that ends at its harness's usage limit (its `done` says FAILED, USAGE_LIMIT, and when the
 * limit resets): parked when its thread opted in (`threads.resume_after_limit`), failed otherwise.
 *
 *   done USAGE_LIMIT ─▶ parkOrFailInTx:   opted in → 'parked_limit'; the thread's resumes_at =
 *                                          reset + margin (no reset known: DEFAULT_LIMIT_WAIT_S),
 *                                          parked_run_id = the run
 *                     ─▶ afterLimitInTx:   usage_limits REACHED for (machine, harness); a failed
 *                                          run's message says when the limit resets
 *   resume-sweep.ts  ─▶ the continuation run at resumes_at
 *   CancelRun on the parked run ─▶ cancelParkedInTx: the run ends CANCELLED, the thread's resume is
 *                                  cleared (the next parked thread of the machine may go)
 *
 * The margin is the server's `--limit-resume-margin` (one value per process: `configureLimits`).
 */
import type { TransactionSql } from 'postgres';
import { create } from '@bufbuild/protobuf';
import { RunDoneSchema, RunStatus, UsageLimitStatus, type RunDone } from '../../gen/link/v1/run_pb.js';
import { startNextMessageInTx } from '../threads/message-queue.js';
import { RunFailure } from '../../common/reasons.js';
import type { EndingRun } from '../runs/run-ended.js';
import type { RunStateName } from '../runs/run-events.js';
import { recordUsageLimitInTx, storableDate } from './usage-limits.js';

/** Seconds after the reset a continuation starts, by default (`--limit-resume-margin`). */
export const DEFAULT_LIMIT_RESUME_MARGIN_S = 60;
/** How long a parked run waits when its CLI did not say when the limit resets: 5 minutes. */
export const DEFAULT_LIMIT_WAIT_S = 300;

const settings = { marginSeconds: DEFAULT_LIMIT_RESUME_MARGIN_S };

/** Sets the margin after a reset (the server's option; called once at start). */
export function configureLimits(options: { marginSeconds?: number }): void {
  settings.marginSeconds = options.marginSeconds ?? DEFAULT_LIMIT_RESUME_MARGIN_S;
}

const isLimit = (done: RunDone) => done.failureReason === RunFailure.UsageLimit;

/**
 * The state a run ends in at the usage limit: 'parked_limit' (and the thread's resume set) when its
 * thread opted in, else `state` unchanged. Other runs: `state`.
 */
export async function parkOrFailInTx(tx: TransactionSql, run: EndingRun, done: RunDone, state: RunStateName): Promise<RunStateName> {
  if (!isLimit(done) || state !== 'failed' || !run.threadId) return state;
  const resetsAt = storableDate(done.limitResetsAt);
  const [parked] = await tx<{ id: string }[]>`
    update threads set
      resumes_at = ${resetsAt ? tx`${resetsAt}::timestamptz + ${settings.marginSeconds} * interval '1 second'` : tx`now() + ${DEFAULT_LIMIT_WAIT_S} * interval '1 second'`},
      parked_run_id = ${run.id}
    where id = ${run.threadId} and resume_after_limit
    returning id`;
  return parked ? 'parked_limit' : state;
}

/** After a run ended at the limit: the machine's limit recorded; a failed run's message says when it resets. */
export async function afterLimitInTx(tx: TransactionSql, run: EndingRun, state: RunStateName, done: RunDone): Promise<void> {
  if (!isLimit(done)) return;
  const resetsAt = storableDate(done.limitResetsAt);
  const [row] = await tx<{ harness: string }[]>`select harness from runs where id = ${run.id}`;
  if (row) await recordUsageLimitInTx(tx, run.linkId, row.harness, { status: UsageLimitStatus.REACHED, resetsAt, window: '' });
  if (state === 'failed') {
    const when = resetsAt ? `The usage limit resets at ${resetsAt.toISOString()}.` : 'The CLI did not say when the usage limit resets.';
    await tx`update runs set failure_message = left(case when failure_message = '' then ${when} else failure_message || ' ' || ${when} end, 4096) where id = ${run.id}`;
  }
}

/**
 * CancelRun on a parked run (the user gives up waiting): the run ends CANCELLED and its thread's
 * resume is cleared, so no continuation starts, the machine's next parked thread may go, and the
 * thread's queued messages go on (the oldest starts now). Returns whether the run was parked (then
 * it is cancelled now).
 */
export async function cancelParkedInTx(tx: TransactionSql, runId: string): Promise<boolean> {
  const [run] = await tx<{ thread_id: string | null; link_id: string }[]>`
    update runs set state = 'cancelled', cancel_requested_at = coalesce(cancel_requested_at, now()) where id = ${runId} and state = 'parked_limit' returning thread_id, link_id`;
  if (!run) return false;
  if (run.thread_id) {
    await tx`update threads set resumes_at = null, parked_run_id = null where id = ${run.thread_id} and parked_run_id = ${runId}`;
    await startNextMessageInTx(tx, { id: runId, linkId: run.link_id, threadId: run.thread_id }, 'cancelled', create(RunDoneSchema, { status: RunStatus.CANCELLED, failureReason: RunFailure.Cancelled }));
  }
  return true;
}
