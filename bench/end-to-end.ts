/**
 * End to end, as a user sees it: a real linkd (the shell harness) on replica A, the user's client on
 * replica B. SendMessage `echo hi` → the line `hi` at a WatchRun client on B, p50/p99; then a run
 * printing many lines as fast as it can: lines per second at the watcher, and how far behind the
 * machine the watcher is (p99; each line is the monotonic clock it was printed at, shared by the
 * processes of this machine). Baselines, in the same run: one Postgres commit + one gRPC round trip
 * + `bash -c 'echo hi'` (what a run costs at the least), and the printing program piped to `wc -l`
 * (how fast the machine makes the lines).
 */
import { execFileSync, spawn as spawnChild, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import postgres from 'postgres';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { Health } from '../gen/grpc/health/v1/health_pb.js';
import { readKeyFile } from '../control-plane/store/dispatch-keys.js';
import { spawnLinkd, type TestProcess } from '../test/helpers/processes.js';
import { percentile, startCluster } from './cluster.js';
import { REPETITIONS, type Benchmark, type Figure } from './lib.js';

const SAMPLES = Number(process.env.LINK_BENCH_E2E_SAMPLES ?? 100);
const LINES = Number(process.env.LINK_BENCH_E2E_LINES ?? 100_000);
/** Prints LINES lines, each the monotonic clock (ns) at its printing. */
const PRINTER = `node -e 'let i=0;const w=()=>{while(i<${LINES}){i++;if(!process.stdout.write(String(process.hrtime.bigint())+"\\n"))return process.stdout.once("drain",w)}};w()'`;

/**
 * The lines a CLI's output holds between it and a reader that stopped reading (the socket linkd
 * spawns it with, and the stream's buffer), as linkd does while a run's window is full: the
 * printer is spawned as linkd spawns a harness, left unread until it blocks, then killed, and what
 * it had written is read to the end and counted. At the watcher's rate, these lines are how far
 * behind the machine a watcher is at least while the CLI outruns the store.
 */
async function linesHeldByTheOs(): Promise<number> {
  // Its own process group: the kill reaches the printer whether or not bash exec'd it.
  const child = spawnChild('bash', ['-c', PRINTER], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  process.kill(-child.pid!, 'SIGKILL');
  let lines = 0;
  for await (const chunk of child.stdout) for (const byte of chunk as Buffer) if (byte === 10) lines++;
  return lines;
}

export const endToEndBenchmark: Benchmark = {
  name: 'end-to-end',
  description: `a real linkd (shell harness) on one replica, the watcher on the other: echo hi ×${SAMPLES}, then ${LINES} lines`,
  async run() {
    const cluster = await startCluster(2);
    let linkd: TestProcess | undefined;
    try {
      const { link, token } = await cluster.store.createLink(cluster.userId, 'measured');
      const home = join(cluster.dir, 'linkd');
      await mkdir(home, { recursive: true, mode: 0o700 });
      // What `linkd login` saves: the token and the pinned dispatch key.
      const { publicKey } = await cluster.store.unlockDispatchKeys((await readKeyFile(join(cluster.dir, 'signing.secret')))!);
      await writeFile(join(home, 'token'), `${token}\n`, { mode: 0o600 });
      await writeFile(join(home, 'link.json'), `${JSON.stringify({ server: '', linkId: link.id, linkName: link.name, userName: 'bench', dispatchPublicKey: publicKey.toString('base64'), pairedAt: new Date().toISOString() })}\n`, { mode: 0o600 });
      linkd = spawnLinkd(['start', '--server', cluster.replicas[0].grpcUrl, '--token-file', join(home, 'token'), '--data-dir', join(home, 'data'), '--log-level', 'warn']);
      const threads = cluster.threads(1);

      // The first message that goes through says linkd is up.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const { thread } = await threads.createThread({});
        const sent = await threads.sendMessage({ threadId: thread!.id, text: 'true', harness: 'shell', linkId: link.id }).catch(() => undefined);
        if (sent) {
          for await (const _ of threads.watchRun({ runId: sent.runId })) void _;
          break;
        }
        if (Date.now() > deadline) throw new Error(`linkd did not come online:\n${linkd.tail()}`);
        await new Promise((r) => setTimeout(r, 200));
      }

      const firstLine = { p50: [] as number[], p99: [] as number[] };
      const lines = { rate: [] as number[], lagP99: [] as number[], lagP50: [] as number[], held: [] as number[], floor: [] as number[] };
      const baseline = { run: [] as number[], lines: [] as number[] };
      const sql = postgres(cluster.databaseUrl, { max: 1, onnotice: () => undefined });
      await sql`create table if not exists bench_commit (id serial primary key, at timestamptz not null default now())`;
      const health = createClient(Health, createGrpcTransport({ baseUrl: cluster.replicas[0].grpcUrl }));
      for (let rep = 0; rep < REPETITIONS; rep++) {
        const samples: number[] = [];
        for (let i = 0; i < SAMPLES; i++) {
          const { thread } = await threads.createThread({});
          const start = performance.now();
          const { runId } = await threads.sendMessage({ threadId: thread!.id, text: 'echo hi', harness: 'shell', linkId: link.id });
          let at = Number.NaN;
          for await (const { events } of threads.watchRun({ runId, batched: true })) {
            for (const event of events) if (Number.isNaN(at) && event.event.case === 'log' && event.event.value.text === 'hi') at = performance.now() - start;
          }
          samples.push(at);
        }
        firstLine.p50.push(percentile(samples, 50));
        firstLine.p99.push(percentile(samples, 99));

        const { thread } = await threads.createThread({});
        const { runId } = await threads.sendMessage({ threadId: thread!.id, text: PRINTER, harness: 'shell', linkId: link.id });
        const lags: number[] = [];
        let first = 0;
        let last = 0;
        for await (const { events } of threads.watchRun({ runId, batched: true })) {
          const now = process.hrtime.bigint();
          for (const event of events) {
            if (event.event.case !== 'log' || !/^\d+$/.test(event.event.value.text)) continue;
            if (!first) first = performance.now();
            last = performance.now();
            lags.push(Number(now - BigInt(event.event.value.text)) / 1e6);
          }
        }
        if (lags.length !== LINES) throw new Error(`the watcher saw ${lags.length} of ${LINES} lines`);
        lines.rate.push(LINES / ((last - first) / 1000));
        lines.lagP50.push(percentile(lags, 50));
        lines.lagP99.push(percentile(lags, 99));
        // The limit, now: what the OS holds between the printer and linkd, at the rate the watcher saw.
        const held = await linesHeldByTheOs();
        lines.held.push(held);
        lines.floor.push((held / lines.rate.at(-1)!) * 1000);

        // Baselines, now: the least a run costs, and how fast the machine prints the lines.
        const commit: number[] = [];
        const rtt: number[] = [];
        const spawn: number[] = [];
        for (let i = 0; i < SAMPLES; i++) {
          let t = performance.now();
          await sql`insert into bench_commit default values`;
          commit.push(performance.now() - t);
          t = performance.now();
          await health.check({});
          rtt.push(performance.now() - t);
          t = performance.now();
          spawnSync('bash', ['-c', 'echo hi']);
          spawn.push(performance.now() - t);
        }
        baseline.run.push(percentile(commit, 50) + percentile(rtt, 50) + percentile(spawn, 50));
        const t = performance.now();
        execFileSync('bash', ['-c', `${PRINTER} | wc -l`]);
        baseline.lines.push(LINES / ((performance.now() - t) / 1000));
      }
      await sql.end({ timeout: 1 });
      const run = { name: 'PG commit + gRPC RTT + bash echo (p50s)', samples: baseline.run };
      const figures: Figure[] = [
        { name: 'SendMessage → first line on the other replica p50', unit: 'ms', samples: firstLine.p50, baseline: run, target: '≤ 3× baseline' },
        { name: 'SendMessage → first line on the other replica p99', unit: 'ms', samples: firstLine.p99, target: '< 20 ms above the baseline' },
        { name: `${LINES} lines: lines/s at the watcher`, unit: 'lines/s', samples: lines.rate, baseline: { name: 'printer | wc -l', samples: baseline.lines } },
        { name: `${LINES} lines: watcher behind the machine p50`, unit: 'ms', samples: lines.lagP50 },
        { name: `${LINES} lines: watcher behind the machine p99`, unit: 'ms', samples: lines.lagP99 },
        { name: 'lines the OS holds between the printer and an unread pipe', unit: 'lines', samples: lines.held },
        { name: '… at the watcher\'s rate: the least the watcher is behind', unit: 'ms', samples: lines.floor },
      ];
      return figures;
    } finally {
      await linkd?.stop('SIGTERM', 15_000);
      await cluster.stop();
    }
  },
};
