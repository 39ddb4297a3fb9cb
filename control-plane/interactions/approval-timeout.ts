/**
 * The approval timeout: a pending interaction whose deadline passed is denied, so a run whose user
 * is away does not wait forever. The deadline is set when the interaction is stored (the thread's
 * `approval_timeout_seconds`, else `link-server serve --approval-timeout`; neither: none).
 *
 *   every replica, every second ─▶ pending rows past their deadline ─▶ the answer's compare-and-set
 *     (DENY, timed_out, answered by "approval timeout") ─▶ delivered to the machine like any answer
 *
 * Sweeps on several replicas overlap harmlessly, and a person who answers first wins: the denial
 * goes through the very compare-and-set a person's answer does.
 */
import { create } from '@bufbuild/protobuf';
import type { Logger } from '../../common/log.js';
import { PeriodicSweep } from '../periodic-sweep.js';
import { InteractionAnswerSchema, InteractionDecision } from '../../gen/link/v1/run_pb.js';
import type { InteractionStore } from './interaction-store.js';

/** Who the timeout's denials are from, as the answer's `answered_by` shows it. */
export const APPROVAL_TIMEOUT_ANSWERER = 'approval timeout';

/** How often a replica looks for overdue interactions. */
export const APPROVAL_SWEEP_INTERVAL_MS = 1_000;

export class ApprovalTimeoutSweep extends PeriodicSweep {
  constructor(
    private readonly interactions: Pick<InteractionStore, 'overdue' | 'answer'>,
    log: Logger,
    intervalMs = APPROVAL_SWEEP_INTERVAL_MS,
  ) {
    super(log, intervalMs, 'approval timeout sweep');
  }

  /** One pass: every overdue pending interaction is denied. */
  protected async pass(): Promise<void> {
    for (const due of await this.interactions.overdue()) {
      const waitedS = Math.round((due.deadline.getTime() - due.createdAt.getTime()) / 1000);
      const answer = create(InteractionAnswerSchema, {
        decision: InteractionDecision.DENY,
        timedOut: true,
        message: `nobody answered within the approval timeout (${waitedS} s); denied`,
      });
      const outcome = await this.interactions.answer(
        { userId: due.userId, runId: due.runId, interactionId: due.interactionId, answer, answeredBy: APPROVAL_TIMEOUT_ANSWERER },
        false,
      );
      if ('answered' in outcome) this.log.info({ runId: due.runId, interactionId: due.interactionId }, 'approval timeout: denied');
    }
  }
}
