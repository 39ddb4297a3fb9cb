import assert from 'node:assert/strict';
import { Code, ConnectError } from '@connectrpc/connect';
import { reasonOf } from '../../common/errors.js';
import { createLogger } from '../../common/log.js';
import { EtcdRegistry } from '../../control-plane/registry/etcd.js';
import { startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { claimFor, registryConformance } from './conformance.js';

describe('on a real etcd', () => {
  let etcd: TestEtcd;
  before(async () => {
    etcd = await startEtcd();
  });
  after(async () => {
    await etcd.stop();
  });

  registryConformance('etcd', async (replicaId, leaseTtlMs) => {
    return new EtcdRegistry({
      endpoints: [etcd.endpoint],
      replicaId,
      leaseTtlSeconds: Math.max(1, Math.round(leaseTtlMs / 1000)),
      log: createLogger({ name: 'test-etcd', level: process.env.LINK_TEST_VERBOSE ? 'debug' : 'silent' }),
    });
  });
});

describe('the etcd registry: many claims at once', () => {
  let etcd: TestEtcd;
  let registry: EtcdRegistry;
  before(async () => {
    etcd = await startEtcd();
    registry = new EtcdRegistry({ endpoints: [etcd.endpoint], replicaId: 'many', leaseTtlSeconds: 10, log: createLogger({ name: 'test-etcd', level: 'silent' }) });
    await registry.start();
  });
  after(async () => {
    await registry.close();
    await etcd.stop();
  });

  it('puts claims that come together in few transactions; a link claimed twice among them ends with the later claim, at a larger epoch', async () => {
    const links = 60;
    const before = etcd.revision();
    const claims = Array.from({ length: links }, (_, i) => registry.claim(claimFor('user-many', `link-${i}`, 'many', `host ${i}`)));
    // link-0 again, after its first claim: the later claim is the live one.
    claims.push(registry.claim(claimFor('user-many', 'link-0', 'many', 'host 0, again')));
    const records = await Promise.all(claims);
    const written = etcd.revision() - before;
    assert.ok(written < links / 2, `${written} etcd writes for ${links + 1} claims`);
    assert.ok(records[links].epoch > records[0].epoch, 'the second claim of link-0 is the newer session');
    const listed = new Map((await registry.list('user-many')).map((record) => [record.linkId, record]));
    assert.equal(listed.size, links);
    assert.equal(listed.get('link-0')?.hostname, 'host 0, again');
    assert.equal(listed.get('link-0')?.epoch, records[links].epoch);
    for (let i = 1; i < links; i++) {
      assert.equal(listed.get(`link-${i}`)?.hostname, `host ${i}`);
      assert.equal(listed.get(`link-${i}`)?.epoch, records[i].epoch);
    }
    // Each record is fenced on its own write: the first claim of link-0 can no longer change it.
    assert.equal(await registry.update({ ...records[0], hostname: 'stale' }), false);
    assert.equal(await registry.update({ ...records[1], hostname: 'host 1, updated' }), true);
  });
});

describe('the etcd registry while etcd is away', () => {
  let etcd: TestEtcd;
  let registry: EtcdRegistry;
  before(async () => {
    etcd = await startEtcd();
    registry = new EtcdRegistry({ endpoints: [etcd.endpoint], replicaId: 'away', leaseTtlSeconds: 5, log: createLogger({ name: 'test-etcd', level: 'silent' }) });
    await registry.start();
  });
  after(async () => {
    await registry.abandon();
    await etcd.stop();
  });

  it('reads for a caller fail REGISTRY_UNAVAILABLE (UNAVAILABLE, to retry), not an internal error', async () => {
    await etcd.kill();
    const reads: [string, () => Promise<unknown>][] = [
      ['get', () => registry.get('user', 'link')],
      ['list', () => registry.list('user')],
      ['watch', () => registry.watch('user', () => undefined)],
      // The client's circuit breaker is open after the failures above: the same, not its own error.
      ['list again', () => registry.list()],
    ];
    for (const [name, read] of reads) {
      const error = await read().then(
        () => assert.fail(`${name} answered with etcd away`),
        (e: unknown) => e,
      );
      assert.ok(error instanceof ConnectError, `${name}: ${String(error)}`);
      assert.equal(error.code, Code.Unavailable, name);
      assert.equal(reasonOf(error), 'REGISTRY_UNAVAILABLE', name);
    }
  });
});
