/**
 * Event retention (`--retain-events`): the events of runs finished before the retention are
 * deleted in small batches, keeping each run's row and its `done`; unfinished runs are never
 * touched, however old.
 */
import assert from 'node:assert/strict';
import type { Client } from '@connectrpc/connect';
import postgres from 'postgres';
import { createLogger } from '../common/log.js';
import { EventRetention } from '../control-plane/runs/event-retention.js';
import { RunState, RunStatus } from '../gen/link/v1/run_pb.js';
import { ThreadService } from '../gen/link/v1/thread_service_pb.js';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { spawnLinkd, type TestProcess } from './helpers/processes.js';
import { collect, threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

const DAY_MS = 86_400_000;

describe('event retention', () => {
  let env: TestServer;
  let agent: TestProcess | undefined;
  let threads: Client<typeof ThreadService>;
  let sql: postgres.Sql;

  async function start(options: Parameters<typeof startTestServer>[0] = {}) {
    env = await startTestServer(options);
    threads = threadClient(env.grpcUrl, env.userToken);
    sql = postgres(env.databaseUrl, { max: 1, onnotice: () => undefined });
    agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-')]);
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      await watch.online(env.link.id);
    } finally {
      await watch.close();
    }
  }

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    closeClients();
    await sql?.end();
    await env?.close();
  });

  async function finishedRun(text: string): Promise<string> {
    const { thread } = await threads.createThread({});
    const { runId } = await threads.sendMessage({ threadId: thread!.id, text, harness: 'shell', linkId: env.link.id });
    await collect(threads, runId);
    return runId;
  }

  const eventCount = async (runId: string) => Number((await sql`select count(*)::int as n from run_events where run_id = ${runId}`)[0].n);

  async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('removes the events of runs finished before the retention, keeps their outcome, spares recent and unfinished runs', async () => {
    await start({ retainEventsMs: DAY_MS, retentionIntervalMs: 100 });
    const old = await finishedRun('for i in 1 2 3 4 5; do echo line $i; done');
    const recent = await finishedRun('echo still here');
    const { thread } = await threads.createThread({});
    const { runId: running } = await threads.sendMessage({ threadId: thread!.id, text: 'echo waiting; sleep 60', harness: 'shell', linkId: env.link.id });
    await until(async () => (await eventCount(running)) >= 2, 'the long run has printed');
    const recentBefore = await eventCount(recent);
    const runningBefore = await eventCount(running);
    assert.ok((await eventCount(old)) > 5, 'the old run has its lines stored');

    // Age the runs as if time had passed: one finished two days ago, one unfinished started three days ago.
    await sql`update runs set finished_at = now() - interval '2 days' where id = ${old}`;
    await sql`update runs set created_at = now() - interval '3 days', started_at = now() - interval '3 days' where id = ${running}`;

    await until(async () => (await eventCount(old)) === 1, 'the old run keeps only its done event');
    const replay = await collect(threads, old);
    assert.deepEqual(replay.map((e) => e.event.case), ['done'], 'WatchRun replays the outcome and ends');
    assert.equal(replay[0].event.case === 'done' && replay[0].event.value.status, RunStatus.COMPLETED);
    const { runs } = await threads.listRuns({});
    assert.equal(runs.find((r) => r.id === old)?.state, RunState.COMPLETED, 'the run itself stays, with its state');

    assert.equal(await eventCount(recent), recentBefore, 'a run finished within the retention keeps every event');
    assert.ok((await eventCount(running)) >= runningBefore, 'an unfinished run keeps every event, however old');
    await threads.cancelRun({ runId: running });
    await collect(threads, running);
  });

  it('deletes a large run in many short statements and marks it pruned only when done', async () => {
    await start();
    const big = await finishedRun('seq 1 300');
    const before = await eventCount(big);
    assert.ok(before > 300, `every line is an event (${before})`);
    await sql`update runs set finished_at = now() - interval '2 days' where id = ${big}`;
    const retention = new EventRetention(sql, { retainMs: DAY_MS, eventsPerStatement: 40, runsPerBatch: 1 }, createLogger({ name: 'test', level: 'silent' }));
    const result = await retention.pruneDue();
    assert.equal(result.runs, 1);
    assert.equal(result.events, before - 1, 'every event but done was deleted');
    assert.equal(await eventCount(big), 1);
    const [row] = await sql`select events_pruned_at from runs where id = ${big}`;
    assert.ok(row.events_pruned_at, 'the run is marked pruned');
    assert.deepEqual(await retention.pruneDue(), { runs: 0, events: 0 }, 'a second pass finds nothing to do');
  });
});
