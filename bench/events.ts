/**
 * Event throughput: agents streaming run events as fast as the control plane acknowledges them
 * (batches of up to 512, as linkd sends a backlog, at most 8192 unacknowledged each), stored in Postgres and delivered to a WatchRun
 * client; one agent, then 50 at once. Every watcher checks it saw each event exactly once, in order.
 * Baseline, in the same run: raw multi-row inserts (100 rows) of the same rows into the same Postgres.
 */
import postgres from 'postgres';
import { create, toBinary } from '@bufbuild/protobuf';
import { RunEventSchema, RunStatus, type RunEvent } from '../gen/link/v1/run_pb.js';
import { BenchAgent, percentile, startStack, type BenchStack } from './stack.js';
import type { Benchmark, Figure } from './lib.js';

const BATCH = 512;
const WINDOW = 8_192;
const REPETITIONS = 3;

async function stream(stack: BenchStack, agents: number, eventsEach: number): Promise<{ perSecond: number; p99: number; rssMb: number }> {
  const threads = stack.threads(0);
  const latencies: number[] = [];
  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const runs: Promise<void>[] = [];
  const closers: (() => Promise<void>)[] = [];
  const start = performance.now();
  for (let a = 0; a < agents; a++) {
    const { link, token } = await stack.stores[0].createLink(stack.userId, `stream-${a}-${Math.random()}`);
    let acked = 0n;
    let wake: () => void = () => undefined;
    const agent = new BenchAgent(stack.grpcUrl(0), token, (response, self) => {
      if (response.frame.case === 'eventsAck') {
        acked = response.frame.value.ackedSeq;
        wake();
      }
      if (response.frame.case !== 'dispatchRun') return;
      const runId = response.frame.value.runId;
      self.send({ frame: { case: 'runAccepted', value: { runId } } });
      void (async () => {
        let seq = 0n;
        while (seq < BigInt(eventsEach)) {
          while (seq - acked >= BigInt(WINDOW)) await new Promise<void>((resolve) => (wake = resolve));
          const events: RunEvent[] = [];
          for (let i = 0; i < BATCH && seq < BigInt(eventsEach); i++) {
            seq++;
            const last = seq === BigInt(eventsEach);
            events.push(
              create(RunEventSchema, {
                seq,
                event: last ? { case: 'done', value: { status: RunStatus.COMPLETED } } : { case: 'log', value: { text: String(performance.now()) } },
              }),
            );
          }
          self.send({ frame: { case: 'runEvents', value: { runId, events } } });
        }
      })();
    });
    await agent.welcomed;
    closers.push(() => agent.close());
    const { thread } = await threads.createThread({});
    const { runId } = await threads.sendMessage({ threadId: thread!.id, text: 'stream', harness: 'shell', linkId: link.id });
    runs.push(
      (async () => {
        let expected = 1n;
        for await (const { event } of threads.watchRun({ runId })) {
          if (!event) continue;
          if (event.seq !== expected) throw new Error(`run ${runId}: got seq ${event.seq}, expected ${expected} (lost or duplicated)`);
          expected++;
          if (event.event.case === 'log') latencies.push(performance.now() - Number(event.event.value.text));
        }
        if (expected !== BigInt(eventsEach) + 1n) throw new Error(`run ${runId}: ended after ${expected - 1n} of ${eventsEach} events`);
      })(),
    );
  }
  await Promise.all(runs);
  const seconds = (performance.now() - start) / 1000;
  clearInterval(sampler);
  for (const close of closers) await close();
  return { perSecond: (agents * eventsEach) / seconds, p99: percentile(latencies, 99), rssMb: (peakRss - rssBefore) / 1024 / 1024 };
}

async function rawInserts(url: string, rows: number): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  await sql`create table if not exists bench_events (run_id text not null, seq bigint not null, kind text not null, body bytea not null, primary key (run_id, seq))`;
  const body = Buffer.from(toBinary(RunEventSchema, create(RunEventSchema, { seq: 1n, event: { case: 'log', value: { text: String(performance.now()) } } })));
  const runId = `raw-${Math.random()}`;
  const start = performance.now();
  for (let seq = 0; seq < rows; seq += 100) {
    const batch = Array.from({ length: 100 }, (_, i) => ({ run_id: runId, seq: String(seq + i + 1), kind: 'log', body }));
    await sql`insert into bench_events ${sql(batch, 'run_id', 'seq', 'kind', 'body')}`;
  }
  const perSecond = rows / ((performance.now() - start) / 1000);
  await sql.end({ timeout: 1 });
  return perSecond;
}

export const eventsBenchmark: Benchmark = {
  name: 'events',
  description: 'run events stored and delivered: one agent, then 50 at once, against raw multi-row inserts',
  async run() {
    const stack = await startStack(1);
    try {
      const one = { rate: [] as number[], p99: [] as number[], rss: [] as number[] };
      const fifty = { rate: [] as number[], p99: [] as number[], rss: [] as number[] };
      const raw: number[] = [];
      for (let rep = 0; rep < REPETITIONS; rep++) {
        const single = await stream(stack, 1, 20_000);
        one.rate.push(single.perSecond);
        one.p99.push(single.p99);
        one.rss.push(single.rssMb);
        const many = await stream(stack, 50, 1_000);
        fifty.rate.push(many.perSecond);
        fifty.p99.push(many.p99);
        fifty.rss.push(many.rssMb);
        raw.push(await rawInserts(stack.databaseUrl, 20_000));
      }
      const baseline = { name: 'raw 100-row inserts', samples: raw };
      const figures: Figure[] = [
        { name: '1 agent: events stored and delivered', unit: 'events/s', samples: one.rate, baseline, target: '≥ 0.5× raw' },
        { name: '1 agent: delivery latency p99', unit: 'ms', samples: one.p99 },
        { name: '1 agent: peak extra RSS', unit: 'MB', samples: one.rss },
        { name: '50 agents: events stored and delivered', unit: 'events/s', samples: fifty.rate, baseline, target: '≥ 0.5× raw' },
        { name: '50 agents: delivery latency p99', unit: 'ms', samples: fifty.p99 },
        { name: '50 agents: peak extra RSS', unit: 'MB', samples: fifty.rss },
      ];
      return figures;
    } finally {
      await stack.stop();
    }
  },
};
