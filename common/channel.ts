/**
 * An unbounded async queue with one consumer: producers `push`, the consumer iterates. Closing with
 * an error makes the consumer's next read throw it (after the values already queued).
 *
 * The iterator is an async generator, so it has `return()` and `throw()`: connect-node's client
 * needs both on a request stream.
 */
export class Channel<T> implements AsyncIterable<T> {
  private readonly queue: T[] = [];
  private waiter: (() => void) | undefined;
  private closed = false;
  private failure: unknown;

  /** Queues a value. Values pushed after close are dropped; returns whether it was queued. */
  push(value: T): boolean {
    if (this.closed) return false;
    this.queue.push(value);
    this.wake();
    return true;
  }

  /** Ends the stream. With an error, the consumer throws it after draining what is queued. Idempotent. */
  close(error?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = error;
    this.wake();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get size(): number {
    return this.queue.length;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.queue.length > 0) {
        yield this.queue.shift() as T;
        continue;
      }
      if (this.closed) {
        if (this.failure !== undefined) throw this.failure;
        return;
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
}
