/**
 * What the machine list shows beyond a link's session: whether the machine said it went to sleep
 * (`links.asleep_since`, from PowerChanged) and how many messages wait for it. The SQL behind
 * `Store.setAsleepSince` and `Store.queuedMessages` (postgres.ts delegates here).
 */
import type { Sql } from 'postgres';

/**
 * Sets (a time) or clears (null) when the link's machine said it went to sleep; returns whether the
 * stored value changed, so the caller tells the link's watchers only then.
 */
export async function setAsleepSince(sql: Sql, linkId: string, since: number | null): Promise<boolean> {
  const rows =
    since === null
      ? await sql`update links set asleep_since = null where id = ${linkId} and asleep_since is not null returning id`
      : await sql`update links set asleep_since = ${new Date(since)} where id = ${linkId} and revoked_at is null
                    and asleep_since is distinct from ${new Date(since)} returning id`;
  return rows.length > 0;
}

/**
 * For each of the user's `linkIds`: its queued runs (waiting for the machine or for a free slot on
 * it) plus the queued messages of the threads pinned to it, in one query. Links with none are absent.
 */
export async function queuedMessages(sql: Sql, userId: string, linkIds: string[]): Promise<Map<string, number>> {
  if (linkIds.length === 0) return new Map();
  const rows = await sql<{ link_id: string; queued: number }[]>`
    select link_id, count(*)::int as queued from (
      select r.link_id from runs r join threads t on t.id = r.thread_id
        where r.state = 'queued' and r.link_id = any(${linkIds}) and t.user_id = ${userId}
      union all
      select t.link_id from messages m join threads t on t.id = m.thread_id
        where m.state = 'queued' and t.link_id = any(${linkIds}) and t.user_id = ${userId}
    ) waiting group by link_id`;
  return new Map(rows.map((row) => [row.link_id, row.queued]));
}
