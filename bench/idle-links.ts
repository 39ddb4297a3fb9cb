/**
 * Idle links per replica: N linkd sessions (the real protocol and client code, from separate load
 * processes, one HTTP/2 connection each) on one link-server process with real Postgres and etcd,
 * heartbeating at the default 5 s. Reports the time to connect all, server RSS per link, server CPU
 * per heartbeat, and etcd writes per minute while idle. Baseline, in the same run: a plain grpc-js
 * server with the same number of idle bidi streams and 5 s heartbeats.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../common/net.js';
import { createLogger } from '../common/log.js';
import { startEmbeddedPostgres } from '../control-plane/store/embedded.js';
import { PostgresStore } from '../control-plane/store/postgres.js';
import type { Benchmark, Figure } from './lib.js';

const SIZES = (process.env.LINK_BENCH_IDLE_SIZES ?? '1000,5000,10000').split(',').map(Number);
const WINDOW_MS = Number(process.env.LINK_BENCH_IDLE_WINDOW_MS ?? 20_000);
const PER_PROCESS = 2_500;
const HEARTBEAT_MS = 5_000;

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, 100 ticks a second
}

/** Starts a process and resolves with it once a line matches `ready` (with a deadline). */
function start(command: string, args: string[], ready: RegExp, timeoutMs: number): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} ${args.join(' ')} not ready within ${timeoutMs} ms`)), timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = ready.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match });
      }
    });
    child.stderr!.on('data', () => undefined);
    child.once('exit', (code) => reject(new Error(`${command} exited (${code}) before it was ready`)));
  });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await new Promise((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
}

async function etcdRevision(endpoint: string): Promise<number> {
  const response = await fetch(`${endpoint}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('-').toString('base64') }) });
  return Number(((await response.json()) as { header: { revision: string } }).header.revision);
}

interface Sample {
  connectMs: number;
  rssPerLinkKb: number;
  cpuPerHeartbeatUs: number;
  etcdWritesPerMinute?: number;
}

/** Opens `count` idle sessions with load processes, then measures the server over a window. */
async function measure(serverPid: number, count: number, load: (from: number, to: number) => Promise<ChildProcess>, etcd?: string): Promise<Sample> {
  const rssBefore = rssKb(serverPid);
  const started = performance.now();
  const loaders = await Promise.all(
    Array.from({ length: Math.ceil(count / PER_PROCESS) }, (_, i) => load(i * PER_PROCESS, Math.min(count, (i + 1) * PER_PROCESS))),
  );
  const connectMs = performance.now() - started;
  try {
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS)); // settle
    const cpu0 = cpuMs(serverPid);
    const rev0 = etcd ? await etcdRevision(etcd) : 0;
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
    const cpu = cpuMs(serverPid) - cpu0;
    const revisions = etcd ? (await etcdRevision(etcd)) - rev0 : 0;
    const heartbeats = (count * WINDOW_MS) / HEARTBEAT_MS;
    return {
      connectMs,
      rssPerLinkKb: (rssKb(serverPid) - rssBefore) / count,
      cpuPerHeartbeatUs: (cpu * 1000) / heartbeats,
      etcdWritesPerMinute: etcd ? (revisions * 60_000) / WINDOW_MS : undefined,
    };
  } finally {
    await Promise.all(loaders.map(stop));
  }
}

