/**
 * A real etcd on 127.0.0.1 (Debian's etcd-server), with its data in a temporary directory. It can
 * be stopped and started again on the same ports and data, as an outage would. Tracked like any
 * test process: a test that leaves it running fails.
 */
import { spawnSync } from 'node:child_process';
import { freePort } from '../../common/net.js';
import { delay, spawnTracked, type TestProcess } from './processes.js';
import { tempDir } from './temp.js';

export interface TestEtcd {
  endpoint: string;
  /** SIGKILLs etcd (an outage). */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data. */
  restart(): Promise<void>;
  /** The store's current revision: it grows by one with every write. */
  revision(): number;
  stop(): Promise<void>;
}


export async function startEtcd(): Promise<TestEtcd> {
  const dataDir = await tempDir('etcd-');
  const [client, peer] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${client}`;
  let process_: TestProcess | undefined;
  const launch = async () => {
    process_ = spawnTracked('etcd', 'etcd', [
      '--name', 't',
      '--data-dir', dataDir,
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `t=http://127.0.0.1:${peer}`,
      '--initial-cluster-state', 'new',
      '--logger', 'zap',
      '--log-level', 'warn',
    ]);
    const deadline = Date.now() + 20_000;
    while (!healthy(endpoint)) {
      if (!process_.running) throw new Error(`etcd exited:\n${process_.tail()}`);
      if (Date.now() > deadline) throw new Error(`etcd was not healthy within 20 s:\n${process_.tail()}`);
      await delay(100);
    }
  };
  await launch();
  return {
    endpoint,
    async kill() {
      await process_?.stop('SIGKILL');
    },
    restart: launch,
    revision() {
      const out = spawnSync('etcdctl', ['--endpoints', endpoint, 'endpoint', 'status', '-w', 'json'], {
        env: { ...process.env, ETCDCTL_API: '3' },
        encoding: 'utf8',
        timeout: 10_000,
      });
      return Number(JSON.parse(out.stdout)[0].Status.header.revision);
    },
    async stop() {
      await process_?.stop('SIGTERM');
    },
  };
}

function healthy(endpoint: string): boolean {
  const result = spawnSync('etcdctl', ['--endpoints', endpoint, '--command-timeout', '1s', 'endpoint', 'health'], {
    env: { ...process.env, ETCDCTL_API: '3' },
    encoding: 'utf8',
    timeout: 5_000,
  });
  return result.status === 0;
}
