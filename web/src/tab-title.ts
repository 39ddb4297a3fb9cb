/**
 * The browser tab's title: how many interactions wait for the user, and how many of the sidebar's
 * threads are running or have failed since the page was opened — "(2) Link · 1 running · 1 failed"
 * — so a tab in the background says when it needs a look.
 */
import { RunState, type Thread } from '../../gen/link/v1/run_pb.js';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import type { InteractionStore } from './interactions.js';

/** States of a run that has not ended (waiting for the user counts as running). */
export const UNFINISHED_STATES: ReadonlySet<RunState> = new Set([RunState.QUEUED, RunState.DISPATCHED, RunState.RUNNING, RunState.WAITING]);

export interface TitleCounts {
  /** Interactions waiting for the user, across all threads. */
  needsYou: number;
  /** Threads whose latest run has not ended. */
  running: number;
  /** Threads whose latest run failed since the page was opened, not looked at since. */
  failed: number;
}

/** "(2) Link · 1 running · 1 failed"; just "Link" when nothing is going on. */
export function tabTitle(counts: TitleCounts, base = 'Link'): string {
  const parts = [base];
  if (counts.running) parts.push(`${counts.running} running`);
  if (counts.failed) parts.push(`${counts.failed} failed`);
  return `${counts.needsYou ? `(${counts.needsYou}) ` : ''}${parts.join(' · ')}`;
}

function failureKey(thread: Thread): string {
  return `${thread.id}@${thread.updatedAt ? timestampMs(thread.updatedAt) : 0}`;
}

/**
 * Keeps `document.title` up to date. The page calls `threads()` with each thread list the sidebar
 * shows and `opened()` when a thread is opened; the interaction store is followed by itself.
 * Failures already there in the first list are old news and are not counted; a new one counts
 * until its thread is opened (it is not counted while its thread is open).
 */
export class TabTitle {
  private list: Thread[] = [];
  private first = true;
  private open = '';
  /** Failures (thread id @ update time) the user has seen, or that predate the page. */
  private readonly seen = new Set<string>();
  private readonly onChange = () => this.write();

  constructor(
    private readonly store: InteractionStore | undefined,
    private readonly target: { title: string } = document,
    private readonly base = 'Link',
  ) {
    store?.addEventListener('change', this.onChange);
    this.write();
  }

  /** Stops following the store. */
  close(): void {
    this.store?.removeEventListener('change', this.onChange);
  }

  threads(threads: Thread[]): void {
    this.list = threads;
    if (this.first) for (const t of threads) if (t.lastRunState === RunState.FAILED) this.seen.add(failureKey(t));
    this.first = false;
    this.write();
  }

  /** The user opened a thread ('' for none): its failure is seen. */
  opened(threadId: string): void {
    this.open = threadId;
    this.write();
  }

  counts(): TitleCounts {
    let running = 0;
    let failed = 0;
    for (const t of this.list) {
      if (UNFINISHED_STATES.has(t.lastRunState)) running++;
      if (t.lastRunState !== RunState.FAILED) continue;
      if (t.id === this.open) this.seen.add(failureKey(t));
      if (!this.seen.has(failureKey(t))) failed++;
    }
    return { needsYou: this.store?.pendingCount ?? 0, running, failed };
  }

  private write(): void {
    const title = tabTitle(this.counts(), this.base);
    if (this.target.title !== title) this.target.title = title;
  }
}
