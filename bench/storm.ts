/**
 * Reconnect storm: N links (linkd's own connection loop, from separate load processes) on replica
 * A; A is SIGKILLed; the links fail over to replicas B and C (each link's list is A, then B and C
 * in an order that depends on the link, as a fleet configured with three addresses would be).
 * Reports the time until every link is online again (every load process sees all its links
 * connected), the peak connect rate, and how many links are stuck (no live record on B or C) or
 * duplicated (records beyond N in the registry, sessions beyond N held by B and C).
 * Baseline, in the same run: N plain grpc-js streams failing over from a killed server to two
 * others with the same backoff.
 */
import { spawnSync } from 'node:child_process';
import { delay, spawnTracked, type TestProcess } from '../test/helpers/processes.js';
import { ask, startCluster, startLoad, type Cluster } from './cluster.js';
import { REPETITIONS, type Benchmark, type Figure } from './lib.js';

const LINKS = Number(process.env.LINK_BENCH_STORM_LINKS ?? 5_000);
const PER_PROCESS = 2_500;
const DEADLINE_MS = 180_000;

interface Report {
  connected: number;
  byServer: Record<string, number>;
  connects: number;
  servers: string[];
  connectedAt: number[];
}

interface Storm {
  /** Links on the killed server at the kill (the rest had already gone elsewhere when it was busy). */
  moved: number;
  allOnlineMs: number;
  peakPerSecond: number;
  reconnects: number;
  stuck?: number;
  duplicated?: number;
}

/** Kills the first server and waits until every load process has all its sessions connected elsewhere. */
async function storm(loads: TestProcess[], kill: () => Promise<void>, dead: string): Promise<Storm> {
  const before = await Promise.all(loads.map((l) => ask<Report>(l, 'report')));
  const connectsBefore = before.reduce((n, r) => n + r.connects, 0);
  // Links that found the first server busy at the start went on to the others; the storm is the
  // ones on it when it dies.
  const onDead = before.map((r) => r.servers.map((server, i) => (server === dead ? i : -1)).filter((i) => i >= 0));
  const moved = onDead.reduce((n, l) => n + l.length, 0);
  const killedAt = Date.now();
  await kill();
  const deadline = killedAt + DEADLINE_MS;
  let reports: Report[];
  for (;;) {
    await delay(250);
    reports = await Promise.all(loads.map((l) => ask<Report>(l, 'report')));
    const online = reports.reduce((n, r) => n + r.connected - (r.byServer[dead] ?? 0), 0);
    if (online === LINKS) break;
    if (Date.now() > deadline) throw new Error(`only ${online} of ${LINKS} links online again ${DEADLINE_MS} ms after the kill`);
  }
  const times = reports.flatMap((r, p) => onDead[p].map((i) => r.connectedAt[i]));
  const stale = times.filter((t) => t < killedAt).length;
  if (stale > 0) throw new Error(`${stale} links of the killed server still show their session from before the kill`);
  const perSecond = new Map<number, number>();
  for (const t of times) perSecond.set(Math.floor((t - killedAt) / 1000), (perSecond.get(Math.floor((t - killedAt) / 1000)) ?? 0) + 1);
  return {
    moved,
    allOnlineMs: Math.max(...times) - killedAt,
    peakPerSecond: Math.max(...perSecond.values()),
    reconnects: reports.reduce((n, r) => n + r.connects, 0) - connectsBefore,
  };
}

