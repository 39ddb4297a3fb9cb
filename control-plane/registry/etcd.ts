/**
 * The registry on etcd, for many control-plane replicas.
 *
 *   /link/v1/replicas/<replica>          this replica: addresses, start time       ┐ all on the
 *   /link/v1/presence/<user>/<link>      one live session of a link (JSON record)  ┘ replica's lease
 *
 * - One lease per replica (TTL `leaseTtlSeconds`), kept alive by the client every TTL/3. A replica
 *   that dies takes its links offline when the lease expires; `close()` revokes it at once.
 * - A claim is one unconditional put: the newest claim wins, and the etcd revision of that write
 *   (globally increasing) is the session's epoch, so the newest session of a link always has the
 *   largest epoch. Claims that come together (a fleet connecting) go in one transaction, whose
 *   revision they share: epochs are compared only between sessions of one link, and a link's
 *   claims never share a transaction. Updates and releases are transactions conditional on the key's mod revision as
 *   the session last wrote it, so an old session can never overwrite or delete a newer one's record.
 * - One watch on the presence prefix feeds a mirror and every local watcher. When the watch breaks
 *   (compaction, errors), the registry lists again, emits the difference to the mirror, and watches
 *   again from the listed revision: watchers neither lose nor repeat a change.
 * - If the lease is lost (etcd unreachable for longer than the TTL), the replica grants a new one
 *   and writes its live records again (only where no newer session took the key meanwhile).
 *   While keepalives fail, `isReady()` is false: new sessions are refused and /readyz fails.
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { Etcd3, type Lease, type Watcher as EtcdWatcher } from 'etcd3';
import { Backoff, sleep } from '../../common/backoff.js';
import { linkError } from '../../common/errors.js';
import { Reason } from '../../common/reasons.js';
import type { Logger } from '../../common/log.js';
import { batched } from '../store/batched.js';
import { decode, store } from './etcd-records.js';
import { LinkWatchers, type PresenceClaim, type PresenceEvent, type PresenceRecord, type PresenceWatch, type Registry } from './registry.js';

export interface EtcdRegistryOptions {
  /** etcd client URLs ("http://10.0.0.5:2379"). */
  endpoints: string[];
  replicaId: string;
  /** Lease TTL; a crashed replica's links go offline within it. */
  leaseTtlSeconds: number;
  log: Logger;
  /** Written to the replica's key, for operators. */
  advertise?: Record<string, string>;
  /** Key prefix, default "/link/v1". */
  prefix?: string;
  /** Deadline of each etcd call. */
  callTimeoutMs?: number;
}

/** A presence record to put on the replica's lease. */
interface Put {
  key: string;
  value: string;
}

/** etcd's default `--max-txn-ops` is 128 and its request limit 1.5 MiB: a claim transaction stays within both. */
const MAX_TXN_PUTS = 128;
const MAX_TXN_BYTES = 1 << 20;

interface Subscriber {
  userId: string | undefined;
  /** Called with each change and the etcd revision it happened at. */
  onEvent: (event: PresenceEvent, revision: bigint) => void;
}

export class EtcdRegistry implements Registry {
  readonly replicaId: string;
  private readonly client: Etcd3;
  private readonly prefix: string;
  private lease: Lease | undefined;
  private leaseId: string | undefined;
  private healthy = false;
  private closed = false;
  private renewing: Promise<void> | undefined;
  /** This replica's live records: key → record and the mod revision of our last write. */
  private readonly own = new Map<string, { record: PresenceRecord; modRevision: string }>();
  /** Releases that failed (etcd unreachable), retried when it answers again. */
  private readonly pendingReleases = new Map<string, string>();
  /** Every presence record, as the watch has seen it. */
  private mirror = new Map<string, PresenceRecord>();
  private readonly subscribers = new Set<Subscriber>();
  private readonly linkWatchers = new LinkWatchers();
  private watcher: EtcdWatcher | undefined;
  private resyncing: Promise<void> | undefined;

