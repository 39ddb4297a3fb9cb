/**
 * One session's presence record in the registry, from its claim to its release. Every write after
 * the claim is fenced on the revision the one before left (an old session can never overwrite a
 * newer one's record), so the writes go one after another; callers need not wait for them (a run's
 * accept does not hold its events back for etcd).
 *
 *   claim ─▶ record ─▶ setRunning / updateCapabilities / recordAdopted (one after another) ─▶ release
 */
import { Code, linkError, Reason } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { Capabilities } from '../../gen/link/v1/types_pb.js';
import type { ServerMetrics } from '../metrics.js';
import type { PresenceClaim, PresenceRecord, Registry } from '../registry/registry.js';

/** A registry that fails a session's own write (etcd unreachable): UNAVAILABLE, agents retry. */
export const registryUnavailable = (cause?: unknown) =>
  linkError(Code.Unavailable, Reason.RegistryUnavailable, 'the link registry is unreachable; connect again shortly', { retry: 'true' }, cause);

export class SessionPresence {
  private current: PresenceRecord | undefined;
  /** The record's writes in flight, one after another (`write`). */
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly registry: Registry,
    private readonly log: Logger,
    private readonly metrics?: ServerMetrics,
  ) {}

  /** The record as this session last wrote it; undefined before the claim. */
  get record(): PresenceRecord | undefined {
    return this.current;
  }

  /** Claims presence; a registry that fails here is UNAVAILABLE REGISTRY_UNAVAILABLE. */
  async claim(claim: PresenceClaim): Promise<PresenceRecord> {
    try {
      this.current = await this.registry.claim(claim);
      return this.current;
    } catch (cause) {
      this.metrics?.registryErrors.inc();
      this.log.warn({ err: cause }, 'cannot claim presence');
      throw registryUnavailable(cause);
    }
  }

  /** Records the runs the agent still runs after its runs were adopted (a failure is logged). */
  recordAdopted(runIds: string[]): Promise<void> {
    return this.write(async () => {
      if (!this.current) return;
      this.current = { ...this.current, runningRunIds: runIds };
      await this.registry.update(this.current).catch((error) => this.log.warn({ err: error }, 'cannot record the adopted runs in the registry'));
    });
  }

  /** Keeps the record's running runs current (a write only when the set changes). */
  setRunning(runId: string, running: boolean): Promise<void> {
    return this.write(async () => {
      const record = this.current;
      if (!record || record.runningRunIds.includes(runId) === running) return;
      const updated = { ...record, runningRunIds: running ? [...record.runningRunIds, runId] : record.runningRunIds.filter((id) => id !== runId) };
      this.current = updated;
      const live = await this.registry.update(updated).catch((error) => {
        this.metrics?.registryErrors.inc();
        this.log.warn({ err: error }, 'cannot update the running runs in the registry');
        return true;
      });
      if (!live) this.log.info("the presence record is no longer this session's");
    });
  }

  /** The agent's new capabilities; REGISTRY_UNAVAILABLE, or ABORTED SUPERSEDED when a newer session holds the link. */
  updateCapabilities(capabilities: Capabilities): Promise<void> {
    return this.write(async () => {
      const record = this.current;
      if (!record) return;
      const updated = { ...record, capabilities };
      const stillLive = await this.registry.update(updated).catch((cause) => {
        this.metrics?.registryErrors.inc();
        throw registryUnavailable(cause);
      });
      if (!stillLive) throw linkError(Code.Aborted, Reason.Superseded, 'a newer session of this link connected; this one is closed');
      this.current = updated;
    });
  }

  /** Releases the record once the writes in flight are done (only if it is still the live one); a failure is logged. */
  async release(): Promise<void> {
    const record = this.current;
    if (!record) return;
    // A release fenced on the revision an update in flight is about to move would fail.
    await this.writes;
    try {
      await this.registry.release(record.userId, record.linkId, record.epoch);
    } catch (error) {
      this.log.error({ err: error }, 'cannot release presence; it goes when the replica lease expires');
    }
  }

  private write<T>(write: () => Promise<T>): Promise<T> {
    const written = this.writes.then(write);
    this.writes = written.catch(() => undefined);
    return written;
  }
}
