/**
 * WatchRun's reader: a run's events after a cursor, what is stored and then live as it is stored
 * (on any replica), riding out a database that goes away for a while (a restart, a failover).
 *
 *   stored events ─▶ RunStore (this replica's, from memory; another's, in the run_event payload)
 *        └─▶ deliver ─▶ the watcher's buffer (bounded) ─▶ yield ─▶ WatchRun stream
 *   a hint, a gap, a full buffer ─▶ read the table from the watcher's seq
 *
 * The table is the truth: what a watcher is handed from memory only saves it a read. One that falls
 * behind (a slow client) drops what it was handed past its bound and reads again from its seq; the
 * store and the other watchers never wait for it.
 */
import { Channel } from '../../common/channel.js';
import type { Logger } from '../../common/log.js';
import type { RunEvent } from '../../gen/link/v1/run_pb.js';

/** How long a watcher waits for an unreachable database before its call fails. */
export const DATABASE_OUTAGE_MS = 60_000;

/** Events a watcher holds from memory before it lets them go and reads the table instead. */
export const WATCHER_BUFFER_EVENTS = 2_048;

/**
 * News of a run's stored events: the top of the stored prefix and, when they came along, the events
 * stored just now (in order, ending at `top`). Without `top` or `events`, only a hint to read.
 */
export interface RunEventDelivery {
  top?: bigint;
  events?: RunEvent[];
}

/** What `followRun` reads through. */
export interface FollowSource {
  /** Stored events after `afterSeq`, in order, up to the contiguous prefix. */
  events(runId: string, afterSeq: bigint, limit: number): Promise<RunEvent[]>;
  /** Calls `deliver` whenever new events of `runId` may be stored; returns the function that stops it. */
  onRunEvent(runId: string, deliver: (delivery: RunEventDelivery) => void): () => void;
}

/**
 * A run's events after `afterSeq`: what is stored, then live, ending after the terminal `done`
 * event or when `signal` aborts. A database that goes away is waited for, up to
 * {@link DATABASE_OUTAGE_MS}; the watcher misses nothing, as it reads from where it was.
 */
export async function* followRun(source: FollowSource, runId: string, afterSeq: bigint, signal: AbortSignal, log: Logger): AsyncGenerator<RunEvent> {
  const wake = new Channel<void>();
  let cursor = afterSeq;
  /** The highest seq known stored. */
  let top = afterSeq;
  let handed: RunEvent[] = [];
  /** The table has what memory does not: read from `cursor`. */
  let mustRead = true;
  // Listen before reading, so nothing stored between the read and the wait is missed.
  const stop = source.onRunEvent(runId, ({ top: storedTop, events }) => {
    if (storedTop !== undefined && storedTop > top) top = storedTop;
    if (storedTop === undefined || events === undefined) mustRead = true;
    else if (!mustRead) {
      if (handed.length + events.length > WATCHER_BUFFER_EVENTS) {
        // Behind: let go of what memory holds; the table keeps it.
        handed = [];
        mustRead = true;
      } else for (const event of events) handed.push(event);
    }
    if (wake.size === 0) wake.push();
  });
  const onAbort = () => wake.close();
  signal.addEventListener('abort', onAbort, { once: true });
  const pending = wake[Symbol.asyncIterator]();
  try {
    for (;;) {
      if (mustRead) {
        // Cleared before the read: what is stored during it is handed or flagged again.
        mustRead = false;
        handed = [];
        const batch = await riding(() => source.events(runId, cursor, 500), signal, log);
        if (!batch) return;
        for (const event of batch) {
          yield event;
          cursor = event.seq;
          if (event.event.case === 'done') return;
        }
        if (batch.length === 500) mustRead = true;
        continue;
      }
      if (handed.length > 0) {
        const events = handed;
        handed = [];
        for (const event of events) {
          if (event.seq <= cursor) continue;
          // A gap: what lies between is in the table.
          if (event.seq !== cursor + 1n) {
            mustRead = true;
            break;
          }
          yield event;
          cursor = event.seq;
          if (event.event.case === 'done') return;
        }
        continue;
      }
      if (cursor < top) {
        mustRead = true;
        continue;
      }
      if ((await pending.next()).done) return;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    stop();
    wake.close();
  }
}

/** `read`, again while the database is unreachable (with backoff, for a bounded time); undefined once `signal` aborted. */
async function riding<T>(read: () => Promise<T>, signal: AbortSignal, log: Logger): Promise<T | undefined> {
  const since = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (!isConnectionError(error) || Date.now() - since > DATABASE_OUTAGE_MS) throw error;
      if (attempt === 0) log.warn({ err: error }, 'the database is unreachable; watchers wait for it');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(2_000, 100 * 2 ** attempt));
        signal.addEventListener('abort', done, { once: true });
        function done() {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        }
      });
      if (signal.aborted) return undefined;
    }
  }
}

/**
 * True for an error that says the database connection went away (not that the query was wrong):
 * postgres.js's own connection errors, socket errors, SQLSTATE class 08, and the server shutting
 * down or starting up (57P01, 57P02, 57P03).
 */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return false;
  return (
    code.startsWith('CONNECT') ||
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', '57P01', '57P02', '57P03'].includes(code) ||
    code.startsWith('08')
  );
}
