/**
 * Idle links per replica: N links (linkd's own connection loop, from separate load processes, one
 * HTTP/2 connection each, each process from its own 127.0.0.x address) on one link-server process
 * with real Postgres and etcd, heartbeating at the default 5 s. Reports the time to connect all,
 * server RSS per link, server CPU per heartbeat, and etcd writes per minute while idle. Baseline, in
 * the same run: a plain grpc-js server with the same number of idle bidi streams, dialled at the same
 * pace, and 5 s heartbeats.
 */
import { delay, spawnTracked, type TestProcess } from '../test/helpers/processes.js';
import { ask, cpuMs, rssKb, startCluster, startLoad } from './cluster.js';
import { REPETITIONS, type Benchmark, type Figure } from './lib.js';

const SIZES = (process.env.LINK_BENCH_IDLE_SIZES ?? '1000,5000,10000').split(',').map(Number);
const WINDOW_MS = Number(process.env.LINK_BENCH_IDLE_WINDOW_MS ?? 20_000);
/** How long Link's server holds the links (e.g. 600000: ten minutes); the baseline's window stays WINDOW_MS. */
const HOLD_MS = Number(process.env.LINK_BENCH_IDLE_HOLD_MS ?? WINDOW_MS);
const PER_PROCESS = 1_250;
/** Links each load process starts per second (a fleet coming up; the storm benchmark has them all at once). */
const PACE = 250;
const HEARTBEAT_MS = 5_000;

interface Sample {
  connectMs: number;
  /** Server CPU spent while the links connected, per link (set-up cost). */
  cpuPerConnectUs: number;
  /** The load processes' CPU while connecting, per link (what the clients' side cost). */
  loadCpuPerConnectUs: number;
  rssPerLinkKb: number;
  cpuPerHeartbeatUs: number;
  /** Server CPU per link per minute while idle, at the 5 s cadence. */
  cpuPerLinkMinuteMs: number;
  etcdWritesPerMinute: number;
  /** Sessions that ended during the window (each one a reconnect), and of them HEARTBEAT_MISSED. */
  lost: number;
  heartbeatMissed: number;
}

interface LoadReport {
  connects: number;
  errors: Record<string, number>;
}

/** Reconnects and HEARTBEAT_MISSED endings so far, over all load processes. */
async function endings(loaders: TestProcess[]): Promise<{ connects: number; missed: number }> {
  const reports = await Promise.all(loaders.map((l) => ask<LoadReport>(l, 'report')));
  return {
    connects: reports.reduce((n, r) => n + r.connects, 0),
    missed: reports.reduce((n, r) => n + Object.entries(r.errors).reduce((m, [why, k]) => m + (/HEARTBEAT_MISSED|no heartbeat/i.test(why) ? k : 0), 0), 0),
  };
}

/** Starts a fresh server, opens `count` idle sessions with load processes, measures the server over a window. */
async function measure(
  fresh: () => Promise<{ server: TestProcess; target: string }>,
  count: number,
  windowMs: number,
  load: (target: string, from: number, to: number, index: number) => Promise<TestProcess>,
  etcdRevision?: () => number,
): Promise<Sample> {
  const { server, target } = await fresh();
  const serverPid = server.child.pid!;
  await delay(1_000);
  const rssBefore = rssKb(serverPid);
  const cpuBefore = cpuMs(serverPid);
  const started = performance.now();
  const loaders: TestProcess[] = [];
  try {
    await Promise.all(
      Array.from({ length: Math.ceil(count / PER_PROCESS) }, async (_, i) =>
        loaders.push(await load(target, i * PER_PROCESS, Math.min(count, (i + 1) * PER_PROCESS), i)),
      ),
    );
    const connectMs = performance.now() - started;
    const cpuPerConnectUs = ((cpuMs(serverPid) - cpuBefore) * 1000) / count;
    const loadCpuPerConnectUs = (loaders.reduce((sum, l) => sum + cpuMs(l.child.pid!), 0) * 1000) / count;
    await delay(HEARTBEAT_MS); // settle
    const before = await endings(loaders);
    const cpu0 = cpuMs(serverPid);
    const rev0 = etcdRevision?.() ?? 0;
    await delay(windowMs);
    const cpu = cpuMs(serverPid) - cpu0;
    const revisions = etcdRevision ? etcdRevision() - rev0 : 0;
    const after = await endings(loaders);
    const heartbeats = (count * windowMs) / HEARTBEAT_MS;
    return {
      connectMs,
      cpuPerConnectUs,
      loadCpuPerConnectUs,
      rssPerLinkKb: (rssKb(serverPid) - rssBefore) / count,
      cpuPerHeartbeatUs: (cpu * 1000) / heartbeats,
      cpuPerLinkMinuteMs: (cpu / count) * (60_000 / windowMs),
      etcdWritesPerMinute: (revisions * 60_000) / windowMs,
      lost: after.connects - before.connects,
      heartbeatMissed: after.missed - before.missed,
    };
  } finally {
    await Promise.all(loaders.map((l) => l.stop('SIGTERM', 15_000)));
    await server.stop('SIGTERM', 15_000);
  }
}