/** The live records in the registry, by replica. */
function presenceByReplica(cluster: Cluster): Record<string, number> {
  const out = spawnSync('etcdctl', ['--endpoints', cluster.etcd.endpoint, 'get', '--prefix', '/link/v1/presence/', '--print-value-only'], {
    env: { ...process.env, ETCDCTL_API: '3' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 30_000,
  });
  const byReplica: Record<string, number> = {};
  for (const line of out.stdout.split('\n').filter(Boolean)) {
    const { replicaId } = JSON.parse(line) as { replicaId: string };
    byReplica[replicaId] = (byReplica[replicaId] ?? 0) + 1;
  }
  return byReplica;
}

async function sessionsOn(httpUrl: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  return Number(/^link_server_links_connected (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

/**
 * Once the storm is over: links without a live record on B or C (stuck), and sessions or records
 * beyond one per link (duplicated). Waits (bounded) for the registry to settle: the dead replica's
 * records are replaced by the new sessions' claims, the rest of its lease runs out within the TTL.
 */
async function settle(cluster: Cluster, survivors: { id: string; httpUrl: string }[]): Promise<{ stuck: number; duplicated: number; detail: string }> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const presence = presenceByReplica(cluster);
    const sessions = await Promise.all(survivors.map((r) => sessionsOn(r.httpUrl)));
    const live = survivors.reduce((n, r) => n + (presence[r.id] ?? 0), 0);
    const total = Object.values(presence).reduce((a, b) => a + b, 0);
    const held = sessions.reduce((a, b) => a + b, 0);
    const result = { stuck: LINKS - live, duplicated: Math.max(0, total - LINKS) + Math.max(0, held - LINKS), detail: `registry ${JSON.stringify(presence)}, sessions held ${sessions.join(' + ')}` };
    if ((result.stuck === 0 && result.duplicated === 0 && held === LINKS) || Date.now() > deadline) return result;
    await delay(500);
  }
}

export const stormBenchmark: Benchmark = {
  name: 'storm',
  description: `${LINKS} links on replica A; SIGKILL A; they reconnect to B and C (against plain grpc-js streams)`,
  async run() {
    const cluster = await startCluster(2);
    const [b, c] = cluster.replicas;
    const ours: Storm[] = [];
    const base: Storm[] = [];
    try {
      const { tokensFile } = await cluster.createLinks(LINKS, 'storm');
      const processes = Math.ceil(LINKS / PER_PROCESS);
      const range = (i: number) => `${i * PER_PROCESS}:${Math.min(LINKS, (i + 1) * PER_PROCESS)}`;
      for (let rep = 0; rep < REPETITIONS; rep++) {
        const a = await cluster.startReplica();
        const loads: TestProcess[] = [];
        try {
          for (let i = 0; i < processes; i++) {
            loads.push(await startLoad(`storm links ${i}`, ['links', tokensFile, range(i), [a.grpcUrl, b.grpcUrl, c.grpcUrl].join(','), `127.0.0.${2 + i}`], 600_000));
          }
          const result = await storm(loads, () => a.process.stop('SIGKILL'), a.grpcUrl);
          const settled = await settle(cluster, [b, c]);
          ours.push({ ...result, ...settled });
          process.stdout.write(
            `storm ${rep + 1}: ${result.moved} links on A; all online ${result.allOnlineMs} ms after the kill, peak ${result.peakPerSecond}/s, ${result.reconnects} sessions opened; ` +
              `${settled.stuck} stuck, ${settled.duplicated} duplicated (${settled.detail})\n`,
          );
        } finally {
          await Promise.all(loads.map((l) => l.stop('SIGTERM', 15_000)));
        }
        const rawServers = [0, 1, 2].map(() => spawnTracked('raw grpc-js server', process.execPath, ['--import', 'tsx', 'bench/raw-grpc-server.ts']));
        const rawLoads: TestProcess[] = [];
        try {
          const targets = await Promise.all(rawServers.map(async (s) => `127.0.0.1:${(await s.waitForOutput(/^port (\d+)$/m, 30_000))[1]}`));
          for (let i = 0; i < processes; i++) {
            const count = Math.min(LINKS, (i + 1) * PER_PROCESS) - i * PER_PROCESS;
            rawLoads.push(await startLoad(`storm raw ${i}`, ['raw', targets.join(','), String(count)], 600_000));
          }
          base.push(await storm(rawLoads, () => rawServers[0].stop('SIGKILL'), targets[0]));
        } finally {
          await Promise.all(rawLoads.map((l) => l.stop('SIGTERM', 15_000)));
          await Promise.all(rawServers.map((s) => s.stop()));
        }
      }
      const figures: Figure[] = [
        { name: `${LINKS} links: on A when it was killed`, unit: 'links', samples: ours.map((s) => s.moved), baseline: { name: 'grpc-js streams', samples: base.map((s) => s.moved) } },
        { name: `${LINKS} links: all online again after the kill`, unit: 'ms', samples: ours.map((s) => s.allOnlineMs), baseline: { name: 'grpc-js streams', samples: base.map((s) => s.allOnlineMs) } },
        { name: `${LINKS} links: peak connect rate`, unit: '/s', samples: ours.map((s) => s.peakPerSecond), baseline: { name: 'grpc-js streams', samples: base.map((s) => s.peakPerSecond) } },
        { name: `${LINKS} links: sessions opened to get there`, unit: 'sessions', samples: ours.map((s) => s.reconnects), target: 'one per link that was on A' },
        { name: `${LINKS} links: stuck afterwards (no live record on B or C)`, unit: 'links', samples: ours.map((s) => s.stuck ?? Number.NaN), target: '0' },
        { name: `${LINKS} links: duplicated afterwards (extra records or sessions)`, unit: 'links', samples: ours.map((s) => s.duplicated ?? Number.NaN), target: '0' },
      ];
      return figures;
    } finally {
      await cluster.stop();
    }
  },
};
