/**
 * Follows `WatchInteractions` and keeps every record it was shown, so a test can wait for what a
 * user would see ("asked", then "answered", then "delivered").
 */
import type { Client } from '@connectrpc/connect';
import type { InteractionRecord, ThreadService, WatchInteractionsResponse } from '../../gen/link/v1/thread_service_pb.js';
import { StreamWatch } from './stream-watch.js';

export class InteractionWatch extends StreamWatch<WatchInteractionsResponse> {
  /** Every record shown, in order (the snapshot's first). */
  readonly seen: InteractionRecord[] = [];
  snapshotSeen = false;

  constructor(client: Client<typeof ThreadService>) {
    super();
    this.follow((signal) => client.watchInteractions({}, { signal }));
  }

  protected take({ change }: WatchInteractionsResponse): void {
    if (change.case === 'snapshot') {
      this.snapshotSeen = true;
      this.seen.push(...change.value.interactions);
    } else if (change.case === 'changed') {
      this.seen.push(change.value);
    }
  }

  protected said(): string {
    return `seen: ${this.seen.map((r) => `${r.interaction?.id}:${r.state}${r.delivered ? '+delivered' : ''}`).join(', ')}`;
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
}
