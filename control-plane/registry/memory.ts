import type { PresenceClaim, PresenceEvent, PresenceRecord, PresenceWatch, Registry } from './registry.js';

interface Watcher {
  userId: string | undefined;
  onEvent: (event: PresenceEvent) => void;
}

/**
 * The registry of the embedded default: one process, one replica, records in a map. Epochs start
 * from the clock (microseconds) so that a restarted control plane never hands out an epoch an agent
 * has seen before. Watchers are called synchronously, in the order changes were made.
 */
export class MemoryRegistry implements Registry {
  private readonly records = new Map<string, PresenceRecord>();
  private readonly watchers = new Set<Watcher>();
  private lastEpoch = 0n;
  private closed = false;

  constructor(readonly replicaId: string) {}

  async start(): Promise<void> {}

  isReady(): boolean {
    return !this.closed;
  }

  async claim(claim: PresenceClaim): Promise<PresenceRecord> {
    const record: PresenceRecord = { ...claim, epoch: this.nextEpoch() };
    this.records.set(key(record.userId, record.linkId), record);
    this.emit({ type: 'put', record });
    return record;
  }

  async update(record: PresenceRecord): Promise<boolean> {
    const current = this.records.get(key(record.userId, record.linkId));
    if (!current || current.epoch !== record.epoch) return false;
    this.records.set(key(record.userId, record.linkId), record);
    this.emit({ type: 'put', record });
    return true;
  }

  async release(userId: string, linkId: string, epoch: bigint): Promise<void> {
    const current = this.records.get(key(userId, linkId));
    if (!current || current.epoch !== epoch) return;
    this.records.delete(key(userId, linkId));
    this.emit({ type: 'delete', userId, linkId, epoch });
  }

  async get(userId: string, linkId: string): Promise<PresenceRecord | undefined> {
    return this.records.get(key(userId, linkId));
  }

  async list(userId?: string): Promise<PresenceRecord[]> {
    return [...this.records.values()].filter((r) => userId === undefined || r.userId === userId);
  }

  async watch(userId: string | undefined, onEvent: (event: PresenceEvent) => void): Promise<PresenceWatch> {
    const watcher: Watcher = { userId, onEvent };
    const snapshot = await this.list(userId);
    this.watchers.add(watcher);
    return { snapshot, stop: () => this.watchers.delete(watcher) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const record of [...this.records.values()]) {
      this.records.delete(key(record.userId, record.linkId));
      this.emit({ type: 'delete', userId: record.userId, linkId: record.linkId, epoch: record.epoch });
    }
    this.watchers.clear();
  }

  private nextEpoch(): bigint {
    const fromClock = BigInt(Date.now()) * 1000n;
    this.lastEpoch = fromClock > this.lastEpoch ? fromClock : this.lastEpoch + 1n;
    return this.lastEpoch;
  }

  private emit(event: PresenceEvent): void {
    const userId = event.type === 'put' ? event.record.userId : event.userId;
    for (const watcher of [...this.watchers]) {
      if (watcher.userId === undefined || watcher.userId === userId) watcher.onEvent(event);
    }
  }
}

function key(userId: string, linkId: string): string {
  return `${userId}/${linkId}`;
}
