/**
 * Dispatch latency with idle links connected (from load processes, half on each of two replicas):
 * SendMessage → DispatchRun at the agent, and SendMessage → first event seen by a WatchRun client
 * on the other replica. The measured agent answers at once (accepted, started, done), so no CLI
 * is measured. Baseline, in the same run: one Postgres commit plus one gRPC round trip to the
 * same server.
 */
import postgres from 'postgres';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { create } from '@bufbuild/protobuf';
import { Health } from '../gen/grpc/health/v1/health_pb.js';
import { RunEventSchema, RunStatus } from '../gen/link/v1/run_pb.js';
import type { TestProcess } from '../test/helpers/processes.js';
import { BenchAgent } from './agent.js';
import { percentile, startCluster, startLoad } from './cluster.js';
import { REPETITIONS, type Benchmark, type Figure } from './lib.js';

const IDLE_LINKS = Number(process.env.LINK_BENCH_IDLE_LINKS ?? 1_000);
const SAMPLES = 200;

export const dispatchBenchmark: Benchmark = {
  name: 'dispatch',
  description: `dispatch latency with ${IDLE_LINKS} idle links, two replicas, real Postgres and etcd`,
  async run() {
    const cluster = await startCluster(2);
    const loads: TestProcess[] = [];
    let agent: BenchAgent | undefined;
    try {
      const { tokensFile } = await cluster.createLinks(IDLE_LINKS, 'idle');
      const half = Math.floor(IDLE_LINKS / 2);
      loads.push(await startLoad('idle links on A', ['links', tokensFile, `0:${half}`, cluster.replicas[0].grpcUrl, '127.0.0.2'], 600_000));
      loads.push(await startLoad('idle links on B', ['links', tokensFile, `${half}:${IDLE_LINKS}`, cluster.replicas[1].grpcUrl, '127.0.0.3'], 600_000));

      // The measured link, on replica A: answers each dispatch at once.
      const { link, token } = await cluster.store.createLink(cluster.userId, 'measured');
      const dispatched = new Map<string, number>();
      agent = new BenchAgent(cluster.replicas[0].grpcUrl, token, (response, self) => {
        if (response.frame.case !== 'dispatchRun') return;
        const runId = response.frame.value.runId;
        dispatched.set(runId, performance.now());
        self.send({ frame: { case: 'runAccepted', value: { runId } } });
        self.send({
          frame: {
            case: 'runEvents',
            value: {
              runId,
              events: [
                create(RunEventSchema, { seq: 1n, event: { case: 'started', value: { harness: 'shell' } } }),
                create(RunEventSchema, { seq: 2n, event: { case: 'done', value: { status: RunStatus.COMPLETED } } }),
              ],
            },
          },
        });
      });
      await agent.welcomed;
      // The user's client is on replica B: the run is stored there and dispatched by A.
      const sender = cluster.threads(1);
      const watcher = cluster.threads(1);

      const toDispatch: number[] = [];
      const toFirstEvent: number[] = [];
      const dispatchP99: number[] = [];
      const eventP99: number[] = [];
      const { thread: warm } = await sender.createThread({});
      await sender.sendMessage({ threadId: warm!.id, text: 'true', harness: 'shell', linkId: link.id });
      for (let rep = 0; rep < REPETITIONS; rep++) {
        const d: number[] = [];
        const e: number[] = [];
        for (let i = 0; i < SAMPLES; i++) {
          const { thread } = await sender.createThread({});
          const start = performance.now();
          const { runId } = await sender.sendMessage({ threadId: thread!.id, text: 'true', harness: 'shell', linkId: link.id });
          for await (const { events } of watcher.watchRun({ runId, batched: true })) {
            if (events.length > 0) {
              e.push(performance.now() - start);
              break;
            }
          }
          d.push((dispatched.get(runId) ?? Number.NaN) - start);
        }
        toDispatch.push(percentile(d, 50));
        dispatchP99.push(percentile(d, 99));
        toFirstEvent.push(percentile(e, 50));
        eventP99.push(percentile(e, 99));
      }

      // Baseline: one Postgres commit + one gRPC round trip, on the same machine, now.
      const sql = postgres(cluster.databaseUrl, { max: 1, onnotice: () => undefined });
      await sql`create table if not exists bench_commit (id serial primary key, at timestamptz not null default now())`;
      const health = createClient(Health, createGrpcTransport({ baseUrl: cluster.replicas[0].grpcUrl }));
      const baseline: number[] = [];
      for (let rep = 0; rep < REPETITIONS; rep++) {
        const commit: number[] = [];
        const rtt: number[] = [];
        for (let i = 0; i < SAMPLES; i++) {
          let t = performance.now();
          await sql`insert into bench_commit default values`;
          commit.push(performance.now() - t);
          t = performance.now();
          await health.check({});
          rtt.push(performance.now() - t);
        }
        baseline.push(percentile(commit, 50) + percentile(rtt, 50));
      }
      await sql.end({ timeout: 1 });
      const base = { name: 'PG commit + gRPC RTT (p50)', samples: baseline };
      const figures: Figure[] = [
        { name: 'SendMessage → DispatchRun p50', unit: 'ms', samples: toDispatch, baseline: base, target: '≤ 3× baseline' },
        { name: 'SendMessage → DispatchRun p99', unit: 'ms', samples: dispatchP99, target: '< 20 ms' },
        { name: 'SendMessage → first event on the other replica p50', unit: 'ms', samples: toFirstEvent, baseline: base, target: '≤ 3× baseline' },
        { name: 'SendMessage → first event on the other replica p99', unit: 'ms', samples: eventP99, target: '< 20 ms' },
      ];
      return figures;
    } finally {
      await agent?.close();
      await Promise.all(loads.map((l) => l.stop('SIGTERM', 15_000)));
      await cluster.stop();
    }
  },
};
