/**
 * What the control-plane benchmarks run against, as users run it: a real Postgres (embedded, fsync
 * on), a real etcd, and link-server replicas as separate processes on 127.0.0.1. Load comes from
 * other processes (bench/load.ts); the benchmark's own process only measures.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { freePort } from '../common/net.js';
import { createLogger } from '../common/log.js';
import { startEmbeddedPostgres } from '../control-plane/store/embedded.js';
import { PostgresStore } from '../control-plane/store/postgres.js';
import { ThreadService } from '../gen/link/v1/thread_service_pb.js';
import { startEtcd, type TestEtcd } from '../test/helpers/etcd.js';
import { delay, spawnTracked, type TestProcess } from '../test/helpers/processes.js';

export interface Replica {
  id: string;
  grpcUrl: string;
  httpUrl: string;
  process: TestProcess;
}

export interface Cluster {
  dir: string;
  databaseUrl: string;
  /** The benchmark's own connection to the database (to make links and read results). */
  store: PostgresStore;
  etcd: TestEtcd;
  replicas: Replica[];
  userId: string;
  threads(replica: number): Client<typeof ThreadService>;
  /** Starts one more replica (bench-<n>). */
  startReplica(): Promise<Replica>;
  /** Makes `count` links; writes one token per line to a file and returns it with the links. */
  createLinks(count: number, prefix: string): Promise<{ ids: string[]; tokensFile: string }>;
  stop(): Promise<void>;
}

/** Starts `replicas` link-server processes sharing one Postgres and one etcd. */
export async function startCluster(replicas: number): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'link-bench-'));
  const log = createLogger({ name: 'bench', level: 'silent' });
  const database = await startEmbeddedPostgres(dir, log, { settings: { max_connections: '200' } });
  const started: Replica[] = [];
  let etcd: TestEtcd | undefined;
  let store: PostgresStore | undefined;
  try {
    etcd = await startEtcd();
    store = await PostgresStore.open({ url: database.url, migrationsDir: join(process.cwd(), 'sql'), log, max: 4 });
    for (let i = 0; i < replicas; i++) started.push(await startReplica(dir, database.url, etcd.endpoint, `bench-${i}`));
    const user = await store.localUser();
    const userToken = await store.addUserToken(user.id, 'api');
    const cluster: Cluster = {
      dir,
      databaseUrl: database.url,
      store,
      etcd,
      replicas: started,
      userId: user.id,
      threads: (replica) =>
        createClient(
          ThreadService,
          createGrpcTransport({
            baseUrl: started[replica].grpcUrl,
            interceptors: [(next) => (req) => (req.header.set('authorization', `Bearer ${userToken}`), next(req))],
          }),
        ),
      async startReplica() {
        const replica = await startReplica(dir, database.url, etcd!.endpoint, `bench-${started.length}`);
        started.push(replica);
        return replica;
      },
      async createLinks(count, prefix) {
        const ids: string[] = [];
        const tokens: string[] = [];
        for (let i = 0; i < count; i++) {
          const { link, token } = await store!.createLink(user.id, `${prefix}-${i}`);
          ids.push(link.id);
          tokens.push(token);
        }
        const tokensFile = join(dir, `${prefix}.tokens`);
        await writeFile(tokensFile, `${tokens.join('\n')}\n`, { mode: 0o600 });
        return { ids, tokensFile };
      },
      async stop() {
        for (const replica of started) await replica.process.stop('SIGTERM', 15_000);
        await store!.close();
        await etcd!.stop();
        await database.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
    return cluster;
  } catch (error) {
    for (const replica of started) await replica.process.stop('SIGKILL');
    await store?.close();
    await etcd?.stop();
    await database.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function startReplica(dir: string, databaseUrl: string, etcd: string, id: string): Promise<Replica> {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const dataDir = join(dir, id);
  await mkdir(dataDir, { recursive: true });
  // LINK_BENCH_PROFILE_DIR=dir: each replica writes a CPU profile there when it stops.
  const profile = process.env.LINK_BENCH_PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.LINK_BENCH_PROFILE_DIR] : [];
  const child = spawnTracked(id, process.execPath, [
    ...profile,
    'bin/link-server.js', 'serve',
    '--database-url', databaseUrl,
    '--etcd', etcd,
    '--replica-id', id,
    '--grpc-port', String(grpcPort),
    '--http-port', String(httpPort),
    '--local-login', 'off',
    '--log-level', 'warn',
    '--data-dir', dataDir,
    // One key file for all replicas: the first makes it, the others open the same sealed key.
    '--key-file', join(dir, 'signing.secret'),
  ]);
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 60_000;
  while (!(await fetch(`${httpUrl}/readyz`).then((r) => r.ok, () => false))) {
    if (!child.running || Date.now() > deadline) {
      await child.stop('SIGKILL');
      throw new Error(`${id} did not become ready:\n${child.tail()}`);
    }
    await delay(100);
  }
  return { id, grpcUrl: `http://127.0.0.1:${grpcPort}`, httpUrl, process: child };
}

/**
 * A load process (bench/load.ts) on 127.0.0.1, resolved once it prints `ready <n>`. It is stopped
 * by the benchmark (SIGTERM, then SIGKILL) like any process a test starts.
 */
export async function startLoad(name: string, args: string[], timeoutMs: number): Promise<TestProcess> {
  const child = spawnTracked(name, process.execPath, ['--import', 'tsx', 'bench/load.ts', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    await child.waitForOutput(/^ready \d+$/m, timeoutMs);
  } catch (error) {
    await child.stop('SIGKILL');
    throw error;
  }
  return child;
}

/** Asks a load process a question on stdin and waits for the JSON line that answers it. */
export async function ask<T>(load: TestProcess, question: string, timeoutMs = 30_000): Promise<T> {
  const tag = `${question}-${Math.random().toString(36).slice(2)}`;
  load.child.stdin!.write(`${question} ${tag}\n`);
  // Up to the newline: a long answer arrives in several chunks.
  const match = await load.waitForOutput(new RegExp(`^answer ${tag} (.*)\n`, 'm'), timeoutMs);
  load.output = ''; // answers can be large; forget what was read
  return JSON.parse(match[1]) as T;
}

/** The server's resident memory, in KiB, and its CPU time so far, in ms (from /proc). */
export function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, 100 ticks a second
}

/** Latency percentiles of a list of milliseconds. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
