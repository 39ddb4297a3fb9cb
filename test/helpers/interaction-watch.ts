/**
 * Follows `WatchInteractions` and keeps every record it was shown, so a test can wait for what a
 * user would see ("asked", then "answered", then "delivered").
 */
import type { Client } from '@connectrpc/connect';
import type { InteractionRecord, ThreadService } from '../../gen/link/v1/thread_service_pb.js';

export class InteractionWatch {
  /** Every record shown, in order (the snapshot's first). */
  readonly seen: InteractionRecord[] = [];
  snapshotSeen = false;
  private readonly abort = new AbortController();
  private wake: () => void = () => undefined;
  private error: unknown;
  private readonly done: Promise<void>;

  constructor(client: Client<typeof ThreadService>) {
    this.done = (async () => {
      try {
        for await (const response of client.watchInteractions({}, { signal: this.abort.signal })) {
          if (response.change.case === 'snapshot') {
            this.snapshotSeen = true;
            this.seen.push(...response.change.value.interactions);
          } else if (response.change.case === 'changed') {
            this.seen.push(response.change.value);
          }
          this.wake();
        }
      } catch (error) {
        if (!this.abort.signal.aborted) this.error = error;
      }
      this.wake();
    })();
  }

  /** Resolves once the snapshot has arrived. */
  snapshot(timeoutMs = 15_000): Promise<void> {
    return this.waitFor(() => this.snapshotSeen, 'no snapshot arrived', timeoutMs);
  }

  /** Resolves with the first record shown for which `predicate` holds; rejects at the deadline. */
  async until(predicate: (record: InteractionRecord) => boolean, what: string, timeoutMs = 15_000): Promise<InteractionRecord> {
    await this.waitFor(() => this.seen.some(predicate), `no interaction was shown ${what}`, timeoutMs);
    return this.seen.find(predicate)!;
  }

  private async waitFor(done: () => boolean, failure: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (this.error) throw this.error;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${failure} within ${timeoutMs} ms (seen: ${this.seen.map((r) => `${r.interaction?.id}:${r.state}${r.delivered ? '+delivered' : ''}`).join(', ')})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}