  constructor(private readonly options: EtcdRegistryOptions) {
    this.replicaId = options.replicaId;
    this.prefix = options.prefix ?? '/link/v1';
    const timeout = options.callTimeoutMs ?? 5_000;
    this.client = new Etcd3({
      hosts: options.endpoints,
      dialTimeout: timeout,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeout }),
    });
  }

  private get log(): Logger {
    return this.options.log;
  }

  private presenceKey(userId: string, linkId: string): string {
    return `${this.prefix}/presence/${userId}/${linkId}`;
  }

  async start(): Promise<void> {
    await this.grantLease();
    await this.resync();
  }

  isReady(): boolean {
    return this.healthy && !this.closed;
  }

  async claim(claim: PresenceClaim): Promise<PresenceRecord> {
    // One write, unconditional: the newest claim wins, and its revision (globally increasing) is
    // both the session's epoch and the mod revision its later updates and release are fenced on.
    const key = this.presenceKey(claim.userId, claim.linkId);
    const value = JSON.stringify(store({ ...claim, epoch: 0n }, false));
    const revision = await this.claims({ key, value });
    const record: PresenceRecord = { ...claim, epoch: BigInt(revision) };
    this.own.set(key, { record, modRevision: revision });
    this.pendingReleases.delete(key);
    return record;
  }

  /** The claims that come together, put in as few transactions as etcd takes; each gets the revision of its put. */
  private readonly claims = batched((puts: readonly Put[]) => this.putAll(puts), { maxBatch: MAX_TXN_PUTS });

  private async putAll(puts: readonly Put[]): Promise<string[]> {
    const revisions: string[] = [];
    let rest = puts.map((put, at) => ({ ...put, at }));
    while (rest.length > 0) {
      // A key twice in one transaction is refused by etcd: a link's later claim goes in the next one, so it is the newer.
      const round: typeof rest = [];
      const later: typeof rest = [];
      const keys = new Set<string>();
      let bytes = 0;
      for (const put of rest) {
        const size = put.key.length + put.value.length;
        if (keys.has(put.key) || (round.length > 0 && bytes + size > MAX_TXN_BYTES)) later.push(put);
        else {
          round.push(put);
          keys.add(put.key);
          bytes += size;
        }
      }
      const lease = this.currentLease();
      // etcd3's builder starts a transaction from a comparison; this one always holds (a key never written has mod revision 0, never below).
      const result = await this.client
        .if(round[0].key, 'Mod', '>', -1)
        .then(...round.map((put) => this.client.put(put.key).value(put.value).lease(lease)))
        .commit();
      for (const put of round) revisions[put.at] = result.header.revision;
      rest = later;
    }
    return revisions;
  }

  async update(record: PresenceRecord): Promise<boolean> {
    const key = this.presenceKey(record.userId, record.linkId);
    const mine = this.own.get(key);
    if (!mine || mine.record.epoch !== record.epoch) return false;
    const result = await this.client
      .if(key, 'Mod', '==', mine.modRevision)
      .then(this.client.put(key).value(JSON.stringify(store(record, true))).lease(this.currentLease()))
      .commit();
    if (!result.succeeded) {
      this.own.delete(key);
      return false;
    }
    this.own.set(key, { record, modRevision: result.header.revision });
    return true;
  }

  async release(userId: string, linkId: string, epoch: bigint): Promise<void> {
    const key = this.presenceKey(userId, linkId);
    const mine = this.own.get(key);
    if (!mine || mine.record.epoch !== epoch) return;
    this.own.delete(key);
    try {
      await this.deleteIfUnchanged(key, mine.modRevision);
    } catch (error) {
      this.pendingReleases.set(key, mine.modRevision);
      throw error;
    }
  }

  private async deleteIfUnchanged(key: string, modRevision: string): Promise<void> {
    await this.client.if(key, 'Mod', '==', modRevision).then(this.client.delete().key(key)).commit();
  }

  async get(userId: string, linkId: string, options: { mirrored?: boolean } = {}): Promise<PresenceRecord | undefined> {
    const mirrored = options.mirrored && this.watcher ? this.mirror.get(this.presenceKey(userId, linkId)) : undefined;
    if (mirrored) return mirrored;
    const response = await unavailableOnFailure(this.client.get(this.presenceKey(userId, linkId)).exec());
    return response.kvs[0] ? decode(response.kvs[0]) : undefined;
  }

  async list(userId?: string): Promise<PresenceRecord[]> {
    const prefix = userId === undefined ? `${this.prefix}/presence/` : `${this.prefix}/presence/${userId}/`;
    const response = await unavailableOnFailure(this.client.getAll().prefix(prefix).exec());
    return response.kvs.map(decode);
  }

  /**
   * Subscribes first (buffering), then lists etcd at revision R for the snapshot, then delivers the
   * changes after R: a record claimed just before the call is in the snapshot, and none is missed
   * or repeated.
   */
  async watch(userId: string | undefined, onEvent: (event: PresenceEvent) => void): Promise<PresenceWatch> {
    const buffered: { event: PresenceEvent; revision: bigint }[] = [];
    let snapshotRevision: bigint | undefined;
    const subscriber: Subscriber = {
      userId,
      onEvent: (event, revision) => {
        if (snapshotRevision === undefined) buffered.push({ event, revision });
        else if (revision > snapshotRevision) onEvent(event);
      },
    };
    this.subscribers.add(subscriber);
    try {
      const prefix = userId === undefined ? `${this.prefix}/presence/` : `${this.prefix}/presence/${userId}/`;
      const listed = await unavailableOnFailure(this.client.getAll().prefix(prefix).exec());
      snapshotRevision = BigInt(listed.header.revision);
      for (const { event, revision } of buffered.splice(0)) if (revision > snapshotRevision) onEvent(event);
      return { snapshot: listed.kvs.map(decode), stop: () => this.subscribers.delete(subscriber) };
    } catch (error) {
      this.subscribers.delete(subscriber);
      throw error;
    }
  }

  async abandon(): Promise<void> {
    this.closed = true;
    this.healthy = false;
    await this.watcher?.cancel().catch(() => undefined);
    this.lease?.release();
    this.client.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.healthy = false;
    await this.watcher?.cancel().catch(() => undefined);
    try {
      // Revoke explicitly: close() alone would leave the keepalives running, and the keys with them.
      await this.lease?.revoke();
    } catch (error) {
      this.log.warn({ err: error }, 'could not revoke the lease; this replica\'s links go offline when it expires');
      this.lease?.release();
    }
    this.client.close();
  }

  private currentLease(): string {
    if (!this.leaseId) throw new Error('the registry has no lease');
    return this.leaseId;
  }

  private async grantLease(): Promise<void> {
    const lease = this.client.lease(this.options.leaseTtlSeconds, { autoKeepAlive: true });
    const id = await lease.grant();
    lease.on('lost', (error) => this.onLeaseLost(lease, error));
    lease.on('keepaliveFailed', () => {
      if (lease === this.lease && this.healthy) {
        this.log.warn('etcd keepalive failed; not taking new sessions until it answers');
        this.healthy = false;
      }
    });
    lease.on('keepaliveSucceeded', () => {
      if (lease !== this.lease || this.closed || this.renewing) return;
      if (!this.healthy) this.log.info('etcd answers again');
      this.healthy = true;
      void this.flushReleases();
    });
    await this.client
      .put(`${this.prefix}/replicas/${this.replicaId}`)
      .value(JSON.stringify({ replicaId: this.replicaId, startedAt: new Date().toISOString(), ...this.options.advertise }))
      .lease(id);
    this.lease = lease;
    this.leaseId = id;
    this.healthy = true;
  }

  private onLeaseLost(lease: Lease, error: Error): void {
    if (lease !== this.lease || this.closed) return;
    this.log.warn({ err: error }, 'the etcd lease was lost; granting a new one and writing presence again');
    this.healthy = false;
    this.renewing ??= this.renew().finally(() => (this.renewing = undefined));
  }

  /** Grants a new lease and writes every live record of this replica again, retrying with backoff. */
  private async renew(): Promise<void> {
    const backoff = new Backoff(200, 5_000);
    while (!this.closed) {
      try {
        this.lease?.release();
        this.lease = undefined;
        this.leaseId = undefined;
        await this.grantLease();
        this.healthy = false;
        await this.restoreOwn();
        this.healthy = true;
        this.log.info({ records: this.own.size }, 'presence written again on a new lease');
        await this.resync();
        return;
      } catch (error) {
        const delay = backoff.next();
        this.log.warn({ err: error }, `renewing the etcd lease failed; will retry in ${delay} ms`);
        await sleep(delay).catch(() => undefined);
      }
    }
  }

  private async restoreOwn(): Promise<void> {
    this.pendingReleases.clear();
    for (const [key, mine] of [...this.own]) {
      // Where the key is gone, or still holds this session (on the old lease, which may yet expire),
      // write it on the new lease. Where a newer session holds it, that one wins.
      const current = (await this.client.get(key).exec()).kvs[0];
      if (current && decode(current).epoch !== mine.record.epoch) {
        this.own.delete(key);
        continue;
      }
      const result = await this.client
        .if(key, 'Mod', '==', current?.mod_revision ?? '0')
        .then(this.client.put(key).value(JSON.stringify(store(mine.record, true))).lease(this.currentLease()))
        .commit();
      if (result.succeeded) this.own.set(key, { record: mine.record, modRevision: result.header.revision });
      else this.own.delete(key);
    }
  }

  private async flushReleases(): Promise<void> {
    for (const [key, modRevision] of [...this.pendingReleases]) {
      try {
        await this.deleteIfUnchanged(key, modRevision);
        this.pendingReleases.delete(key);
      } catch {
        return; // still unreachable; the next successful keepalive tries again
      }
    }
  }

  /**
   * Lists the prefix, emits what differs from the mirror, and watches from the listed revision on.
   * Called at start and whenever the watch breaks.
   */
  private resync(): Promise<void> {
    this.resyncing ??= (async () => {
      const backoff = new Backoff(200, 5_000);
      while (!this.closed) {
        try {
          await this.watcher?.cancel().catch(() => undefined);
          this.watcher = undefined;
          const listed = await this.client.getAll().prefix(`${this.prefix}/presence/`).exec();
          const at = BigInt(listed.header.revision);
          const fresh = new Map(listed.kvs.map((kv) => [kv.key.toString(), decode(kv)]));
          // What changed while the watch was down, as events at the listed revision.
          for (const [key, old] of this.mirror) {
            if (!fresh.has(key)) this.emit({ type: 'delete', userId: old.userId, linkId: old.linkId, epoch: old.epoch }, at);
          }
          for (const [key, record] of fresh) {
            const old = this.mirror.get(key);
            if (!old || JSON.stringify(store(old, true)) !== JSON.stringify(store(record, true))) this.emit({ type: 'put', record }, at);
          }
          this.mirror = fresh;
          const watcher = await this.client
            .watch()
            .prefix(`${this.prefix}/presence/`)
            .startRevision(String(BigInt(listed.header.revision) + 1n))
            .withPreviousKV()
            .create();
          watcher.on('put', (kv) => {
            const record = decode(kv);
            this.mirror.set(kv.key.toString(), record);
            this.emit({ type: 'put', record }, BigInt(kv.mod_revision));
          });
          watcher.on('delete', (kv, previous) => {
            const key = kv.key.toString();
            const old = this.mirror.get(key) ?? (previous ? decode(previous) : undefined);
            this.mirror.delete(key);
            if (old) this.emit({ type: 'delete', userId: old.userId, linkId: old.linkId, epoch: old.epoch }, BigInt(kv.mod_revision));
          });
          watcher.on('error', (error) => {
            if (this.closed || watcher !== this.watcher) return;
            this.log.warn({ err: error }, 'the presence watch broke; listing again');
            void this.resync();
          });
          this.watcher = watcher;
          return;
        } catch (error) {
          const delay = backoff.next();
          this.log.warn({ err: error }, `cannot watch presence; will retry in ${delay} ms`);
          await sleep(delay).catch(() => undefined);
        }
      }
    })().finally(() => (this.resyncing = undefined));
    return this.resyncing;
  }

  watchLink(userId: string, linkId: string, onEvent: (event: PresenceEvent) => void): () => void {
    return this.linkWatchers.add(userId, linkId, onEvent);
  }

  private emit(event: PresenceEvent, revision: bigint): void {
    this.linkWatchers.emit(event);
    const userId = event.type === 'put' ? event.record.userId : event.userId;
    for (const subscriber of [...this.subscribers]) {
      if (subscriber.userId === undefined || subscriber.userId === userId) subscriber.onEvent(event, revision);
    }
  }
}

/**
 * A read of etcd for a caller (a service, a sweep): when etcd does not answer (unreachable, the
 * client's circuit breaker open after failures, a deadline), the caller gets the classified
 * `REGISTRY_UNAVAILABLE` a client can retry on, not an internal error.
 */
async function unavailableOnFailure<T>(read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof ConnectError) throw error;
    throw linkError(Code.Unavailable, Reason.RegistryUnavailable, 'the link registry is unreachable; try again shortly', { retry: 'true' }, error);
  }
}
