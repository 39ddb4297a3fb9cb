import { LinkWatchers, type PresenceClaim, type PresenceEvent, type PresenceRecord, type PresenceWatch, type Registry } from './registry.js';

interface Watcher {
  userId: string | undefined;
  onEvent: (event: PresenceEvent) => void;
}

interface Lease {
  id: number;
  ttlMs: number;
  timer: NodeJS.Timeout;
}

/**
 * What etcd is to the etcd registry: records, leases that expire unless kept alive, and watchers.
 * The embedded default has one replica on one backend; tests put several replicas on one backend.
 * Epochs start from the clock (microseconds), so a restarted control plane never hands out an
 * epoch an agent has seen before.
 */
export class MemoryBackend {
  private readonly records = new Map<string, { record: PresenceRecord; leaseId: number }>();
  private readonly leases = new Map<number, Lease>();
  private readonly watchers = new Set<Watcher>();
  private lastEpoch = 0n;
  private nextLeaseId = 1;

  grant(ttlMs: number): number {
    const id = this.nextLeaseId++;
    this.leases.set(id, { id, ttlMs, timer: setTimeout(() => this.revoke(id), ttlMs) });
    return id;
  }

  /** Pushes the lease's expiry out by its TTL; false when it already expired. */
  keepAlive(id: number): boolean {
    const lease = this.leases.get(id);
    if (!lease) return false;
    lease.timer.refresh();
    return true;
  }

  /** Ends the lease and deletes every record attached to it. */
  revoke(id: number): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    clearTimeout(lease.timer);
    this.leases.delete(id);
    for (const [key, entry] of [...this.records]) {
      if (entry.leaseId !== id) continue;
      this.records.delete(key);
      this.emit({ type: 'delete', userId: entry.record.userId, linkId: entry.record.linkId, epoch: entry.record.epoch });
    }
  }

  claim(claim: PresenceClaim, leaseId: number): PresenceRecord {
    const record: PresenceRecord = { ...claim, epoch: this.nextEpoch() };
    this.records.set(key(record.userId, record.linkId), { record, leaseId });
    this.emit({ type: 'put', record });
    return record;
  }

  update(record: PresenceRecord, leaseId: number): boolean {
    const current = this.records.get(key(record.userId, record.linkId));
    if (!current || current.record.epoch !== record.epoch) return false;
    this.records.set(key(record.userId, record.linkId), { record, leaseId });
    this.emit({ type: 'put', record });
    return true;
  }

  release(userId: string, linkId: string, epoch: bigint): void {
    const current = this.records.get(key(userId, linkId));
    if (!current || current.record.epoch !== epoch) return;
    this.records.delete(key(userId, linkId));
    this.emit({ type: 'delete', userId, linkId, epoch });
  }

  get(userId: string, linkId: string): PresenceRecord | undefined {
    return this.records.get(key(userId, linkId))?.record;
  }

  list(userId?: string): PresenceRecord[] {
    return [...this.records.values()].map((e) => e.record).filter((r) => userId === undefined || r.userId === userId);
  }

  watch(userId: string | undefined, onEvent: (event: PresenceEvent) => void): PresenceWatch {
    const watcher: Watcher = { userId, onEvent };
    const snapshot = this.list(userId);
    this.watchers.add(watcher);
    return { snapshot, stop: () => this.watchers.delete(watcher) };
  }

  private nextEpoch(): bigint {
    const fromClock = BigInt(Date.now()) * 1000n;
    this.lastEpoch = fromClock > this.lastEpoch ? fromClock : this.lastEpoch + 1n;
    return this.lastEpoch;
  }

  readonly linkWatchers = new LinkWatchers();

  private emit(event: PresenceEvent): void {
    this.linkWatchers.emit(event);
    const userId = event.type === 'put' ? event.record.userId : event.userId;
    for (const watcher of [...this.watchers]) {
      if (watcher.userId === undefined || watcher.userId === userId) watcher.onEvent(event);
    }
  }
}

/**
 * The registry of the embedded default: a replica on an in-memory backend, with the same lease
 * semantics as etcd (records attached to the replica's lease, kept alive every TTL/3, gone when it
 * expires or is revoked). Watchers are called synchronously, in the order changes were made.
 */
export class MemoryRegistry implements Registry {
  private leaseId: number | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly replicaId: string,
    private readonly backend = new MemoryBackend(),
    private readonly leaseTtlMs = 10_000,
  ) {}

  async start(): Promise<void> {
    this.leaseId = this.backend.grant(this.leaseTtlMs);
    this.keepAliveTimer = setInterval(() => {
      if (this.leaseId !== undefined && !this.backend.keepAlive(this.leaseId)) this.leaseId = this.backend.grant(this.leaseTtlMs);
    }, Math.max(10, Math.floor(this.leaseTtlMs / 3)));
    this.keepAliveTimer.unref();
  }

  isReady(): boolean {
    return !this.closed && this.leaseId !== undefined;
  }

  async claim(claim: PresenceClaim): Promise<PresenceRecord> {
    return this.backend.claim(claim, this.lease());
  }

  async update(record: PresenceRecord): Promise<boolean> {
    return this.backend.update(record, this.lease());
  }

  async release(userId: string, linkId: string, epoch: bigint): Promise<void> {
    this.backend.release(userId, linkId, epoch);
  }

  async get(userId: string, linkId: string): Promise<PresenceRecord | undefined> {
    return this.backend.get(userId, linkId);
  }

  async list(userId?: string): Promise<PresenceRecord[]> {
    return this.backend.list(userId);
  }

  async watch(userId: string | undefined, onEvent: (event: PresenceEvent) => void): Promise<PresenceWatch> {
    return this.backend.watch(userId, onEvent);
  }

  watchLink(userId: string, linkId: string, onEvent: (event: PresenceEvent) => void): () => void {
    return this.backend.linkWatchers.add(userId, linkId, onEvent);
  }

  async abandon(): Promise<void> {
    clearInterval(this.keepAliveTimer);
    this.closed = true;
  }

  async close(): Promise<void> {
    if (this.closed && this.leaseId === undefined) return;
    clearInterval(this.keepAliveTimer);
    this.closed = true;
    if (this.leaseId !== undefined) this.backend.revoke(this.leaseId);
    this.leaseId = undefined;
  }

  private lease(): number {
    if (this.leaseId === undefined) throw new Error('the registry is not started');
    return this.leaseId;
  }
}

function key(userId: string, linkId: string): string {
  return `${userId}/${linkId}`;
}
