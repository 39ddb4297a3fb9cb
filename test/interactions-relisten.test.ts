/**
 * Interactions while the replica's LISTEN connection is down: an answer given then is not heard as
 * a notification, yet it reaches the machine once the replica listens again, and an open
 * WatchInteractions shows what changed meanwhile (real Postgres; the listening backend is killed).
 */
import assert from 'node:assert/strict';
import type { Sql } from 'postgres';
import { InteractionDecision, InteractionState } from '../gen/link/v1/run_pb.js';
import { closeClients } from './helpers/clients.js';
import { FakeAgent } from './helpers/fake-agent.js';
import { InteractionWatch } from './helpers/interaction-watch.js';
import { threadClient } from './helpers/runs.js';
import { DatabaseAdmin } from './helpers/postgres.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('interactions while LISTEN was down', () => {
  let env: TestServer | undefined;
  let agent: FakeAgent | undefined;
  let watch: InteractionWatch | undefined;
  let admin: DatabaseAdmin | undefined;

  afterEach(async () => {
    await watch?.close();
    await agent?.close();
    await admin?.end();
    admin = undefined;
    closeClients();
    await env?.close();
    env = undefined;
  });

  /** Holds `server`'s LISTEN down while `act` runs (the test's own connection is `admin.sql`). */
  const whileNotListening = (server: TestServer, act: (sql: Sql) => Promise<void>) => (admin ??= new DatabaseAdmin(server.databaseUrl)).whileNotListening(act);

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


});
