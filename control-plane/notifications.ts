/**
 * The replicas' one way of telling each other something: Postgres NOTIFY on typed channels, heard
 * on one LISTEN connection per replica. Replicas never call each other.
 *
 *   writer ── notify(tx, channel, payload) ──▶ Postgres ──▶ LISTEN connection ──▶ on(channel) listeners
 *                                                              │ dropped (backend killed, Postgres down)
 *                                                              ▼
 *                                      LISTEN again (capped backoff, full jitter) ──▶ onReconnect hooks
 *
 * A notification sent while a replica's LISTEN connection was down is lost to it, so a notification
 * is only ever a hint to read a table: after every reconnect each consumer's `onReconnect` hook
 * reads again what it may have missed (pending runs, cancels, sandbox operations, link changes,
 * watched events). Until the LISTEN holds, `isListening()` is false and `/readyz` says not ready.
 */
import postgres, { type Sql, type TransactionSql } from 'postgres';
import { Backoff, sleep } from '../common/backoff.js';
import type { Logger } from '../common/log.js';
import type { LinkControl } from './store/store.js';

/** Every channel and what its payload carries (besides `at`, the send time in ms). */
export interface Channels {
  /** A run of `linkId` waits for the replica that holds the link's session. */
  run_queued: { linkId: string };
  /**
   * Events of `runId` up to `seq` are stored: watchers on any replica read them, or take `events`
   * (the batch just stored, ending at `seq`, each base64 of a `RunEvent`) when it came along.
   * `origin` names the replica's store that stored them (it has handed them to its watchers).
   */
  run_event: { runId: string; seq: string; events?: string[]; origin?: string };
  /** The user cancelled `runId` (or, with `interrupt`, interrupted its turn): the replica that holds `linkId` tells the machine. */
  run_cancel: { runId: string; linkId: string; interrupt?: boolean };
  /** Messages for the running turns of `linkId`'s runs wait for the replica that holds the link's session (steering/). */
  run_steer: { linkId: string };
  /** Sandbox operations of `linkId` wait for the replica that holds the link's session. */
  sandbox_op: { linkId: string };
  /** The machine answered sandbox operation `opId`: its requester, wherever it is, reads the reply. */
  sandbox_reply: { opId: string };
  /** Disconnect, revoke, rename, token rotation, user disabled (see `LinkControl`). */
  link_control: LinkControl;
  /** Answers to interactions of `linkId`'s runs wait for the replica that holds the link's session. */
  interaction_answer: { linkId: string };
  /** An interaction of `userId` was asked or changed (answered, delivered, withdrawn, closed): watchers read it. */
  interaction_changed: { userId: string; runId: string; interactionId: string };
  /**
   * Thread `threadId` of `userId` was created, changed or deleted, or one of its runs was queued or
   * changed state. Sent by database triggers (the `thread_admin` migration in `sql/`), whatever wrote the row.
   */
  thread_changed: { userId: string; threadId: string };
}

export type ChannelName = keyof Channels;

/** A payload as delivered: what was sent, with its send time. */
export type Delivered<C extends ChannelName> = Channels[C] & { at?: number };

/** The channels, in the order they are listened to. */
export const CHANNELS: readonly ChannelName[] = [
  'run_queued', 'run_event', 'run_cancel', 'sandbox_op', 'sandbox_reply', 'link_control', 'interaction_answer', 'interaction_changed', 'thread_changed', 'run_steer',
];

/** The text `notify` sends: the payload as JSON with its send time (`at`, ms) stamped on. */
export function notifyPayload<C extends ChannelName>(payload: Channels[C]): string {
  return JSON.stringify({ ...payload, at: Date.now() });
}

/**
 * Sends `payload` on `channel`. On a transaction it is delivered only if the transaction commits,
 * and only after it did, so a listener that reads the table finds what the notification announces.
 */
export async function notify<C extends ChannelName>(tx: Sql | TransactionSql, channel: C, payload: Channels[C]): Promise<void> {
  await (tx as Sql)`select pg_notify(${channel}, ${notifyPayload(payload)})`;
}

/** What the notifications report to metrics. */
export interface NotificationObserver {
  notificationLag: { observe(labels: { channel: string }, seconds: number): void };
}

export interface NotificationsOptions {
  /** Shown in `pg_stat_activity.application_name` for the LISTEN connection. */
  applicationName?: string;
  /** The backoff between attempts to LISTEN again (default 100 ms doubling to 5 s, full jitter). */
  backoff?: Backoff;
}

type Listener = (payload: never) => void;

/**
 * The replica's LISTEN connection and its listeners. `open` listens before it returns (and throws
 * when it cannot); `close()` is owed by whoever opened it.
 */
