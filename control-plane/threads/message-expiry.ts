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
import { PeriodicSweep } from '../periodic-sweep.js';
import { RunFailure } from '../../common/reasons.js';
import { RunStatus } from '../../gen/link/v1/run_pb.js';
import type { RunStore } from '../runs/run-store.js';

/** How often a replica looks for expired messages and runs (default). */
export const EXPIRY_SWEEP_INTERVAL_MS = 2_000;

/** How long a message waits to start unless its sender says otherwise (expires_in_seconds 0). */
export const DEFAULT_MESSAGE_EXPIRY_S = 24 * 3600;
/** The longest a message may wait to start. */
export const MAX_MESSAGE_EXPIRY_S = 7 * 24 * 3600;

export class MessageExpirySweep extends PeriodicSweep {
  constructor(
    private readonly sql: Sql,
    private readonly runs: Pick<RunStore, 'finish'>,
    log: Logger,
    intervalMs = EXPIRY_SWEEP_INTERVAL_MS,
  ) {
    super(log, intervalMs, 'message expiry sweep');
  }

  /** One pass. */
  protected async pass(): Promise<void> {
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
  }
}
