/**
 * What the tests' stream watchers share (`LinkWatch`, `InteractionWatch`, the thread admin test's
 * `ThreadWatch`): a server stream read in the background, and waiting with a deadline until what it
 * said so far meets a condition.
 */
export abstract class StreamWatch<Message> {
  private readonly abort = new AbortController();
  private wake: () => void = () => undefined;
  private error: unknown;
  private done: Promise<void> = Promise.resolve();

  /** Takes one message of the stream in (a subclass records what it says). */
  protected abstract take(message: Message): void;

  /** What the stream said so far, for a failure's message (e.g. `events: snapshot, lnk_1:ONLINE`). */
  protected abstract said(): string;

  /** Starts reading `open(signal)`; call it once, at the end of the subclass's constructor. */
  protected follow(open: (signal: AbortSignal) => AsyncIterable<Message>): void {
    this.done = (async () => {
      try {
        for await (const message of open(this.abort.signal)) {
          this.take(message);
          this.wake();
        }
      } catch (error) {
        if (!this.abort.signal.aborted) this.error = error;
      }
      this.wake();
    })();
  }

  /** Resolves once `done()` holds; rejects with the stream's error, or at the deadline with `failure`. */
  protected async waitFor(done: () => boolean, failure: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (this.error) throw this.error;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${failure} within ${timeoutMs} ms (${this.said()})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Stops reading; resolves once the stream is closed. */
  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}
