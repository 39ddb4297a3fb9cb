/**
 * Interactions while the replica's LISTEN connection is down: an answer given then is not heard as
 * a notification, yet it reaches the machine once the replica listens again, and an open
 * WatchInteractions shows what changed meanwhile (real Postgres; the listening backend is killed).
 */
import assert from 'node:assert/strict';
import postgres, { type Sql } from 'postgres';
import { InteractionDecision, InteractionState } from '../gen/link/v1/run_pb.js';
import { closeClients } from './helpers/clients.js';
import { FakeAgent } from './helpers/fake-agent.js';
import { InteractionWatch } from './helpers/interaction-watch.js';
import { threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('interactions while LISTEN was down', () => {
  let env: TestServer | undefined;
  let agent: FakeAgent | undefined;
  let watch: InteractionWatch | undefined;
  let admin: Sql | undefined;
  let cluster: Sql | undefined;

  afterEach(async () => {
    await watch?.close();
    await agent?.close();
    for (const sql of [admin, cluster]) await sql?.end({ timeout: 1 });
    admin = cluster = undefined;
    closeClients();
    await env?.close();
    env = undefined;
  });

  it('an answer given while the replica does not listen reaches the machine once it listens again, and the watch shows it', async function () {
    this.timeout(60_000);
    env = await startTestServer({ heartbeatIntervalMs: 300 });
    const threads = threadClient(env.grpcUrl, env.userToken);
    agent = new FakeAgent(env.linkToken);
    const session = await agent.connect(env.grpcUrl);
    watch = new InteractionWatch(threads);
    await watch.snapshot();
    const { thread } = await threads.createThread({});
    const { runId } = await threads.sendMessage({ threadId: thread!.id, text: 'work', harness: 'claude-code', linkId: env.link.id });
    await session.takeRun();
    await session.askPermission(runId, 'deaf-1', 'npm ci');
    await watch.until((r) => r.interaction?.id === 'deaf-1', 'asked');

    await whileNotListening(env, async () => {
      // The API's own connections are open already; only the LISTEN connection cannot come back.
      await threads.answerInteraction({ runId, interactionId: 'deaf-1', decision: InteractionDecision.ALLOW });
    });
    const got = await session.answerTo('deaf-1');
    assert.equal(got.answer?.decision, InteractionDecision.ALLOW);
    await watch.until((r) => r.interaction?.id === 'deaf-1' && r.state === InteractionState.ANSWERED, 'answered');
    await watch.until((r) => r.interaction?.id === 'deaf-1' && r.delivered, 'delivered');
    assert.equal(session.answers.length, 1, 'the machine got it once');
  });

  /**
   * Kills this replica's listening backend and keeps it from listening again (its database takes
   * no new connections; those already open go on) while `act` runs; then lets it connect again.
   */
  async function whileNotListening(server: TestServer, act: () => Promise<void>): Promise<void> {
    admin ??= postgres(server.databaseUrl, { max: 1, onnotice: () => undefined });
    await admin`select 1`;
    const database = new URL(server.databaseUrl).pathname.slice(1);
    const clusterUrl = new URL(server.databaseUrl);
    clusterUrl.pathname = '/postgres';
    cluster ??= postgres(clusterUrl.toString(), { max: 1, onnotice: () => undefined });
    await cluster.unsafe(`alter database "${database}" allow_connections false`);
    try {
      const killed = await admin<{ pid: number }[]>`
        select pid from pg_stat_activity, pg_terminate_backend(pid)
        where datname = current_database() and pid <> pg_backend_pid() and query ilike 'listen %'`;
      assert.ok(killed.length > 0, 'the listening backend was found');
      await until(async () => (await admin!`select 1 from pg_stat_activity where pid = any(${killed.map((k) => k.pid)})`).length === 0, 'the backend is gone');
      await act();
    } finally {
      await cluster.unsafe(`alter database "${database}" allow_connections true`);
    }
  }
});
