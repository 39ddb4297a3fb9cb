/**
 * NOTIFY fan-out, simulated: every replica LISTENs on `run_event`, so each stored event batch is
 * delivered to every replica — O(replicas). Here 1, then 10, then 50 listening connections stand in
 * for the replicas of a large deployment; one writer commits announcements of the size the store
 * sends (a batch of small events carried in the payload) as fast as it can. Measured: announcements
 * committed per second, and delivery p99 at the listeners. Baseline, in the same run: the same
 * commits with nobody listening.
 */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { createLogger } from '../common/log.js';
import { startEmbeddedPostgres } from '../control-plane/store/embedded.js';
import { percentile } from './cluster.js';
import { REPETITIONS, type Benchmark, type Figure } from './lib.js';

const ANNOUNCEMENTS = Number(process.env.LINK_BENCH_NOTIFY_COUNT ?? 2_000);
const LISTENERS = (process.env.LINK_BENCH_NOTIFY_LISTENERS ?? '1,10,50').split(',').map(Number);
/** About what a batch of ten short log lines makes as a `run_event` payload. */
const PAYLOAD = JSON.stringify({ runId: 'run_0123456789abcdef', seq: '10', origin: 'x'.repeat(36), events: Array.from({ length: 10 }, () => 'A'.repeat(60)), at: 0 });

async function announce(url: string, listeners: number): Promise<{ perSecond: number; p99: number }> {
  const conns = Array.from({ length: listeners }, () => postgres(url, { max: 1, onnotice: () => undefined }));
  const lags: number[] = [];
  let heard = 0;
  let allHeard!: () => void;
  const done = new Promise<void>((resolve) => (allHeard = resolve));
  for (const sql of conns) {
    await sql.listen('bench_fanout', (payload) => {
      lags.push(performance.now() - Number(payload.slice(0, payload.indexOf(' '))));
      if (++heard === listeners * ANNOUNCEMENTS) allHeard();
    });
  }
  const writer = postgres(url, { max: 1, onnotice: () => undefined });
  const start = performance.now();
  for (let i = 0; i < ANNOUNCEMENTS; i++) await writer`select pg_notify('bench_fanout', ${`${performance.now()} ${PAYLOAD}`})`;
  const perSecond = ANNOUNCEMENTS / ((performance.now() - start) / 1000);
  if (listeners > 0) await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 60_000))]);
  await writer.end({ timeout: 1 });
  await Promise.all(conns.map((sql) => sql.end({ timeout: 1 })));
  return { perSecond, p99: listeners > 0 ? percentile(lags, 99) : 0 };
}

export const notifyFanoutBenchmark: Benchmark = {
  name: 'notify-fanout',
  description: `NOTIFY of ${ANNOUNCEMENTS} run_event-sized announcements to ${LISTENERS.join(', ')} listening connections (standing in for replicas)`,
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'link-bench-notify-'));
    const database = await startEmbeddedPostgres(dir, createLogger({ name: 'bench', level: 'silent' }), { settings: { max_connections: '200' } });
    try {
      const base: number[] = [];
      const by = new Map<number, { rate: number[]; p99: number[] }>(LISTENERS.map((n) => [n, { rate: [], p99: [] }]));
      for (let rep = 0; rep < REPETITIONS; rep++) {
        base.push((await announce(database.url, 0)).perSecond);
        for (const n of LISTENERS) {
          const { perSecond, p99 } = await announce(database.url, n);
          by.get(n)!.rate.push(perSecond);
          by.get(n)!.p99.push(p99);
        }
      }
      const baseline = { name: 'nobody listening', samples: base };
      return LISTENERS.flatMap((n): Figure[] => [
        { name: `${n} listeners: announcements committed`, unit: '/s', samples: by.get(n)!.rate, baseline },
        { name: `${n} listeners: delivery p99`, unit: 'ms', samples: by.get(n)!.p99 },
      ]);
    } finally {
      await database.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
