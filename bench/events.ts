/**
 * Event throughput: agents in a load process stream run events as fast as the control plane
 * acknowledges them (through linkd's own outbox and its pace: one batch in flight, the window of
 * what waits behind it sized to the store's pace) to one link-server process; the events are stored in Postgres and delivered to a
 * WatchRun client here. One agent, then 50 at once. Every watcher checks it saw each event exactly
 * once, in order. Then agents that print at a steady pace (as CLIs do while they work), where what
 * counts is how far behind the watcher is and what each event costs the server; the batches each
 * group commit stored are read from the replica's metrics. Baseline, in the same run: raw
 * multi-row inserts (100 rows) of the same rows into the same Postgres.
 */
import postgres from 'postgres';
import { create, toBinary } from '@bufbuild/protobuf';
import { RunEventSchema } from '../gen/link/v1/run_pb.js';
import type { TestProcess } from '../test/helpers/processes.js';
import { cpuMs, percentile, rssKb, startCluster, startLoad, type Cluster } from './cluster.js';
import { REPETITIONS, type Benchmark, type Figure } from './lib.js';

// LINK_BENCH_EVENTS=one,many,each: a reduced size on a busy machine (default 20000,50,1000).
const [ONE_AGENT_EVENTS, MANY, MANY_EVENTS_EACH] = (process.env.LINK_BENCH_EVENTS ?? '20000,50,1000').split(',').map(Number);
// LINK_BENCH_EVENTS_STEADY=agents,per-second,seconds: agents printing at a steady pace (default 20,500,4).
const [STEADY, STEADY_RATE, STEADY_SECONDS] = (process.env.LINK_BENCH_EVENTS_STEADY ?? '20,500,4').split(',').map(Number);

/** The replica's group commits so far (`link_server_event_batches_per_commit`): batches and commits. */
async function groupCommits(httpUrl: string): Promise<{ batches: number; commits: number }> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { batches: value('link_server_event_batches_per_commit_sum'), commits: value('link_server_event_batches_per_commit_count') };
}

/** Sends one message to each link and follows every run to its end; events/s over all of them. */
async function stream(cluster: Cluster, linkIds: string[], eventsEach: number): Promise<{ perSecond: number; storedPerSecond: number; p99: number; rssMb: number; cpuPerThousand: number }> {
  const threads = cluster.threads(0);
  const server = cluster.replicas[0].process.child.pid!;
  const latencies: number[] = [];
  const rssBefore = rssKb(server);
  let peakRss = rssBefore;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssKb(server))), 100);
  const runIds: string[] = [];
  const cpuBefore = cpuMs(server);
  const start = performance.now();
  const startedAt = Date.now();
  try {
    await Promise.all(
      linkIds.map(async (linkId) => {
        const { thread } = await threads.createThread({});
        const { runId } = await threads.sendMessage({ threadId: thread!.id, text: 'stream', harness: 'shell', linkId });
        runIds.push(runId);
        let expected = 1n;
        for await (const { events } of threads.watchRun({ runId, batched: true })) for (const event of events) {
          if (event.seq !== expected) throw new Error(`run ${runId}: got seq ${event.seq}, expected ${expected} (lost or duplicated)`);
          expected++;
          // The agent wrote its hrtime into the text (a monotonic clock shared by the processes).
          if (event.event.case === 'log') latencies.push(Number(process.hrtime.bigint() - BigInt(event.event.value.text)) / 1e6);
        }
        if (expected !== BigInt(eventsEach) + 1n) throw new Error(`run ${runId}: ended after ${expected - 1n} of ${eventsEach} events`);
      }),
    );
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - start) / 1000;
  const cpuPerThousand = (cpuMs(server) - cpuBefore) / ((linkIds.length * eventsEach) / 1000);
  // Stored: until the last run's `done` committed (its row's finished_at, the same machine's clock).
  const [{ last }] = await cluster.store.connection<{ last: number }[]>`
    select (extract(epoch from max(finished_at)) * 1000)::float8 as last from runs where id = any(${runIds}::text[])`;
  const storedSeconds = (last - startedAt) / 1000;
  return { perSecond: (linkIds.length * eventsEach) / seconds, storedPerSecond: (linkIds.length * eventsEach) / storedSeconds, p99: percentile(latencies, 99), rssMb: (peakRss - rssBefore) / 1024, cpuPerThousand };
}

