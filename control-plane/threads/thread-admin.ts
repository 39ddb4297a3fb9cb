/**
 * Thread management beside the thread store: renaming, archiving, the approval timeout, and
 * deleting a thread with its messages, runs and events (the foreign keys cascade). A thread with a
 * run in progress is not deleted (THREAD_BUSY): its machine is still writing to it. Every change is
 * announced to the thread lists of every replica by the `thread_changed` trigger
 * (the `thread_admin` migration in `sql/`), not here.
 */
import type { Sql } from 'postgres';
import { Reason } from '../../common/reasons.js';
import { threadFromRow, type ThreadRecord, type ThreadRow, type ThreadStore } from './thread-store.js';

/** What an update sets; a field left undefined keeps its value. */
export interface ThreadPatch {
  title?: string;
  archived?: boolean;
  approvalTimeoutSeconds?: number;
  /** Park runs at the usage limit and continue after the reset (off: they fail). */
  resumeAfterLimit?: boolean;
}

/** Why deleteThread refused; nothing was deleted. */
export class DeleteRefused extends Error {
  constructor(
    readonly reason: typeof Reason.ThreadNotFound | typeof Reason.ThreadBusy,
    message: string,
  ) {
    super(message);
  }
}

export class ThreadAdmin {
  constructor(
    private readonly sql: Sql,
    private readonly threads: Pick<ThreadStore, 'listThreads'>,
  ) {}

  /**
   * Applies `patch` to the user's thread and returns it as lists show it (state, machine name);
   * undefined when the user has no such thread. An empty patch changes nothing and returns the thread.
   */
  async updateThread(userId: string, threadId: string, patch: ThreadPatch): Promise<ThreadRecord | undefined> {
    const [row] = await this.sql<ThreadRow[]>`
      update threads set
        title = coalesce(${patch.title ?? null}::text, title),
        archived = coalesce(${patch.archived ?? null}::boolean, archived),
        approval_timeout_seconds = coalesce(${patch.approvalTimeoutSeconds ?? null}::integer, approval_timeout_seconds),
        resume_after_limit = coalesce(${patch.resumeAfterLimit ?? null}::boolean, resume_after_limit)
      where id = ${threadId} and user_id = ${userId}
      returning *`;
    if (!row) return undefined;
    const [listed] = await this.threads.listThreads(userId, { includeArchived: true, threadIds: [threadId] });
    return listed ?? threadFromRow(row);
  }

  /**
   * Deletes the user's thread with its messages, runs and their events, in one transaction that
   * holds the thread's row (so no message is sent to it meanwhile). Its sandbox stays (the machines
   * page deletes it). Throws `DeleteRefused` THREAD_NOT_FOUND or THREAD_BUSY (a run not finished).
   */
  async deleteThread(userId: string, threadId: string): Promise<void> {
    await this.sql.begin(async (tx) => {
      const [row] = await tx`select id from threads where id = ${threadId} and user_id = ${userId} for update`;
      if (!row) throw new DeleteRefused(Reason.ThreadNotFound, `no thread ${threadId}`);
      const [busy] = await tx`select id from runs where thread_id = ${threadId} and state not in ('completed', 'failed', 'cancelled') limit 1`;
      if (busy) throw new DeleteRefused(Reason.ThreadBusy, 'a run is in progress in this thread; stop it or wait for it to finish, then delete the thread');
      await tx`delete from threads where id = ${threadId}`;
    });
  }
}
