/**
 * Each harness's usage limit on each machine (`usage_limits`), as its CLI last reported it: from a
 * run's `usage_limit` events while it streams, and from a run that ended at the limit. ListLinks
 * and WatchLinks show them (a change is announced on `link_control`, so the page's picker hears
 * it); a reset already past reads OK (the limit is over, whatever was reported). `reported_at` is
 * when the report last changed.
 */
import { create } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import type { Sql, TransactionSql } from 'postgres';
import { UsageLimitStatus, type RunEvent, type UsageLimit } from '../../gen/link/v1/run_pb.js';
import { HarnessUsageLimitSchema, type HarnessUsageLimit } from '../../gen/link/v1/types_pb.js';
import { notify } from '../notifications.js';

type StatusName = 'ok' | 'warning' | 'reached';

const NAMES: Record<number, StatusName> = {
  [UsageLimitStatus.OK]: 'ok',
  [UsageLimitStatus.WARNING]: 'warning',
  [UsageLimitStatus.REACHED]: 'reached',
};

const STATUSES: Record<StatusName, UsageLimitStatus> = { ok: UsageLimitStatus.OK, warning: UsageLimitStatus.WARNING, reached: UsageLimitStatus.REACHED };

/** What is recorded for a machine and harness. */
export interface LimitReport {
  status: UsageLimitStatus;
  resetsAt: Date | null;
  usedPercent?: number;
  window?: string;
}

/**
 * A reset time as the agent sent it, when it is one Postgres can store (a timestamp within years
 * 1970 to 9999); otherwise none. What an agent sends is never trusted to be well-formed.
 */
export function storableDate(at: Timestamp | undefined): Date | null {
  if (!at || at.nanos < 0 || at.nanos > 999_999_999 || at.seconds < 0n || at.seconds > 253_402_300_799n) return null;
  return timestampDate(at);
}

/** Records `report` as the latest for (link, harness), in the caller's transaction. An unspecified status is ignored. */
export async function recordUsageLimitInTx(tx: TransactionSql, linkId: string, harness: string, report: LimitReport): Promise<void> {
  const status = NAMES[report.status];
  if (!status || !harness) return;
  // Only what can be stored: a percentage 0 to 100, a window's name without NUL, at most 64 characters.
  const used = report.usedPercent !== undefined && Number.isFinite(report.usedPercent) ? Math.min(100, Math.max(0, report.usedPercent)) : undefined;
  const window = (report.window ?? '').replaceAll('\u0000', '').slice(0, 64);
  // Written (and the machine's watchers told, through link_control) only when something changed.
  const changed = await tx`
    insert into usage_limits (link_id, harness, status, resets_at, used_percent, used_known, limit_window, reported_at)
    values (${linkId}, ${harness}, ${status}, ${report.resetsAt}, ${used ?? 0}, ${used !== undefined}, ${window}, now())
    on conflict (link_id, harness) do update set status = excluded.status, resets_at = excluded.resets_at,
      used_percent = excluded.used_percent, used_known = excluded.used_known, reported_at = now(),
      limit_window = case when excluded.limit_window = '' then usage_limits.limit_window else excluded.limit_window end
    where (usage_limits.status, usage_limits.resets_at, usage_limits.used_percent, usage_limits.used_known)
      is distinct from (excluded.status, excluded.resets_at, excluded.used_percent, excluded.used_known)
    returning (select user_id from links where id = ${linkId}) as user_id`;
  const userId = (changed[0] as { user_id?: string } | undefined)?.user_id;
  if (userId) await notify(tx, 'link_control', { type: 'changed', userId, linkId });
}

/** A batch of a run's stored events: its `usage_limit` events recorded for its machine and harness (the last one counts). */
export async function recordLimitEventsInTx(tx: TransactionSql, runId: string, linkId: string, stored: RunEvent[]): Promise<void> {
  const limits = stored.flatMap((e) => (e.event.case === 'usageLimit' ? [e.event.value] : []));
  const last: UsageLimit | undefined = limits[limits.length - 1];
  if (!last) return;
  const [run] = await tx<{ harness: string }[]>`select harness from runs where id = ${runId}`;
  if (!run) return;
  await recordUsageLimitInTx(tx, linkId, run.harness, {
    status: last.status,
    resetsAt: storableDate(last.resetsAt),
    usedPercent: last.usedKnown ? last.usedPercent : undefined,
    window: last.window,
  });
}

interface UsageLimitRow {
  link_id: string;
  harness: string;
  status: StatusName;
  resets_at: Date | null;
  used_percent: number;
  used_known: boolean;
  limit_window: string;
  reported_at: Date;
}

/** The recorded limits of the user's links, by link id (a reset in the past reads OK). */
export async function usageLimitsOfLinks(sql: Sql, linkIds: readonly string[], now = new Date()): Promise<Map<string, HarnessUsageLimit[]>> {
  const byLink = new Map<string, HarnessUsageLimit[]>();
  if (linkIds.length === 0) return byLink;
  const rows = await sql<UsageLimitRow[]>`select * from usage_limits where link_id = any(${linkIds as string[]}::text[]) order by harness`;
  for (const row of rows) {
    const over = row.resets_at !== null && row.resets_at.getTime() <= now.getTime() && row.status !== 'ok';
    const limit = create(HarnessUsageLimitSchema, {
      harness: row.harness,
      status: over ? UsageLimitStatus.OK : STATUSES[row.status],
      resetsAt: row.resets_at && !over ? timestampFromDate(row.resets_at) : undefined,
      usedPercent: over ? 0 : row.used_percent,
      usedKnown: over ? false : row.used_known,
      window: row.limit_window,
      reportedAt: timestampFromDate(row.reported_at),
    });
    byLink.set(row.link_id, [...(byLink.get(row.link_id) ?? []), limit]);
  }
  return byLink;
}
