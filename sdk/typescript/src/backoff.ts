/**
 * Capped exponential backoff with full jitter: the n-th delay is uniform in [0, min(cap, base·2ⁿ)],
 * so clients that lost the same server do not come back in step.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    readonly baseMs = 250,
    readonly capMs = 10_000,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call grows the window until the cap. */
  next(): number {
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** this.attempt);
    if (ceiling < this.capMs) this.attempt++;
    return Math.round(this.random() * ceiling);
  }

  /** Call after a success: the next failure starts again from the base window. */
  reset(): void {
    this.attempt = 0;
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    function done() {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(signal?.reason);
    }
  });
}
