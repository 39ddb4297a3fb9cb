/**
 * The user's threads, live from `ThreadService.WatchThreads` (a snapshot, then each thread
 * created, changed or deleted, with its newest run's state), archived ones included, shared by the
 * sidebar and the keyboard shortcuts through context. A thread started from `linkctl`, another tab
 * or another device appears here as it is created. When the stream breaks it says so and resumes
 * with capped, jittered backoff (a fresh snapshot each time).
 */
import { createContext } from '@lit/context';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import type { Thread } from '../../gen/link/v1/run_pb.js';
import type { WatchThreadsResponse } from '../../gen/link/v1/thread_service_pb.js';
import type { ApiClients } from './api.js';
import { LiveStore } from './live-store.js';

export class ThreadDirectory extends LiveStore<WatchThreadsResponse> {
  threads = new Map<string, Thread>();

  constructor(private readonly clients: ApiClients) {
    super();
  }

  get(id: string): Thread | undefined {
    return this.threads.get(id);
  }

  /**
   * Most recently active first; archived ones only with `archived`; with `query`, only titles that
   * contain it (ignoring case).
   */
  sorted(options: { archived?: boolean; query?: string } = {}): Thread[] {
    const query = options.query?.trim().toLowerCase() ?? '';
    return [...this.threads.values()]
      .filter((t) => t.archived === Boolean(options.archived) && (!query || t.title.toLowerCase().includes(query)))
      .sort((a, b) => updatedMs(b) - updatedMs(a) || b.id.localeCompare(a.id));
  }

  /** Tells the directory at once what a call just answered (its own stream says so a moment later too). */
  put(thread: Thread): void {
    this.threads = new Map(this.threads).set(thread.id, thread);
    this.changed();
  }

  remove(threadId: string): void {
    if (!this.threads.has(threadId)) return;
    const next = new Map(this.threads);
    next.delete(threadId);
    this.threads = next;
    this.changed();
  }

  protected watch(signal: AbortSignal): AsyncIterable<WatchThreadsResponse> {
    return this.clients.threads.watchThreads({ includeArchived: true }, { signal });
  }

  protected apply({ change }: WatchThreadsResponse): void {
    if (change.case === 'snapshot') {
      this.threads = new Map(change.value.threads.map((t) => [t.id, t]));
      this.snapshotTaken();
    } else if (change.case === 'changed') {
      this.put(change.value);
    } else if (change.case === 'removedThreadId') {
      this.remove(change.value);
    }
  }
}

function updatedMs(thread: Thread): number {
  return thread.updatedAt ? timestampMs(thread.updatedAt) : 0;
}

export const threadDirectoryContext = createContext<ThreadDirectory>(Symbol('link-thread-directory'));