async function rawInserts(url: string, rows: number): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  await sql`create table if not exists bench_events (run_id text not null, seq bigint not null, kind text not null, body bytea not null, primary key (run_id, seq))`;
  const body = Buffer.from(toBinary(RunEventSchema, create(RunEventSchema, { seq: 1n, event: { case: 'log', value: { text: String(process.hrtime.bigint()) } } })));
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
  description: `run events stored and delivered: one agent, then ${MANY} at once, then ${STEADY} printing ${STEADY_RATE} a second each (agents in a load process), against raw multi-row inserts`,
  async run() {
    const cluster = await startCluster(1);
    const loads: TestProcess[] = [];
    try {
      const one = await cluster.createLinks(1, 'one');
      const many = await cluster.createLinks(MANY, 'many');
      const server = cluster.replicas[0].grpcUrl;
      loads.push(await startLoad('one streaming agent', ['stream', server, one.tokensFile, '0:1', String(ONE_AGENT_EVENTS)], 60_000));
      loads.push(await startLoad(`${MANY} streaming agents`, ['stream', server, many.tokensFile, `0:${MANY}`, String(MANY_EVENTS_EACH)], 60_000));
      const steadyLinks = await cluster.createLinks(STEADY, 'steady');
      const steadyEach = STEADY_RATE * STEADY_SECONDS;
      loads.push(await startLoad(`${STEADY} steady agents`, ['stream', server, steadyLinks.tokensFile, `0:${STEADY}`, String(steadyEach), String(STEADY_RATE)], 60_000));
      const steady = { p99: [] as number[], cpu: [] as number[], perCommit: [] as number[] };
      const single = { rate: [] as number[], stored: [] as number[], p99: [] as number[], rss: [] as number[], cpu: [] as number[] };
      const fifty = { rate: [] as number[], stored: [] as number[], p99: [] as number[], rss: [] as number[], cpu: [] as number[] };
      const raw: number[] = [];
      for (let rep = 0; rep < REPETITIONS; rep++) {
        const a = await stream(cluster, one.ids, ONE_AGENT_EVENTS);
        single.rate.push(a.perSecond);
        single.stored.push(a.storedPerSecond);
        single.p99.push(a.p99);
        single.rss.push(a.rssMb);
        single.cpu.push(a.cpuPerThousand);
        const b = await stream(cluster, many.ids, MANY_EVENTS_EACH);
        fifty.rate.push(b.perSecond);
        fifty.stored.push(b.storedPerSecond);
        fifty.p99.push(b.p99);
        fifty.rss.push(b.rssMb);
        fifty.cpu.push(b.cpuPerThousand);
        const before = await groupCommits(cluster.replicas[0].httpUrl);
        const c = await stream(cluster, steadyLinks.ids, steadyEach);
        const after = await groupCommits(cluster.replicas[0].httpUrl);
        steady.p99.push(c.p99);
        steady.cpu.push(c.cpuPerThousand);
        steady.perCommit.push(after.commits > before.commits ? (after.batches - before.batches) / (after.commits - before.commits) : 0);
        raw.push(await rawInserts(cluster.databaseUrl, ONE_AGENT_EVENTS));
      }
      const baseline = { name: 'raw 100-row inserts', samples: raw };
      const figures: Figure[] = [
        { name: '1 agent: events stored and delivered', unit: 'events/s', samples: single.rate, baseline, target: '≥ 0.5× raw' },
        { name: '1 agent: events stored (to the last commit)', unit: 'events/s', samples: single.stored, baseline },
        { name: '1 agent: delivery latency p99', unit: 'ms', samples: single.p99 },
        { name: '1 agent: server peak extra RSS', unit: 'MB', samples: single.rss },
        { name: '1 agent: server CPU per 1,000 events', unit: 'ms', samples: single.cpu },
        { name: `${MANY} agents: events stored and delivered`, unit: 'events/s', samples: fifty.rate, baseline, target: '≥ 0.5× raw' },
        { name: `${MANY} agents: events stored (to the last commit)`, unit: 'events/s', samples: fifty.stored, baseline },
        { name: `${MANY} agents: delivery latency p99`, unit: 'ms', samples: fifty.p99 },
        { name: `${MANY} agents: server peak extra RSS`, unit: 'MB', samples: fifty.rss },
        { name: `${MANY} agents: server CPU per 1,000 events`, unit: 'ms', samples: fifty.cpu },
        { name: `${STEADY} agents at ${STEADY_RATE}/s each: delivery latency p99`, unit: 'ms', samples: steady.p99 },
        { name: `${STEADY} agents at ${STEADY_RATE}/s each: server CPU per 1,000 events`, unit: 'ms', samples: steady.cpu },
        { name: `${STEADY} agents at ${STEADY_RATE}/s each: batches per group commit`, unit: 'batches', samples: steady.perCommit },
      ];
      return figures;
    } finally {
      await Promise.all(loads.map((l) => l.stop('SIGTERM', 15_000)));
      await cluster.stop();
    }
  },
};