export const idleLinksBenchmark: Benchmark = {
  name: 'idle-links',
  description: `idle links on one replica (${SIZES.join(', ')}), against plain grpc-js streams`,
  async run() {
    // Each repetition gets a fresh server process, so its memory growth is the sessions' alone.
    const cluster = await startCluster(0);
    const figures: Figure[] = [];
    try {
      const max = Math.max(...SIZES);
      const { tokensFile } = await cluster.createLinks(max, 'idle');
      const ourServer = async () => {
        const replica = await cluster.startReplica();
        return { server: replica.process, target: replica.grpcUrl };
      };
      const rawServer = async () => {
        const server = spawnTracked('raw grpc-js server', process.execPath, ['--import', 'tsx', 'bench/raw-grpc-server.ts']);
        return { server, target: `127.0.0.1:${(await server.waitForOutput(/^port (\d+)$/m, 30_000))[1]}` };
      };
      // Each load process dials from its own loopback address: 10k connections and their
      // TIME_WAITs do not share one address's ephemeral ports.
      const loadLinks = (target: string, from: number, to: number, i: number) =>
        startLoad(`links ${from}-${to}`, ['links', tokensFile, `${from}:${to}`, target, `127.0.0.${2 + i}`, String(PACE)], 600_000);
      // The same pace: the time to connect compares servers, not how fast the load dials.
      const loadRaw = (target: string, from: number, to: number) => startLoad(`raw ${from}-${to}`, ['raw', target, String(to - from), String(PACE)], 600_000);
      for (const size of SIZES) {
        const ours: Sample[] = [];
        const base: Sample[] = [];
        try {
          for (let rep = 0; rep < REPETITIONS; rep++) {
            ours.push(await measure(ourServer, size, HOLD_MS, loadLinks, () => cluster.etcd.revision()));
            base.push(await measure(rawServer, size, WINDOW_MS, loadRaw));
          }
        } catch (error) {
          // A size that cannot be reached is a result too: say so in the table, and stop growing.
          const why = (error as Error).message.split('\n')[0].slice(0, 200);
          // The whole message: the load process's last lines say how many were connected and why the rest were not.
          process.stdout.write(`${size} links: ${(error as Error).message.slice(-4_000)}\n`);
          figures.push({ name: `${size} links: not all connected (${why})`, unit: 'links', samples: [Number.NaN] });
          break;
        }
        const sized: Figure[] = [
          { name: `${size} links: time to connect all`, unit: 'ms', samples: ours.map((s) => s.connectMs), baseline: { name: 'grpc-js streams', samples: base.map((s) => s.connectMs) } },
          { name: `${size} links: server CPU per set-up`, unit: 'µs', samples: ours.map((s) => s.cpuPerConnectUs), baseline: { name: 'grpc-js', samples: base.map((s) => s.cpuPerConnectUs) } },
          { name: `${size} links: load processes' CPU per link while connecting`, unit: 'µs', samples: ours.map((s) => s.loadCpuPerConnectUs), baseline: { name: 'grpc-js', samples: base.map((s) => s.loadCpuPerConnectUs) } },
          { name: `${size} links: server RSS per link`, unit: 'KB', samples: ours.map((s) => s.rssPerLinkKb), baseline: { name: 'grpc-js', samples: base.map((s) => s.rssPerLinkKb) }, target: '≤ 1.5× grpc-js' },
          { name: `${size} links: server CPU per heartbeat`, unit: 'µs', samples: ours.map((s) => s.cpuPerHeartbeatUs), baseline: { name: 'grpc-js', samples: base.map((s) => s.cpuPerHeartbeatUs) }, target: '≤ 1.5× grpc-js' },
          { name: `${size} links: server CPU per link per minute (5 s heartbeats)`, unit: 'ms', samples: ours.map((s) => s.cpuPerLinkMinuteMs), baseline: { name: 'grpc-js', samples: base.map((s) => s.cpuPerLinkMinuteMs) } },
          { name: `${size} links: sessions that ended while held (${HOLD_MS / 1000} s)`, unit: 'sessions', samples: ours.map((s) => s.lost), target: '0' },
          { name: `${size} links: of them HEARTBEAT_MISSED`, unit: 'sessions', samples: ours.map((s) => s.heartbeatMissed), target: '0' },
          { name: `${size} links: etcd writes per minute while idle`, unit: '/min', samples: ours.map((s) => s.etcdWritesPerMinute), target: '0' },
        ];
        figures.push(...sized);
        // Each size is reported as soon as it is measured.
        process.stdout.write(`${sized.map((f) => `${f.name}: ${f.samples.map((x) => x.toFixed(1)).join(', ')} ${f.unit}`).join('\n')}\n`);
      }
      return figures;
    } finally {
      await cluster.stop();
    }
  },
};
