/**
 * The Registry contract, run against every implementation (memory now, etcd as well): newest
 * session wins, release and update are fenced by epoch, and watches deliver a snapshot followed by
 * every change in order.
 */
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { CapabilitiesSchema } from '../../gen/link/v1/types_pb.js';
import type { PresenceClaim, PresenceEvent, Registry } from '../../control-plane/registry/registry.js';

export function claimFor(userId: string, linkId: string, replicaId: string, hostname = 'host'): PresenceClaim {
  return {
    userId,
    linkId,
    replicaId,
    machineId: 'machine',
    instanceId: `instance-${Math.random()}`,
    hostname,
    os: 'linux',
    arch: 'x64',
    agentVersion: 'test',
    capabilities: create(CapabilitiesSchema, { capacity: { maxConcurrentRuns: 2 } }),
    connectedAt: Date.now(),
    runningRunIds: [],
  };
}

/** Collects watch events and waits for a count of them, with a deadline. */
export class EventLog {
  readonly events: PresenceEvent[] = [];
  private wake: () => void = () => undefined;
  push = (event: PresenceEvent) => {
    this.events.push(event);
    this.wake();
  };
  async atLeast(count: number, timeoutMs = 10_000): Promise<PresenceEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} events within ${timeoutMs} ms, got ${this.events.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.events;
  }
}

/**
 * `open(replicaId, leaseTtlMs)` returns a registry of a new replica on the suite's shared backend
 * (one in-memory backend, or one etcd).
 */