export class Notifications {
  private readonly listeners = new Map<ChannelName, Set<Listener>>();
  private readonly reconnectHooks = new Set<() => unknown>();
  private readonly closing = new AbortController();
  private listening = false;
  private relistening: Promise<void> | undefined;
  /** When LISTEN last held (0: never dropped yet). */
  private heldAt = 0;
  private observer: NotificationObserver | undefined;
  private sql!: Sql;

  private constructor(
    private readonly log: Logger,
    private readonly backoff: Backoff,
  ) {}

  /** Connects to `url` and LISTENs on every channel. */
  static async open(url: string, log: Logger, options: NotificationsOptions = {}): Promise<Notifications> {
    const notifications = new Notifications(log, options.backoff ?? new Backoff(100, 5_000));
    // postgres.js reads onnotify and onclose from its options (its listen() uses them); its types omit them.
    notifications.sql = postgres(url, {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      fetch_types: false,
      connect_timeout: 10,
      onnotice: () => undefined,
      connection: { application_name: options.applicationName ?? 'link-server listen' },
      ...({
        onnotify: (channel: string, payload: string) => notifications.deliver(channel as ChannelName, payload),
        onclose: () => notifications.lost(),
      } as object),
    });
    try {
      await notifications.listen();
    } catch (error) {
      await notifications.close();
      throw error;
    }
    return notifications;
  }

  /** True while the LISTEN connection holds: false from a drop until it listens again. */
  isListening(): boolean {
    return this.listening;
  }

  observe(observer: NotificationObserver): void {
    this.observer = observer;
  }

  /** Calls `listener` for every notification on `channel` this replica hears; returns the function that stops it. */
  on<C extends ChannelName>(channel: C, listener: (payload: Delivered<C>) => void): () => void {
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(listener as Listener);
    return () => set!.delete(listener as Listener);
  }

  /**
   * Calls `hook` each time the LISTEN connection holds again after a drop: what was sent meanwhile
   * was not heard, so the hook reads again what its consumer waits for. Returns the function that stops it.
   */
  onReconnect(hook: () => unknown): () => void {
    this.reconnectHooks.add(hook);
    return () => this.reconnectHooks.delete(hook);
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.listening = false;
    await this.sql?.end({ timeout: 1 }).catch(() => undefined);
  }

  private async listen(): Promise<void> {
    for (const channel of CHANNELS) await this.sql.unsafe(`listen "${channel}"`);
    this.listening = true;
  }

  /** The connection closed: LISTEN again until it holds, then let every consumer catch up. */
  private lost(): void {
    if (this.closing.signal.aborted) return;
    this.listening = false;
    this.relistening ??= this.relisten().finally(() => (this.relistening = undefined));
  }

  private async relisten(): Promise<void> {
    this.log.warn('the LISTEN connection dropped; listening again');
    // A connection that held a while starts the backoff over; one dropped again soon after it last
    // held waits first (capped, jittered), so a connection killed right after each LISTEN does not
    // make every replica catch up again and again at once.
    if (Date.now() - this.heldAt >= 5_000) this.backoff.reset();
    else await sleep(this.backoff.next(), this.closing.signal).catch(() => undefined);
    // A drop while listening again, or while the consumers catch up, goes round once more.
    while (!this.listening && !this.closing.signal.aborted) {
      try {
        await this.listen();
      } catch (error) {
        const delayMs = this.backoff.next();
        this.log.warn({ err: error, retryInMs: delayMs }, 'cannot LISTEN; trying again');
        const stopped = await sleep(delayMs, this.closing.signal).then(() => false, () => true);
        if (stopped) return;
        continue;
      }
      this.heldAt = Date.now();
      this.log.info('listening again; catching up on what was sent meanwhile');
      for (const hook of [...this.reconnectHooks]) {
        try {
          await hook();
        } catch (error) {
          this.log.error({ err: error }, 'catching up after a LISTEN reconnect failed');
        }
      }
      // Dropped again while catching up: round once more, after a wait.
      if (!this.listening) await sleep(this.backoff.next(), this.closing.signal).catch(() => undefined);
    }
  }

  private deliver(channel: ChannelName, text: string): void {
    let payload: Delivered<ChannelName>;
    try {
      payload = JSON.parse(text) as Delivered<ChannelName>;
    } catch {
      this.log.warn({ channel, payload: text.slice(0, 200) }, 'ignoring a malformed notification');
      return;
    }
    if (typeof payload?.at === 'number') this.observer?.notificationLag.observe({ channel }, Math.max(0, Date.now() - payload.at) / 1000);
    for (const listener of [...(this.listeners.get(channel) ?? [])]) {
      try {
        (listener as (payload: Delivered<ChannelName>) => void)(payload);
      } catch (error) {
        this.log.error({ err: error, channel }, 'a notification listener failed');
      }
    }
  }
}
