/**
 * Browser notifications for a page in the background: a run needs the user, finished or failed.
 * Shown only while the page is hidden (a visible page shows it on the page itself); clicking one
 * brings the page forward and opens the thread. The permission is asked once, when the user sends
 * a message (a moment where the use is plain, and a user gesture), never on load.
 */
import { RunState, type Thread } from '../../gen/link/v1/run_pb.js';
import type { InteractionRecord } from '../../gen/link/v1/thread_service_pb.js';
import { UNFINISHED_STATES } from './tab-title.js';

/** What notifying needs from the browser; the page passes the real ones, a test its own. */
export interface NotifyEnvironment {
  /** The Notification constructor, or undefined where the browser has none. */
  Notification: typeof Notification | undefined;
  hidden(): boolean;
  /** Brings the page forward. */
  focus(): void;
  openThread(threadId: string): void;
  /** Remembers that the permission was asked (localStorage). */
  storage: Pick<Storage, 'getItem' | 'setItem'> | undefined;
}

/** The key under which the page remembers it asked for the permission. */
export const ASKED_KEY = 'link.notifications.asked';

export function browserEnvironment(): NotifyEnvironment {
  return {
    Notification: typeof Notification === 'undefined' ? undefined : Notification,
    hidden: () => document.visibilityState === 'hidden',
    focus: () => window.focus(),
    openThread: (threadId) => (window.location.hash = `#/threads/${threadId}`),
    storage: (() => {
      try {
        return window.localStorage;
      } catch {
        return undefined;
      }
    })(),
  };
}

export class RunNotifier {
  /** The latest run state of each thread, from the previous list. */
  private states: Map<string, RunState> | undefined;

  constructor(private readonly env: NotifyEnvironment = browserEnvironment()) {}

  /**
   * Asks for the permission the first time it is called on this browser (and only while the
   * browser has not been answered). Call it from a user gesture.
   */
  askOnce(): void {
    const N = this.env.Notification;
    if (!N || N.permission !== 'default' || this.env.storage?.getItem(ASKED_KEY)) return;
    this.env.storage?.setItem(ASKED_KEY, new Date().toISOString());
    void N.requestPermission().catch(() => undefined);
  }

  /** An interaction became pending. */
  needsYou(record: InteractionRecord): void {
    const what = record.interaction?.title || (record.interaction?.tool ? `Use ${record.interaction.tool}?` : 'The agent asks you something');
    this.show(`${record.threadTitle || 'A run'} needs you`, what, record.threadId, `needs-you:${record.runId}/${record.interaction?.id ?? ''}`);
  }

  /** The sidebar's threads: a thread whose run was going and now completed or failed is told. */
  threads(threads: Thread[]): void {
    const before = this.states;
    this.states = new Map(threads.map((t) => [t.id, t.lastRunState]));
    if (!before) return;
    for (const t of threads) {
      const was = before.get(t.id);
      if (was === undefined || !UNFINISHED_STATES.has(was)) continue;
      const name = t.title || 'A thread';
      if (t.lastRunState === RunState.COMPLETED) this.show(`${name}: done`, 'The run finished.', t.id, `run:${t.id}`);
      else if (t.lastRunState === RunState.FAILED) this.show(`${name}: failed`, 'The run failed. Open the thread to see why.', t.id, `run:${t.id}`);
    }
  }

  private show(title: string, body: string, threadId: string, tag: string): void {
    const N = this.env.Notification;
    if (!N || N.permission !== 'granted' || !this.env.hidden()) return;
    const notification = new N(title, { body, tag });
    notification.onclick = () => {
      this.env.focus();
      this.env.openThread(threadId);
      notification.close();
    };
  }
}
