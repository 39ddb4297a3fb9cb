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