export function registryConformance(name: string, open: (replicaId: string, leaseTtlMs: number) => Promise<Registry>): void {
  describe(`${name} registry (conformance)`, () => {
    const opened: Registry[] = [];
    const registry = async (replicaId = 'replica-a', leaseTtlMs = 10_000) => {
      const r = await open(`${replicaId}-${Math.random().toString(36).slice(2, 6)}`, leaseTtlMs);
      opened.push(r);
      await r.start();
      return r;
    };
    const user = () => `user-${Math.random().toString(36).slice(2)}`;

    afterEach(async () => {
      for (const r of opened.splice(0)) await r.close();
    });

    it('claims, gets, lists and releases a presence record', async () => {
      const r = await registry();
      const u = user();
      const record = await r.claim(claimFor(u, 'link-1', r.replicaId, 'laptop'));
      assert.ok(record.epoch > 0n);
      assert.equal((await r.get(u, 'link-1'))?.hostname, 'laptop');
      assert.deepEqual((await r.list(u)).map((x) => x.linkId), ['link-1']);
      await r.release(u, 'link-1', record.epoch);
      assert.equal(await r.get(u, 'link-1'), undefined);
      assert.deepEqual(await r.list(u), []);
    });

    it('gives every new session of a link a larger epoch, and the newest wins', async () => {
      const r = await registry();
      const u = user();
      const first = await r.claim(claimFor(u, 'link-1', r.replicaId, 'first'));
      const second = await r.claim(claimFor(u, 'link-1', r.replicaId, 'second'));
      assert.ok(second.epoch > first.epoch);
      assert.equal((await r.get(u, 'link-1'))?.hostname, 'second');
    });

    it('fences the old session: its update and release change nothing', async () => {
      const r = await registry();
      const u = user();
      const first = await r.claim(claimFor(u, 'link-1', r.replicaId, 'first'));
      const second = await r.claim(claimFor(u, 'link-1', r.replicaId, 'second'));
      assert.equal(await r.update({ ...first, hostname: 'stale' }), false);
      await r.release(u, 'link-1', first.epoch);
      const now = await r.get(u, 'link-1');
      assert.equal(now?.hostname, 'second');
      assert.equal(now?.epoch, second.epoch);
      assert.equal(await r.update({ ...second, runningRunIds: ['run-1'] }), true);
      assert.deepEqual((await r.get(u, 'link-1'))?.runningRunIds, ['run-1']);
    });

    it('watches: a snapshot, then every change in order, only for the watched user', async () => {
      const r = await registry();
      const u = user();
      const existing = await r.claim(claimFor(u, 'link-0', r.replicaId));
      const log = new EventLog();
      const watch = await r.watch(u, log.push);
      try {
        assert.deepEqual(watch.snapshot.map((x) => x.linkId), ['link-0']);
        await r.claim(claimFor(user(), 'someone-else', r.replicaId));
        const claimed = await r.claim(claimFor(u, 'link-1', r.replicaId));
        await r.update({ ...claimed, hostname: 'renamed' });
        await r.release(u, 'link-0', existing.epoch);
        const events = await log.atLeast(3);
        assert.deepEqual(
          events.map((e) => (e.type === 'put' ? `put ${e.record.linkId} ${e.record.hostname}` : `delete ${e.linkId}`)),
          ['put link-1 host', 'put link-1 renamed', 'delete link-0'],
        );
      } finally {
        watch.stop();
      }
    });

    it('sees a claim on another replica as a newer epoch (the takeover signal)', async () => {
      const a = await registry('replica-a');
      const b = await registry('replica-b');
      const u = user();
      const onA = await a.claim(claimFor(u, 'link-1', a.replicaId));
      const log = new EventLog();
      const watch = await a.watch(u, log.push);
      try {
        const onB = await b.claim(claimFor(u, 'link-1', b.replicaId));
        const [event] = await log.atLeast(1);
        assert.equal(event.type, 'put');
        assert.ok(event.type === 'put' && event.record.epoch > onA.epoch);
        assert.equal(event.type === 'put' && event.record.epoch, onB.epoch);
      } finally {
        watch.stop();
      }
    });

    it('watches one link: its own changes only (a takeover on another replica among them), until stopped', async () => {
      const a = await registry('replica-a');
      const b = await registry('replica-b');
      const u = user();
      const onA = await a.claim(claimFor(u, 'link-1', a.replicaId));
      const log = new EventLog();
      const stop = a.watchLink(u, 'link-1', log.push);
      const others = new EventLog();
      const stopOthers = a.watchLink(u, 'link-2', others.push);
      try {
        await b.claim(claimFor(u, 'link-2', b.replicaId));
        await b.claim(claimFor(user(), 'link-1', b.replicaId));
        const onB = await b.claim(claimFor(u, 'link-1', b.replicaId, 'took over'));
        // (etcd may still deliver this replica's own earlier claim first: sessions compare epochs.)
        const deadline = Date.now() + 10_000;
        while (!log.events.some((e) => e.type === 'put' && e.record.epoch === onB.epoch)) {
          assert.ok(Date.now() < deadline, 'the takeover reaches the link\'s watcher');
          await log.atLeast(log.events.length + 1);
        }
        await others.atLeast(1);
        stop();
        await b.release(u, 'link-1', onB.epoch);
        await b.release(u, 'link-2', (await b.get(u, 'link-2'))!.epoch);
        await others.atLeast(2);
        assert.deepEqual(
          log.events.map((e) => (e.type === 'put' ? `${e.record.userId === u} ${e.record.linkId} ${e.record.epoch <= onB.epoch}` : 'delete')),
          log.events.map(() => 'true link-1 true'),
          'only puts of this user\'s link-1: nothing of link-2, of another user\'s link-1, or after stop()',
        );
        assert.deepEqual(others.events.map((e) => e.type), ['put', 'delete']);
      } finally {
        stop();
        stopOthers();
      }
    });

    it('close revokes the lease: the replica\'s records go at once, and watchers are told', async () => {
      const r = await registry();
      const observer = await registry('observer');
      const u = user();
      await r.claim(claimFor(u, 'link-1', r.replicaId));
      const log = new EventLog();
      const watch = await observer.watch(u, log.push);
      try {
        assert.equal(watch.snapshot.length, 1);
        await r.close();
        const [event] = await log.atLeast(1, 5_000);
        assert.equal(event.type, 'delete');
        assert.equal(await observer.get(u, 'link-1'), undefined);
      } finally {
        watch.stop();
      }
    });

    it('a replica that stops keeping its lease alive loses its records when the lease expires', async () => {
      const crashed = await registry('crashed', 2_000);
      const observer = await registry('observer');
      const u = user();
      await crashed.claim(claimFor(u, 'link-1', crashed.replicaId));
      const log = new EventLog();
      const watch = await observer.watch(u, log.push);
      try {
        await crashed.abandon();
        // Still there right after the crash: only the lease's expiry removes it.
        assert.ok(await observer.get(u, 'link-1'));
        const [event] = await log.atLeast(1, 10_000);
        assert.equal(event.type, 'delete');
        assert.equal(await observer.get(u, 'link-1'), undefined);
      } finally {
        watch.stop();
      }
    });
  });
}
