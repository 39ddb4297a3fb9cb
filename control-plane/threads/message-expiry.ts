/**
 * The expiry sweep: a message (or the run made from it) that has not started by its `expires_at`
 * never runs. Every replica sweeps every few seconds:
 *
 *   queued runs past expiry ─▶ RunStore.finish (FAILED EXPIRED, only while still queued) ─▶ done event;
 *                               afterRunEndedInTx marks its message expired and starts the next one
 *   queued messages past expiry ─▶ 'expired' (the thread's list hears it through thread_changed)
 *
 * The sweep is not what keeps an expired run from running: `claimQueued` never claims one. Sweeps
 * on several replicas overlap harmlessly: each step is a compare-and-set on the queued state.
 */
import type { Sql } from 'postgres';
import type { Logger } from '../../common/log.js';
import { RunFailure } from '../../common/reasons.js';
import { RunStatus } from '../../gen/link/v1/run_pb.js';
import type { RunStore } from '../runs/run-store.js';

/** How often a replica looks for expired messages and runs (default). */
export const EXPIRY_SWEEP_INTERVAL_MS = 2_000;

/** How long a message waits to start unless its sender says otherwise (expires_in_seconds 0). */
export const DEFAULT_MESSAGE_EXPIRY_S = 24 * 3600;
/** The longest a message may wait to start. */
export const MAX_MESSAGE_EXPIRY_S = 7 * 24 * 3600;

export class MessageExpirySweep {
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(
    private readonly sql: Sql,
    private readonly runs: Pick<RunStore, 'finish'>,
    private readonly log: Logger,
    private readonly intervalMs = EXPIRY_SWEEP_INTERVAL_MS,
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

  /** One pass. A failure is logged; the next pass tries again. */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const due = await this.sql<{ id: string }[]>`
        select id from runs where state = 'queued' and expires_at <= now() order by expires_at limit 200`;
      for (const { id } of due) {
        const message = 'it did not reach its machine before it expired; it never ran';
        if (await this.runs.finish(id, RunStatus.FAILED, RunFailure.Expired, message, { state: 'queued' })) this.log.info({ runId: id }, 'queued run expired');
      }
      const expired = await this.sql<{ id: string }[]>`
        update messages set state = 'expired', updated_at = now()
        where id in (select id from messages where state = 'queued' and expires_at <= now() limit 500) and state = 'queued'
        returning id`;
      if (expired.length > 0) this.log.info({ messages: expired.map((m) => m.id) }, 'queued messages expired');
    } catch (error) {
      this.log.warn({ err: error }, 'the message expiry sweep failed; it runs again shortly');
    } finally {
      this.sweeping = false;
    }
  }
}
