/**
 * What a run's stored events do to its interactions, in the transaction that stores them (the
 * run's row locked: see `interaction-store.ts`), and the thread rules a dispatch carries. Called by
 * `runs/run-events.ts` (event batches, the control plane's own terminal events) and
 * `runs/run-store.ts` (the claim of queued runs).
 */
import { create, toBinary } from '@bufbuild/protobuf';
import type { Sql, TransactionSql } from 'postgres';
import { AllowRuleSchema, InteractionKind, InteractionSchema, InteractionState, type AllowRule, type RunEvent } from '../../gen/link/v1/run_pb.js';
import { notify } from '../notifications.js';

/** What an `interaction` event's kind is stored as. */
function kindName(kind: InteractionKind): 'permission' | 'question' {
  return kind === InteractionKind.QUESTION ? 'question' : 'permission';
}

/** The run as the event transaction locked it. */
export interface LockedRun {
  state: string;
}

/**
 * What a stored batch of events does to the run's interactions, in the transaction that stored it
 * (the run's row locked): an `interaction` Link did not allow itself becomes a pending row (a
 * resend changes nothing), its deadline from the thread's approval timeout or else
 * `defaultTimeoutSeconds` (0: none); `interaction_resolved` WITHDRAWN (or CLOSED) ends a pending
 * one; a `done` closes every pending one. Returns the state the unfinished run is in afterwards:
 * 'waiting' while any is pending, else 'running'.
 */
export async function applyInteractionEventsInTx(
  tx: TransactionSql,
  runId: string,
  run: LockedRun,
  stored: readonly RunEvent[],
  defaultTimeoutSeconds = 0,
): Promise<'running' | 'waiting'> {
  let changed = false;
  for (const event of stored) {
    if (event.event.case === 'interaction') {
      const asked = event.event.value;
      if (asked.allowedBy || !asked.id) continue;
      const rows = await tx<{ user_id: string }[]>`
        insert into interactions (run_id, interaction_id, thread_id, user_id, link_id, seq, kind, interaction, deadline)
        select r.id, ${asked.id}, r.thread_id, r.user_id, r.link_id, ${String(event.seq)}, ${kindName(asked.kind)},
          ${Buffer.from(toBinary(InteractionSchema, asked))},
          case when coalesce(nullif(t.approval_timeout_seconds, 0), ${defaultTimeoutSeconds}::int) > 0
            then now() + coalesce(nullif(t.approval_timeout_seconds, 0), ${defaultTimeoutSeconds}::int) * interval '1 second' end
        from runs r left join threads t on t.id = r.thread_id where r.id = ${runId}
        on conflict (run_id, interaction_id) do nothing
        returning user_id`;
      for (const row of rows) await notify(tx, 'interaction_changed', { userId: row.user_id, runId, interactionId: asked.id });
      changed ||= rows.length > 0;
    } else if (event.event.case === 'interactionResolved') {
      const resolved = event.event.value;
      if (resolved.state !== InteractionState.WITHDRAWN && resolved.state !== InteractionState.CLOSED) continue;
      const state = resolved.state === InteractionState.WITHDRAWN ? 'withdrawn' : 'closed';
      const rows = await tx<{ user_id: string }[]>`
        update interactions set state = ${state}, changed_at = now()
        where run_id = ${runId} and interaction_id = ${resolved.interactionId} and state = 'pending'
        returning user_id`;
      for (const row of rows) await notify(tx, 'interaction_changed', { userId: row.user_id, runId, interactionId: resolved.interactionId });
      changed ||= rows.length > 0;
    } else if (event.event.case === 'done') {
      await closePendingInTx(tx, runId);
      return 'running';
    }
  }
  if (!changed) return run.state === 'waiting' ? 'waiting' : 'running';
  return (await hasPending(tx, runId)) ? 'waiting' : 'running';
}

/** The run ended (its own `done`, or one the control plane wrote): what is still pending is closed. */
export async function closePendingInTx(tx: TransactionSql, runId: string): Promise<void> {
  // One statement, its announcements in it (as `notify` writes them), sent at the call: a run's end
  // sends nothing behind its answer, so the end's commit may go right behind it.
  await tx`
    with closed as (
      update interactions set state = 'closed', changed_at = now() where run_id = ${runId} and state = 'pending'
      returning user_id, interaction_id
    )
    select pg_notify('interaction_changed', json_build_object('userId', user_id, 'runId', ${runId}::text, 'interactionId', interaction_id, 'at', ${Date.now()}::bigint)::text)
    from closed`.execute();
}

async function hasPending(tx: TransactionSql, runId: string): Promise<boolean> {
  const [row] = await tx<{ pending: boolean }[]>`select exists (select 1 from interactions where run_id = ${runId} and state = 'pending') as pending`;
  return row.pending;
}

/** The "always allow" rules of each thread (for the runs dispatched in `tx`). */
export async function allowRulesInTx(tx: Sql | TransactionSql, threadIds: readonly string[]): Promise<Map<string, AllowRule[]>> {
  const rules = new Map<string, AllowRule[]>();
  if (threadIds.length === 0) return rules;
  const rows = await (tx as Sql)<{ thread_id: string; tool: string; command_prefix: string }[]>`
    select thread_id, tool, command_prefix from thread_allow_rules where thread_id = any(${[...threadIds]}::text[]) order by created_at, tool, command_prefix`;
  for (const row of rows) {
    let list = rules.get(row.thread_id);
    if (!list) rules.set(row.thread_id, (list = []));
    list.push(create(AllowRuleSchema, { tool: row.tool, commandPrefix: row.command_prefix }));
  }
  return rules;
}