export const idleLinksBenchmark: Benchmark = {
  name: 'idle-links',
  description: `idle linkd sessions on one replica (${SIZES.join(', ')}), against plain grpc-js streams`,
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'link-bench-idle-'));
    const log = createLogger({ name: 'bench', level: 'silent' });
    const database = await startEmbeddedPostgres(dir, log, { settings: { max_connections: '100' } });
    const [etcdClient, etcdPeer, grpcPort, httpPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const etcdEndpoint = `http://127.0.0.1:${etcdClient}`;
    const etcd = spawn('etcd', ['--name', 'b', '--data-dir', join(dir, 'etcd'), '--listen-client-urls', etcdEndpoint, '--advertise-client-urls', etcdEndpoint,
      '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-cluster', `b=http://127.0.0.1:${etcdPeer}`,
      '--log-level', 'error'], { stdio: 'ignore' });
    let server: ChildProcess | undefined;
    let raw: ChildProcess | undefined;
    const figures: Figure[] = [];
    try {
      const max = Math.max(...SIZES);
      const store = await PostgresStore.open({ url: database.url, migrationsDir: join(process.cwd(), 'sql'), log, max: 4 });
      const user = await store.localUser();
      const tokens: string[] = [];
      for (let i = 0; i < max; i++) tokens.push((await store.createLink(user.id, `idle-${i}`)).token);
      await store.close();
      const tokensFile = join(dir, 'tokens');
      writeFileSync(tokensFile, `${tokens.join('\n')}\n`);
      for (let tries = 0; (await fetch(`${etcdEndpoint}/health`).then((r) => r.ok, () => false)) === false; tries++) {
        if (tries > 100) throw new Error('etcd did not start');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      server = spawn(process.execPath, ['bin/link-server.js', 'serve', '--database-url', database.url, '--etcd', etcdEndpoint, '--grpc-port', String(grpcPort), '--http-port', String(httpPort),
        '--local-login', 'off', '--log-level', 'warn', '--data-dir', join(dir, 'server')], { stdio: ['ignore', 'ignore', 'pipe'] });
      let serverErrors = '';
      server.stderr!.on('data', (chunk) => (serverErrors += chunk));
      for (let tries = 0; (await fetch(`http://127.0.0.1:${httpPort}/readyz`).then((r) => r.ok, () => false)) === false; tries++) {
        if (tries > 300 || server.exitCode !== null) throw new Error(`link-server did not become ready: ${serverErrors.slice(-2000)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const rawServer = await start(process.execPath, ['--import', 'tsx', 'bench/raw-grpc-server.ts'], /^port (\d+)$/, 30_000);
      raw = rawServer.child;
      const rawTarget = `127.0.0.1:${rawServer.match[1]}`;
      const loadLink = (from: number, to: number) =>
        start(process.execPath, ['--import', 'tsx', 'bench/load-agents.ts', 'link', `http://127.0.0.1:${grpcPort}`, tokensFile, `${from}:${to}`], /^ready/, 600_000).then((r) => r.child);
      const loadRaw = (from: number, to: number) => start(process.execPath, ['--import', 'tsx', 'bench/load-agents.ts', 'raw', rawTarget, String(to - from)], /^ready/, 600_000).then((r) => r.child);
      for (const size of SIZES) {
        const ours: Sample[] = [];
        const base: Sample[] = [];
        for (let rep = 0; rep < 3; rep++) {
          ours.push(await measure(server.pid!, size, loadLink, etcdEndpoint));
          base.push(await measure(raw.pid!, size, loadRaw));
        }
        const sized: Figure[] = [
          { name: `${size} links: time to connect all`, unit: 'ms', samples: ours.map((s) => s.connectMs), baseline: { name: 'grpc-js streams', samples: base.map((s) => s.connectMs) } },
          { name: `${size} links: server RSS per link`, unit: 'KB', samples: ours.map((s) => s.rssPerLinkKb), baseline: { name: 'grpc-js', samples: base.map((s) => s.rssPerLinkKb) }, target: '≤ 1.5× grpc-js' },
          { name: `${size} links: server CPU per heartbeat`, unit: 'µs', samples: ours.map((s) => s.cpuPerHeartbeatUs), baseline: { name: 'grpc-js', samples: base.map((s) => s.cpuPerHeartbeatUs) }, target: '≤ 1.5× grpc-js' },
          { name: `${size} links: etcd writes per minute while idle`, unit: '/min', samples: ours.map((s) => s.etcdWritesPerMinute ?? 0), target: '0' },
        ];
        figures.push(...sized);
        // Each size is reported as soon as it is measured.
        process.stdout.write(`${sized.map((f) => `${f.name}: median ${[...f.samples].sort((x, y) => x - y)[1]?.toFixed(1)} ${f.unit}`).join('\n')}\n`);
      }
      return figures;
    } finally {
      await stop(raw);
      await stop(server);
      await stop(etcd);
      await database.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
