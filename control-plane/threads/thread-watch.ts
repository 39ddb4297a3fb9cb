/**
 * WatchThreads' reader: the user's threads as a snapshot, then each thread that was created or
 * changed (title, archived, its newest run's state, a new message, its pending interactions) and each one deleted, on any
 * replica. Changes arrive as `thread_changed` notifications (sent by database triggers whatever
 * wrote the row); each is a hint to read the thread again, so a burst of them costs one read.
 *
 *   thread_changed (userId matches) ─▶ pending ids ─▶ listThreads(those ids) ─▶ changed / removed
 *   LISTEN reconnect ───────────────▶ every thread ─▶ listThreads(all)      ─▶ changed / removed
 *
 * A thread that leaves the view (deleted, or archived when archived ones are not watched) is
 * `removed` once; one that comes back is `changed`. A change that leaves what the view shows as it
 * was (another run's sequence, a resumed session) is not sent again.
 */
import { Channel } from '../../common/channel.js';
import type { Notifications } from '../notifications.js';
import type { ThreadRecord, ThreadStore } from './thread-store.js';

/** A thread as the view shows it: with the number of its interactions waiting for the user. */
export type WatchedThread = ThreadRecord & { pendingInteractions: number };

/** One step of the view: the whole list first, then one thread at a time. */
export type ThreadWatchEvent =
  | { type: 'snapshot'; threads: WatchedThread[] }
  | { type: 'changed'; thread: WatchedThread }
  | { type: 'removed'; threadId: string };

export interface ThreadWatchDependencies {
  threads: Pick<ThreadStore, 'listThreads'>;
  notifications: Pick<Notifications, 'on' | 'onReconnect'>;
  /** The pending interactions of these threads (InteractionStore.pendingByThread); none without it. */
  pendingByThread?: (threadIds: readonly string[]) => Promise<Map<string, number>>;
}

/** Read again every thread (after a LISTEN reconnect: notifications were missed). */
const EVERY_THREAD = '*';

/**
 * The user's threads, live, until `signal` aborts (then it returns). A database error while
 * reading ends the stream with it (the client watches again).
 */
export async function* watchThreads(
  deps: ThreadWatchDependencies,
  userId: string,
  includeArchived: boolean,
  signal: AbortSignal,
): AsyncGenerator<ThreadWatchEvent> {
  const pending = new Set<string>();
  const wake = new Channel<void>();
  const hint = (threadId: string) => {
    if (pending.size === 0) wake.push();
    pending.add(threadId);
  };
  // Listening before the snapshot is read: a change committed meanwhile is read again after it.
  const stopChanges = deps.notifications.on('thread_changed', (change) => {
    if (change.userId === userId && typeof change.threadId === 'string') hint(change.threadId);
  });
  const stopReconnect = deps.notifications.onReconnect(() => hint(EVERY_THREAD));
  const onAbort = () => wake.close();
  signal.addEventListener('abort', onAbort, { once: true });
  const read = async (filter: { threadIds?: string[] }): Promise<WatchedThread[]> => {
    const threads = await deps.threads.listThreads(userId, { includeArchived, ...filter });
    const pending = (await deps.pendingByThread?.(threads.map((t) => t.id))) ?? new Map<string, number>();
    return threads.map((thread) => ({ ...thread, pendingInteractions: pending.get(thread.id) ?? 0 }));
  };
  try {
    const snapshot = await read({});
    /** What the view shows of each thread, to send a thread only when that changed. */
    const shown = new Map(snapshot.map((thread) => [thread.id, shownAs(thread)]));
    yield { type: 'snapshot', threads: snapshot };
    for await (const _ of wake) {
      if (pending.size === 0) continue;
      const ids = [...pending];
      pending.clear();
      const everything = ids.includes(EVERY_THREAD);
      const found = await read(everything ? {} : { threadIds: ids });
      const present = new Set(found.map((thread) => thread.id));
      // Oldest first, so a client that inserts each at the top ends in the list's order.
      for (const thread of found.reverse()) {
        const view = shownAs(thread);
        if (shown.get(thread.id) === view) continue;
        shown.set(thread.id, view);
        yield { type: 'changed', thread };
      }
      for (const threadId of everything ? [...shown.keys()] : ids) {
        if (present.has(threadId) || !shown.delete(threadId)) continue;
        yield { type: 'removed', threadId };
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    stopChanges();
    stopReconnect();
    wake.close();
  }
}

function shownAs(thread: WatchedThread): string {
  return JSON.stringify({ ...thread, sessionId: undefined });
}
