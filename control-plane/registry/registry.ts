/**
 * The live registry of links: which links have a session, on which replica, with which epoch.
 *
 * Two implementations share this interface and one conformance suite: `MemoryRegistry` (the
 * embedded default, one replica) and the etcd registry (many replicas; every record is attached to
 * the replica's one lease, so a replica that dies takes its links offline within the lease TTL).
 *
 * A record is written when presence changes (connect, capabilities, running runs, disconnect),
 * never per heartbeat.
 */
import type { Capabilities } from '../../gen/link/v1/types_pb.js';

/** One live session of one link. */
export interface PresenceRecord {
  userId: string;
  linkId: string;
  /** Grows with every new session of the link; the record with the largest epoch is the live one. */
  epoch: bigint;
  replicaId: string;
  machineId: string;
  instanceId: string;
  hostname: string;
  os: string;
  arch: string;
  agentVersion: string;
  capabilities: Capabilities;
  /** Milliseconds since the epoch. */
  connectedAt: number;
  runningRunIds: string[];
  /** The agent said (in Hello) it has no dispatch key it can trust: it refuses every run until paired again. */
  dispatchKeyMissing?: boolean;
}

/** What a session claims; the registry assigns the epoch. */
export type PresenceClaim = Omit<PresenceRecord, 'epoch'>;

/** A change seen by a watcher. A `put` of a record with a new epoch means a new session took over. */
export type PresenceEvent =
  | { type: 'put'; record: PresenceRecord }
  | { type: 'delete'; userId: string; linkId: string; epoch: bigint };

/** A running watch. `snapshot` is the state at the watch's start; events follow it, none missed. */
export interface PresenceWatch {
  snapshot: PresenceRecord[];
  /** Stops delivery. Idempotent. */
  stop(): void;
}

export interface Registry {
  /** This replica's id, written into every record it claims. */
  readonly replicaId: string;
  /** Connects and takes the replica's lease. */
  start(): Promise<void>;
  /** False while the backing store is unreachable: new sessions are refused UNAVAILABLE and /readyz fails. */
  isReady(): boolean;
  /**
   * Makes `claim` the live session of its link, superseding any other (newest wins). Resolves with
   * the stored record and its new epoch. Holders of older sessions learn of it from their watch.
   */
  claim(claim: PresenceClaim): Promise<PresenceRecord>;
  /**
   * Rewrites the record of a session that is still the live one (capabilities, running runs).
   * Returns false, writing nothing, when another session took over.
   */
  update(record: PresenceRecord): Promise<boolean>;
  /** Removes the link's record if `epoch` is still the live session; a newer session's record stays. */
  release(userId: string, linkId: string, epoch: bigint): Promise<void>;
  /**
   * The link's live record. With `mirrored`, a replica that mirrors the records (its watch holds)
   * answers from the mirror when it has the link, without a round trip: fresh within the watch's
   * delay, enough for a check a user makes (SendMessage's "is it online"); a link the mirror does
   * not have is still read from the source.
   */
  get(userId: string, linkId: string, options?: { mirrored?: boolean }): Promise<PresenceRecord | undefined>;
  /** Every live record, or one user's. */
  list(userId?: string): Promise<PresenceRecord[]>;
  /**
   * Watches every record (or one user's): resolves with a snapshot, then calls `onEvent` for each
   * later change, in order. The caller must `stop()` it.
   */
  watch(userId: string | undefined, onEvent: (event: PresenceEvent) => void): Promise<PresenceWatch>;
  /**
   * Calls `onEvent` for each later change of one link's record; returns the stop function. No
   * snapshot and no call to the store: what a session needs to learn that a newer one took over,
   * at a cost that does not grow with the user's other links.
   */
  watchLink(userId: string, linkId: string, onEvent: (event: PresenceEvent) => void): () => void;
  /**
   * Stops keeping the lease alive without releasing anything, as a crashed replica would: its
   * records vanish when the lease expires (within the TTL). For tests of replica crashes.
   */
  abandon(): Promise<void>;
  /** Revokes the lease (removing this replica's records at once) and stops. Idempotent. */
  close(): Promise<void>;
}

/** Watchers of single links: each change reaches only the watchers of its own link. */
export class LinkWatchers {
  private readonly byLink = new Map<string, Set<(event: PresenceEvent) => void>>();

  add(userId: string, linkId: string, onEvent: (event: PresenceEvent) => void): () => void {
    const key = `${userId}/${linkId}`;
    let set = this.byLink.get(key);
    if (!set) this.byLink.set(key, (set = new Set()));
    set.add(onEvent);
    return () => {
      set.delete(onEvent);
      if (set.size === 0 && this.byLink.get(key) === set) this.byLink.delete(key);
    };
  }

  emit(event: PresenceEvent): void {
    const key = event.type === 'put' ? `${event.record.userId}/${event.record.linkId}` : `${event.userId}/${event.linkId}`;
    const set = this.byLink.get(key);
    if (set) for (const onEvent of [...set]) onEvent(event);
  }
}
