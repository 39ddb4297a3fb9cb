/**
 * Postgres restarts under load: two replicas on one database (and one registry backend), runs
 * streaming through real linkd on each, the database restarted cleanly (`-m fast`) and as after a
 * crash (`-m immediate`). No replica dies, every event is stored once, and watchers on both
 * replicas see every event of every run. The database is a cluster of this suite's own.
 */
import assert from 'node:assert/strict';
import postgres from 'postgres';
import { MemoryBackend, MemoryRegistry } from '../control-plane/registry/memory.js';
import { RunStatus, type RunEvent } from '../gen/link/v1/run_pb.js';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { freshDatabase, startRestartablePostgres, type RestartablePostgres } from './helpers/postgres.js';
import { spawnLinkd, type TestProcess } from './helpers/processes.js';
import { collect, threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

const LINES = 150;

describe('a Postgres restart while runs stream on two replicas', () => {
  let pg: RestartablePostgres;
  const replicas: TestServer[] = [];
  const agents: TestProcess[] = [];

  beforeEach(async () => {
    pg = await startRestartablePostgres();
    const backend = new MemoryBackend();
    for (const id of ['a', 'b']) {
      replicas.push(
        await startTestServer({
          databaseUrl: pg.url,
          registry: new MemoryRegistry(`replica-${id}`, backend),
          heartbeatIntervalMs: 300,
          linkLostGraceMs: 60_000,
        }),
      );
    }
    // One machine on each replica.
    for (const replica of replicas) {
      agents.push(spawnLinkd(['start', '--server', replica.grpcUrl, '--token-file', replica.linkTokenFile, '--data-dir', await tempDir('linkd-')]));
      const watch = new LinkWatch(linkClient(replica.grpcUrl, replica.userToken));
      try {
        await watch.online(replica.link.id, 20_000);
      } finally {
        await watch.close();
      }
    }
  });

  afterEach(async () => {
    for (const agent of agents.splice(0)) await agent.stop();
    closeClients();
    // Every replica is closed and the cluster stopped even when a close finds something left open.
    const closed = await Promise.allSettled(replicas.splice(0).map((replica) => replica.close()));
    await pg.stop();
    for (const result of closed) if (result.status === 'rejected') throw result.reason;
  });

  for (const mode of ['fast', 'immediate'] as const) {
    it(`pg_ctl restart -m ${mode}: no replica dies, every event is stored once and every watcher sees it`, async function () {
      this.timeout(120_000);
      const runs: { runId: string; watchers: Promise<RunEvent[]>[] }[] = [];
      for (const replica of replicas) {
        const threads = threadClient(replica.grpcUrl, replica.userToken);
        const { thread } = await threads.createThread({});
        const { runId } = await threads.sendMessage({
          threadId: thread!.id,
          text: `for i in $(seq 1 ${LINES}); do echo "line $i"; sleep 0.03; done`,
          harness: 'shell',
          linkId: replica.link.id,
        });
        // Watched from both replicas.
        runs.push({ runId, watchers: replicas.map((r) => collect(threadClient(r.grpcUrl, r.userToken), runId, 0n, 100_000)) });
      }
      // Restart while both runs are streaming.
      await firstLines(replicas[0], runs.map((r) => r.runId));
      await pg.restart(mode);

      for (const { runId, watchers } of runs) {
        for (const [i, watching] of watchers.entries()) {
          const events = await watching;
          assert.deepEqual(events.map((e) => e.seq), events.map((_, n) => BigInt(n + 1)), `replica ${i}: seqs 1..n, no gap, no repeat`);
          const texts = events.flatMap((e) => (e.event.case === 'log' ? [e.event.value.text] : []));
          assert.deepEqual(texts, Array.from({ length: LINES }, (_, n) => `line ${n + 1}`), `replica ${i}: every line once, in order`);
          const done = events.at(-1)!;
          assert.equal(done.event.case === 'done' && done.event.value.status, RunStatus.COMPLETED, JSON.stringify(done.event.value));
        }
        // Stored once: one row per seq, as many rows as events.
        const sql = postgres(pg.url, { max: 1, onnotice: () => undefined });
        try {
          const [stored] = await sql`select count(*)::int as n, count(distinct seq)::int as distinct_seqs, max(seq)::int as top from run_events where run_id = ${runId}`;
          assert.equal(stored.n, stored.top);
          assert.equal(stored.distinct_seqs, stored.n);
          assert.equal(stored.n, (await watchers[0]).length);
        } finally {
          await sql.end({ timeout: 1 });
        }
      }
      // Both replicas are alive and serving.
      for (const replica of replicas) {
        const { links } = await linkClient(replica.grpcUrl, replica.userToken).listLinks({});
        assert.ok(links.length >= 2);
      }
    });
  }
});

describe('a database connection that dies mid-transaction', () => {
  it('fails the transaction with CONNECTION_CLOSED and leaves the process running (postgres.js nextWrite patch)', async () => {
    const url = await freshDatabase();
    const sql = postgres(url, { max: 2, onnotice: () => undefined });
    const killer = postgres(url, { max: 1, onnotice: () => undefined });
    try {
      let backend: number | undefined;
      const transaction = sql.begin(async (tx) => {
        backend = (await tx<{ pid: number }[]>`select pg_backend_pid() as pid`)[0].pid;
        await tx`select pg_sleep(5)`;
      });
      while (backend === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
      await killer`select pg_terminate_backend(${backend})`;
      // Unpatched, the transaction's own ROLLBACK is written to the closed socket from a
      // setImmediate: an uncaught TypeError, which fails this test (and would end a replica).
      const error = await transaction.then(() => undefined, (e: { code?: string }) => e);
      assert.equal(error?.code, 'CONNECTION_CLOSED');
      const [{ ok }] = await sql<{ ok: number }[]>`select 1 as ok`;
      assert.equal(ok, 1, 'the pool serves again');
    } finally {
      await sql.end({ timeout: 1 });
      await killer.end({ timeout: 1 });
    }
  });
});

/** Resolves once every run has stored some of its lines (the restart then lands mid-stream). */
async function firstLines(replica: TestServer, runIds: string[]): Promise<void> {
  const threads = threadClient(replica.grpcUrl, replica.userToken);
  await Promise.all(
    runIds.map(async (runId) => {
      let lines = 0;
      for await (const { event } of threads.watchRun({ runId }, { timeoutMs: 30_000 })) {
        if (event?.event.case === 'log' && ++lines >= 10) return;
      }
    }),
  );
}
