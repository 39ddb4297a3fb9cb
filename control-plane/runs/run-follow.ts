/**
 * WatchRun's reader: a run's events after a cursor, what is stored and then live as it is stored
 * (on any replica), riding out a database that goes away for a while (a restart, a failover).
 *
 *   stored events ─▶ RunStore (this replica's, from memory; another's, in the run_event payload)
 *        └─▶ deliver ─▶ the watcher's buffer (bounded) ─▶ yield a batch ─▶ WatchRun stream
 *   a hint, a gap, a full buffer ─▶ read the table from the watcher's seq
 *
 * The table is the truth: what a watcher is handed from memory only saves it a read. One that falls
 * behind (a slow client) drops what it was handed past its bound and reads again from its seq; the
 * store and the other watchers never wait for it.
 */
import { Channel } from '../../common/channel.js';
import type { Logger } from '../../common/log.js';
import { toBinary } from '@bufbuild/protobuf';
import { RunEventSchema, type RunEvent } from '../../gen/link/v1/run_pb.js';

/** How long a watcher waits for an unreachable database before its call fails. */
export const DATABASE_OUTAGE_MS = 60_000;

/** Events a watcher holds from memory before it lets them go and reads the table instead. */
export const WATCHER_BUFFER_EVENTS = 2_048;

/** A batch a watcher is handed goes out as one response of at most this many events… */
export const WATCH_BATCH_EVENTS = 512;
/** …and about this many bytes encoded (a single larger event goes alone). */
export const WATCH_BATCH_BYTES = 1024 * 1024;

/** Events in order, with each one's encoded size in bytes (what a response of them weighs). */
export interface SizedEvents {
  events: RunEvent[];
  sizes: number[];
}

/**
 * News of a run's stored events: the top of the stored prefix and, when they came along, the events
 * stored just now (in order, ending at `top`, with their sizes). Without `top` or `events`, only a
 * hint to read.
 */
export interface RunEventDelivery {
  top?: bigint;
  events?: RunEvent[];
  /** Each event's encoded size; when absent, they are measured (an encode each). */
  sizes?: number[];
}

/** What `followRun` reads through. */
export interface FollowSource {
  /** Stored events after `afterSeq`, in order, up to the contiguous prefix. */
  sizedEvents(runId: string, afterSeq: bigint, limit: number): Promise<SizedEvents>;
  /** Calls `deliver` whenever new events of `runId` may be stored; returns the function that stops it. */
  onRunEvent(runId: string, deliver: (delivery: RunEventDelivery) => void): () => void;
}

/**
 * A run's events after `afterSeq`, in batches (each in order, at most {@link WATCH_BATCH_EVENTS}
 * and about {@link WATCH_BATCH_BYTES}): what is stored, then live, ending after the terminal `done`
 * event or when `signal` aborts. A batch is what is at hand when the watcher asks, so a watcher that
 * keeps up gets each stored batch at once and one that is slower gets larger ones. A database that
 * goes away is waited for, up to {@link DATABASE_OUTAGE_MS}; the watcher misses nothing, as it reads
 * from where it was.
 */
export async function* followRunBatches(source: FollowSource, runId: string, afterSeq: bigint, signal: AbortSignal, log: Logger): AsyncGenerator<RunEvent[]> {
  const wake = new Channel<void>();
  let cursor = afterSeq;
  /** The highest seq known stored. */
  let top = afterSeq;
  let handed: RunEvent[] = [];
  let handedSizes: number[] = [];
  /** The table has what memory does not: read from `cursor`. */
  let mustRead = true;
  // Listen before reading, so nothing stored between the read and the wait is missed.
  const stop = source.onRunEvent(runId, ({ top: storedTop, events, sizes }) => {
    if (storedTop !== undefined && storedTop > top) top = storedTop;
    if (storedTop === undefined || events === undefined) mustRead = true;
    else if (!mustRead) {
      if (handed.length + events.length > WATCHER_BUFFER_EVENTS) {
        // Behind: let go of what memory holds; the table keeps it.
        handed = [];
        handedSizes = [];
        mustRead = true;
      } else
        for (let i = 0; i < events.length; i++) {
          handed.push(events[i]);
          handedSizes.push(sizes?.[i] ?? toBinary(RunEventSchema, events[i]).length);
        }
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
        handedSizes = [];
        const read = await riding(() => source.sizedEvents(runId, cursor, 500), signal, log);
        if (!read) return;
        for (const batch of cut(read.events, read.sizes)) {
          yield batch;
          cursor = batch[batch.length - 1].seq;
          if (batch[batch.length - 1].event.case === 'done') return;
        }
        if (read.events.length === 500) mustRead = true;
        continue;
      }
      if (handed.length > 0) {
        const events = handed;
        const sizes = handedSizes;
        handed = [];
        handedSizes = [];
        // What the watcher has already, then the gap-free run that follows its cursor.
        let from = 0;
        while (from < events.length && events[from].seq <= cursor) from++;
        let to = from;
        while (to < events.length && events[to].seq === cursor + 1n + BigInt(to - from)) to++;
        // A gap: what lies between is in the table.
        if (to < events.length) mustRead = true;
        for (const batch of cut(events.slice(from, to), sizes.slice(from, to))) {
          yield batch;
          cursor = batch[batch.length - 1].seq;
          if (batch[batch.length - 1].event.case === 'done') return;
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

/** The same, one event at a time. */
export async function* followRun(source: FollowSource, runId: string, afterSeq: bigint, signal: AbortSignal, log: Logger): AsyncGenerator<RunEvent> {
  for await (const batch of followRunBatches(source, runId, afterSeq, signal, log)) yield* batch;
}

/** `events` in consecutive batches of at most WATCH_BATCH_EVENTS and about WATCH_BATCH_BYTES, up to and including a `done`. */
function* cut(events: RunEvent[], sizes: number[]): Generator<RunEvent[]> {
  let from = 0;
  while (from < events.length) {
    let to = from;
    let bytes = 0;
    while (to < events.length && to - from < WATCH_BATCH_EVENTS && (to === from || bytes + sizes[to] <= WATCH_BATCH_BYTES)) {
      bytes += sizes[to];
      if (events[to++].event.case === 'done') break;
    }
    yield events.slice(from, to);
    if (events[to - 1].event.case === 'done') return;
    from = to;
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
