/**
 * Dispatch latency with idle links connected: SendMessage → DispatchRun at the agent, and
 * SendMessage → first event seen by a WatchRun client on another replica. The agent answers at once
 * (accepted, started, done), so no CLI is measured. Baseline, in the same run: one Postgres commit
 * plus one gRPC round trip to the same server.
 */
import postgres from 'postgres';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { create } from '@bufbuild/protobuf';
import { Health } from '../gen/grpc/health/v1/health_pb.js';
import { RunEventSchema, RunStatus } from '../gen/link/v1/run_pb.js';
import { BenchAgent, percentile, startStack } from './stack.js';
import type { Benchmark, Figure } from './lib.js';

const IDLE_LINKS = Number(process.env.LINK_BENCH_IDLE_LINKS ?? 1_000);
const SAMPLES = 100;
const REPETITIONS = 3;

export const dispatchBenchmark: Benchmark = {
  name: 'dispatch',
  description: `dispatch latency with ${IDLE_LINKS} idle links on real Postgres, two replicas`,
  async run() {
    const stack = await startStack(2);
    const idle: BenchAgent[] = [];
    try {
      for (let i = 0; i < IDLE_LINKS; i++) {
        const { token } = await stack.stores[0].createLink(stack.userId, `idle-${i}`);
        idle.push(new BenchAgent(stack.grpcUrl(i % 2), token));
        if (i % 100 === 99) await Promise.all(idle.slice(-100).map((a) => a.welcomed));
      }
      await Promise.all(idle.map((a) => a.welcomed));

      // The measured link: answers each dispatch at once.
      const { link, token } = await stack.stores[0].createLink(stack.userId, 'measured');
      const dispatched = new Map<string, number>();
      const agent = new BenchAgent(stack.grpcUrl(0), token, (response, self) => {
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
      const sender = stack.threads(1);
      const watcher = stack.threads(1);

      const toDispatch: number[] = [];
      const toFirstEvent: number[] = [];
      const dispatchP99: number[] = [];
      const eventP99: number[] = [];
      for (let rep = 0; rep < REPETITIONS; rep++) {
        const d: number[] = [];
        const e: number[] = [];
        for (let i = 0; i < SAMPLES; i++) {
          const { thread } = await sender.createThread({});
          const start = performance.now();
          const { runId } = await sender.sendMessage({ threadId: thread!.id, text: 'true', harness: 'shell', linkId: link.id });
          for await (const { event } of watcher.watchRun({ runId })) {
            if (event) {
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
      const sql = postgres(stack.databaseUrl, { max: 1, onnotice: () => undefined });
      await sql`create table if not exists bench_commit (id serial primary key, at timestamptz not null default now())`;
      const health = createClient(Health, createGrpcTransport({ baseUrl: stack.grpcUrl(0) }));
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
      await agent.close();
      const base = { name: 'PG commit + gRPC RTT (p50)', samples: baseline };
      const figures: Figure[] = [
        { name: 'SendMessage → DispatchRun p50', unit: 'ms', samples: toDispatch, baseline: base, target: '≤ 3× baseline' },
        { name: 'SendMessage → DispatchRun p99', unit: 'ms', samples: dispatchP99, target: '< 20 ms' },
        { name: 'SendMessage → first event on the other replica p50', unit: 'ms', samples: toFirstEvent, baseline: base, target: '≤ 3× baseline' },
        { name: 'SendMessage → first event on the other replica p99', unit: 'ms', samples: eventP99, target: '< 20 ms' },
      ];
      return figures;
    } finally {
      await Promise.all(idle.map((a) => a.close()));
      await stack.stop();
    }
  },
};
