/**
 * Fan-out: one run watched by 1, 10 and 100 WatchRun clients spread over two replicas (the agent on
 * replica A, so half the watchers are handed events from memory and half from the NOTIFY payload).
 * The agent (a load process, batches of up to 512, 8,192 unacknowledged) streams as fast as it is
 * acknowledged; each watcher checks it saw every event once, in order. Measured: events per second
 * delivered to all watchers together, and delivery p99. Baseline, in the same run: the same run with
 * one watcher (the events/s a single reader gets).
 */
import type { Client } from '@connectrpc/connect';
import type { ThreadService } from '../gen/link/v1/thread_service_pb.js';
import type { TestProcess } from '../test/helpers/processes.js';
import { percentile, startCluster, startLoad } from './cluster.js';
import { REPETITIONS, type Benchmark, type Figure } from './lib.js';

const EVENTS = Number(process.env.LINK_BENCH_FANOUT_EVENTS ?? 5_000);
const WATCHERS = (process.env.LINK_BENCH_FANOUT_WATCHERS ?? '1,10,100').split(',').map(Number);

async function watch(threads: Client<typeof ThreadService>, runId: string, latencies: number[]): Promise<void> {
  let expected = 1n;
  for await (const { events } of threads.watchRun({ runId, batched: true })) for (const event of events) {
    if (event.seq !== expected) throw new Error(`run ${runId}: got seq ${event.seq}, expected ${expected}`);
    expected++;
    if (event.event.case === 'log') latencies.push(Number(process.hrtime.bigint() - BigInt(event.event.value.text)) / 1e6);
  }
  if (expected !== BigInt(EVENTS) + 1n) throw new Error(`run ${runId}: ended after ${expected - 1n} of ${EVENTS} events`);
}

export const fanOutBenchmark: Benchmark = {
  name: 'fan-out',
  description: `one run of ${EVENTS} events watched by ${WATCHERS.join(', ')} WatchRun clients over two replicas`,
  async run() {
    const cluster = await startCluster(2);
    let load: TestProcess | undefined;
    try {
      const links = await cluster.createLinks(1, 'fan');
      load = await startLoad('one streaming agent', ['stream', cluster.replicas[0].grpcUrl, links.tokensFile, '0:1', String(EVENTS)], 60_000);
      const clients = [cluster.threads(0), cluster.threads(1)];
      const by = new Map<number, { rate: number[]; p99: number[] }>(WATCHERS.map((n) => [n, { rate: [], p99: [] }]));
      for (let rep = 0; rep < REPETITIONS; rep++) {
        for (const n of WATCHERS) {
          const { thread } = await clients[1].createThread({});
          const latencies: number[] = [];
          const start = performance.now();
          // The run is sent from replica B; the watchers start at once, before its first event.
          const { runId } = await clients[1].sendMessage({ threadId: thread!.id, text: 'stream', harness: 'shell', linkId: links.ids[0] });
          await Promise.all(Array.from({ length: n }, (_, i) => watch(clients[i % 2], runId, latencies)));
          const seconds = (performance.now() - start) / 1000;
          by.get(n)!.rate.push((n * EVENTS) / seconds);
          by.get(n)!.p99.push(percentile(latencies, 99));
        }
      }
      const one = by.get(WATCHERS[0])!;
      const baseline = { name: `${WATCHERS[0]} watcher`, samples: one.rate };
      return WATCHERS.flatMap((n): Figure[] => [
        { name: `${n} watchers: events/s delivered, all together`, unit: 'events/s', samples: by.get(n)!.rate, baseline },
        { name: `${n} watchers: delivery p99`, unit: 'ms', samples: by.get(n)!.p99 },
      ]);
    } finally {
      await load?.stop('SIGTERM', 15_000);
      await cluster.stop();
    }
  },
};
