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
import { InteractionAnswerSchema, InteractionDecision } from '../../gen/link/v1/run_pb.js';
import type { InteractionStore } from './interaction-store.js';

/** Who the timeout's denials are from, as the answer's `answered_by` shows it. */
export const APPROVAL_TIMEOUT_ANSWERER = 'approval timeout';

/** How often a replica looks for overdue interactions. */
export const APPROVAL_SWEEP_INTERVAL_MS = 1_000;

export class ApprovalTimeoutSweep {
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(
    private readonly interactions: Pick<InteractionStore, 'overdue' | 'answer'>,
    private readonly log: Logger,
    private readonly intervalMs = APPROVAL_SWEEP_INTERVAL_MS,
  ) {}

  /** Sweeps every `intervalMs` until stop(). The timer does not keep the process alive. */
  start(): void {
    this.timer ??= setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  /** Idempotent. A sweep under way finishes on its own. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass: every overdue pending interaction is denied. A failure is logged; the next pass tries again. */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
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
    } catch (error) {
      this.log.warn({ err: error }, 'the approval timeout sweep failed; it runs again shortly');
    } finally {
      this.sweeping = false;
    }
  }
}
