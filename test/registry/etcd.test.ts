import assert from 'node:assert/strict';
import { Code, ConnectError } from '@connectrpc/connect';
import { reasonOf } from '../../common/errors.js';
import { createLogger } from '../../common/log.js';
import { EtcdRegistry } from '../../control-plane/registry/etcd.js';
import { startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { registryConformance } from './conformance.js';

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
