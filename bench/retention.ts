/**
 * Table growth and event retention: how much Postgres a thousand runs take, and what
 * `--retain-events` gives back. Each run is a real Claude Code run with a tool call (the captured
 * `claude-tool-write` output of the CLI, replayed through linkd's own parser, so each event holds
 * what linkd stores: the normalized event and the CLI's raw line), written into a real embedded
 * Postgres in batches as the control plane writes them. Figures: bytes per run in `runs` +
 * `run_events` (+ their indexes), the time to prune a thousand runs, and the bytes a pruned run
 * keeps. Baseline, in the same run: the same rows' raw bytes (the sum of the serialized events).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, toBinary } from '@bufbuild/protobuf';
import postgres from 'postgres';
import { claudeParser } from '../agent/harnesses/claude-code.js';
import type { EventInit } from '../agent/runs/outbox.js';
import { createLogger } from '../common/log.js';
import { EventRetention } from '../control-plane/runs/event-retention.js';
import { startEmbeddedPostgres } from '../control-plane/store/embedded.js';
import { PostgresStore } from '../control-plane/store/postgres.js';
import { RunEventSchema } from '../gen/link/v1/run_pb.js';
import { REPETITIONS, type Benchmark, type Figure } from './lib.js';

const RUNS = 1_000;
const root = resolve(fileURLToPath(import.meta.url), '..', '..');

/** The serialized events of one captured Claude Code run with a tool call. */
function capturedRun(): Buffer[] {
  const dir = join(root, 'test', 'fixtures', 'harness-clis');
  const parser = claudeParser('/home/run/project');
  const events: EventInit[] = [];
  for (const line of readFileSync(join(dir, 'claude-tool-write.jsonl'), 'utf8').split('\n')) if (line) events.push(...parser.line(line, 'stdout'));
  events.push(...parser.finish({ code: 0, signal: null, cancelled: false, reason: '', killed: [] }));
  return events.map((e, i) => Buffer.from(toBinary(RunEventSchema, create(RunEventSchema, { ...(e as object), seq: BigInt(i + 1) }))));
}

async function tableBytes(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ bytes: string }[]>`select (pg_total_relation_size('runs') + pg_total_relation_size('run_events'))::text as bytes`;
  return Number(row.bytes);
}

async function once(sql: postgres.Sql, store: PostgresStore, events: Buffer[]): Promise<{ perRun: number; pruneMs: number; keptPerRun: number }> {
  await sql`truncate runs cascade`;
  await sql`vacuum full runs`;
  await sql`vacuum full run_events`;
  const empty = await tableBytes(sql);
  const user = await store.localUser();
  const { link } = await store.createLink(user.id, `bench-${Math.random().toString(36).slice(2)}`);
  const [thread] = await sql<{ id: string }[]>`insert into threads (id, user_id, title) values (${`thr_${Date.now()}`}, ${user.id}, 'bench') returning id`;
  for (let start = 0; start < RUNS; start += 100) {
    await sql.begin(async (tx) => {
      const ids = Array.from({ length: Math.min(100, RUNS - start) }, (_, i) => `run_bench_${start + i}`);
      await tx`insert into runs ${tx(ids.map((id) => ({ id, thread_id: thread.id, user_id: user.id, link_id: link.id, harness: 'claude-code', prompt: 'write a file', state: 'completed', last_seq: String(events.length), finished_at: new Date(Date.now() - 2 * 86_400_000) })))}`;
      const rows = ids.flatMap((run_id) => events.map((body, i) => ({ run_id, seq: String(i + 1), kind: i === events.length - 1 ? 'done' : 'event', body })));
      for (let i = 0; i < rows.length; i += 2_000) await tx`insert into run_events ${tx(rows.slice(i, i + 2_000))}`;
    });
  }
  await sql`analyze runs`;
  await sql`analyze run_events`;
  const full = await tableBytes(sql);
  const retention = new EventRetention(sql, { retainMs: 86_400_000 }, createLogger({ name: 'bench', level: 'silent' }));
  const started = performance.now();
  await retention.pruneDue();
  const pruneMs = performance.now() - started;
  await sql`vacuum full runs`;
  await sql`vacuum full run_events`;
  const kept = await tableBytes(sql);
  return { perRun: (full - empty) / RUNS, pruneMs, keptPerRun: (kept - empty) / RUNS };
}

export const retentionBenchmark: Benchmark = {
  name: 'retention',
  description: `Postgres bytes per run (${RUNS} captured Claude Code runs) and what --retain-events gives back`,
  async run(): Promise<Figure[]> {
    const dir = await mkdtemp(join(tmpdir(), 'link-bench-retention-'));
    const log = createLogger({ name: 'bench', level: 'warn' });
    const database = await startEmbeddedPostgres(dir, log);
    const store = await PostgresStore.open({ url: database.url, migrationsDir: join(root, 'sql'), log, max: 4 });
    const sql = postgres(database.url, { max: 4, onnotice: () => undefined });
    try {
      const events = capturedRun();
      const raw = events.reduce((sum, body) => sum + body.length, 0);
      const samples = { perRun: [] as number[], pruneMs: [] as number[], kept: [] as number[] };
      for (let i = 0; i < REPETITIONS; i++) {
        const result = await once(sql, store, events);
        samples.perRun.push(result.perRun / 1024);
        samples.pruneMs.push(result.pruneMs);
        samples.kept.push(result.keptPerRun / 1024);
      }
      const rawKb = Array.from({ length: REPETITIONS }, () => raw / 1024);
      return [
        { name: `runs + run_events per run (${events.length} events, indexes included)`, unit: 'KiB', samples: samples.perRun, baseline: { name: 'the serialized events alone', samples: rawKb } },
        { name: `prune ${RUNS} finished runs (--retain-events)`, unit: 'ms', samples: samples.pruneMs },
        { name: 'what a pruned run keeps (its row and done)', unit: 'KiB', samples: samples.kept, baseline: { name: 'before pruning', samples: samples.perRun } },
      ];
    } finally {
      await sql.end();
      await store.close();
      await database.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
