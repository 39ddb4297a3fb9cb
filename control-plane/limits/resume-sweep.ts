/**
 * The resume sweep: a thread whose parked run's `resumes_at` has passed gets its continuation run.
 *
 *   every replica, every LIMIT_SWEEP_INTERVAL_MS ─▶ the (machine, harness) pairs with a due thread
 *     ─▶ per pair, in one transaction under the pair's advisory lock (so replicas never both go):
 *          no continuation of the pair still unfinished (one thread at a time per machine and
 *          harness: the next goes when the previous continuation has ended)
 *          ─▶ the earliest due thread without an unfinished run (`for update skip locked`)
 *          ─▶ a queued run (RunStore.insertQueuedInTx: the dispatcher is woken at commit) with
 *             `continues_run_id`, the thread's session and CONTINUE_PROMPT — or the parked run's
 *             own prompt when it never made a session — and the thread's resume cleared
 *
 * A continuation that hits the limit again parks again (with a new resumes_at), like any run.
 */
import type { Sql, TransactionSql } from 'postgres';
import type { Logger } from '../../common/log.js';
import { PeriodicSweep } from '../periodic-sweep.js';
import { RunStore } from '../runs/run-store.js';
import type { PermissionModeName } from '../runs/run-record.js';
import { UNFINISHED } from '../runs/run-events.js';

/** What a continuation run says to the agent. */
export const CONTINUE_PROMPT = 'The usage limit has reset. Continue where you left off.';

/** How often a replica looks for due threads. */
export const LIMIT_SWEEP_INTERVAL_MS = 2_000;

interface DueThread {
  id: string;
  user_id: string;
  link_id: string;
  harness: string;
  sandbox_id: string | null;
  session_id: string;
  parked_run_id: string | null;
}

interface ParkedRun {
  model: string;
  tier: number;
  prompt: string;
  session_id: string;
  resume_session_id: string;
  permission_mode: PermissionModeName;
}

export class ResumeSweep extends PeriodicSweep {
  constructor(
    private readonly sql: Sql,
    log: Logger,
    intervalMs = LIMIT_SWEEP_INTERVAL_MS,
  ) {
    super(log, intervalMs, 'usage-limit resume sweep');
  }

  /** One pass: at most one continuation per (machine, harness). */
  protected async pass(): Promise<void> {
    const pairs = await this.sql<{ link_id: string; harness: string }[]>`
      select distinct link_id, harness from threads where resumes_at <= now() and link_id is not null and harness is not null`;
    for (const pair of pairs) {
      const runId = await this.sql.begin((tx) => resumeOneInTx(tx, pair.link_id, pair.harness));
      if (runId) this.log.info({ runId, linkId: pair.link_id, harness: pair.harness }, 'usage limit reset: continuation queued');
    }
  }
}

/** Queues the continuation of the earliest due thread of (link, harness), when none of the pair is unfinished; its run id. */
async function resumeOneInTx(tx: TransactionSql, linkId: string, harness: string): Promise<string | undefined> {
  const [locked] = await tx<{ ok: boolean }[]>`select pg_try_advisory_xact_lock(hashtext('usage-limit-resume'), hashtext(${`${linkId} ${harness}`})) as ok`;
  if (!locked.ok) return undefined;
  const [busy] = await tx`
    select 1 from runs where link_id = ${linkId} and harness = ${harness} and continues_run_id is not null and state = any(${UNFINISHED}::text[]) limit 1`;
  if (busy) return undefined;
  const [thread] = await tx<DueThread[]>`
    select t.id, t.user_id, t.link_id, t.harness, t.sandbox_id, t.session_id, t.parked_run_id from threads t
    where t.link_id = ${linkId} and t.harness = ${harness} and t.resumes_at <= now()
      and not exists (select 1 from runs r where r.thread_id = t.id and r.state = any(${UNFINISHED}::text[]))
    order by t.resumes_at, t.id limit 1 for update of t skip locked`;
  if (!thread) return undefined;
  await tx`update threads set resumes_at = null, parked_run_id = null where id = ${thread.id}`;
  const [parked] = thread.parked_run_id
    ? await tx<ParkedRun[]>`select model, tier, prompt, session_id, resume_session_id, permission_mode from runs where id = ${thread.parked_run_id}`
    : [];
  if (!parked) return undefined; // the parked run was deleted: nothing to continue
  // The session the parked run ended in (or was resumed from); none when the CLI kept none.
  const session = parked.session_id || parked.resume_session_id;
  const runId = await RunStore.insertQueuedInTx(tx, {
    threadId: thread.id,
    sandboxId: thread.sandbox_id,
    userId: thread.user_id,
    linkId,
    harness,
    model: parked.model,
    tier: parked.tier,
    prompt: session ? CONTINUE_PROMPT : parked.prompt,
    resumeSessionId: session,
    permissionMode: parked.permission_mode,
  });
  await tx`update runs set continues_run_id = ${thread.parked_run_id} where id = ${runId}`;
  return runId;
}
