import { Code, ConnectError, type Client } from '@connectrpc/connect';
import { Backoff, sleep } from '../../../common/backoff.js';
import type { LinkClient } from './client.js';
import type { RunEvent, ThreadService } from './gen.js';

/** Options of `followRun`. */
export interface FollowRunOptions {
  /** Start after this seq (0n, the default: from the run's first event). */
  afterSeq?: bigint;
  /** Stops following: the iterator then throws the signal's reason. */
  signal?: AbortSignal;
  /**
   * Reconnects allowed in a row without receiving an event before the last error is thrown
   * (default 10). A received event resets the count and the backoff.
   */
  maxRetries?: number;
  /** First backoff window in ms (default 250); it doubles per failure up to `backoffCapMs`. */
  backoffBaseMs?: number;
  /** Largest backoff window in ms (default 10 000); each delay is drawn uniformly below it. */
  backoffCapMs?: number;
  /** Told about each reconnect, e.g. to log "watch failed: …; retrying in 2 s after seq 41". */
  onRetry?: (error: ConnectError, delayMs: number, afterSeq: bigint) => void;
}

/** Codes after which watching again can succeed: the network, a replica going away, overload. */
const RETRYABLE = new Set([Code.Unavailable, Code.Unknown, Code.Internal, Code.Aborted, Code.ResourceExhausted, Code.DeadlineExceeded, Code.Canceled]);

/**
 * Every event of a run after `afterSeq`, in seq order without gaps or repeats, ending with (and
 * including) the one terminal `done` event. When the stream breaks — the connection drops, the replica
 * serving it shuts down, or it ends without `done` — it watches again after the last seq it yielded,
 * with capped exponential backoff and full jitter; refusals (NOT_FOUND, UNAUTHENTICATED,
 * PERMISSION_DENIED, INVALID_ARGUMENT, …) are thrown at once. Breaking out of the loop ends the watch.
 *
 * ```ts
 * for await (const event of followRun(client, runId)) console.log(event.seq, event.event.case);
 * ```
 */
export async function* followRun(
  client: LinkClient | Client<typeof ThreadService>,
  runId: string,
  options: FollowRunOptions = {},
): AsyncGenerator<RunEvent, void, undefined> {
  const threads = 'threads' in client ? client.threads : client;
  const backoff = new Backoff(options.backoffBaseMs ?? 250, options.backoffCapMs ?? 10_000);
  const maxRetries = options.maxRetries ?? 10;
  let afterSeq = options.afterSeq ?? 0n;
  let failures = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    let lastError: ConnectError;
    try {
      // Batched: several events per response (one message per batch, not per event).
      for await (const { events } of threads.watchRun({ runId, afterSeq, batched: true }, { signal: options.signal })) {
        for (const event of events) {
          if (event.seq <= afterSeq) continue;
          afterSeq = event.seq;
          failures = 0;
          backoff.reset();
          yield event;
          if (event.event.case === 'done') return;
        }
      }
      lastError = new ConnectError('the run watch ended before the run was done', Code.Unavailable);
    } catch (error) {
      options.signal?.throwIfAborted();
      lastError = ConnectError.from(error);
      if (!RETRYABLE.has(lastError.code)) throw lastError;
    }
    if (++failures > maxRetries) throw lastError;
    const delay = backoff.next();
    options.onRetry?.(lastError, delay, afterSeq);
    await sleep(delay, options.signal);
  }
}
