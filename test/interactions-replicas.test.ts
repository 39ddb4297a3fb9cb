/**
 * Interactive runs across replicas: real link-server processes on one Postgres and one etcd, the
 * machine a fake agent speaking the real protocol. The first answer wins wherever it is given, the
 * machine gets exactly that one, and an answer survives the death of the replica holding the session.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fromJsonString } from '@bufbuild/protobuf';
import { createLogger } from '../common/log.js';
import { errorMetadataOf, reasonOf } from '../common/errors.js';
import { writeFileAtomically } from '../common/files.js';
import { PostgresStore } from '../control-plane/store/postgres.js';
import { InteractionAnswerSchema, InteractionDecision, InteractionState, RunState } from '../gen/link/v1/run_pb.js';
import { LinkState } from '../gen/link/v1/types_pb.js';
import { closeClients, ConnectError, linkClient, LinkWatch } from './helpers/clients.js';
import { startEtcd, type TestEtcd } from './helpers/etcd.js';
import { FakeAgent } from './helpers/fake-agent.js';
import { InteractionWatch } from './helpers/interaction-watch.js';
import { migratedDatabase } from './helpers/postgres.js';
import { repoRoot, type TestProcess } from './helpers/processes.js';
import { threadClient } from './helpers/runs.js';
import { startServerProcess, TEST_KEY_SECRET } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

interface Replica {
  id: string;
  process: TestProcess;
  grpcUrl: string;
}

describe('interactive runs across replicas', function () {
  this.timeout(120_000);
  let etcd: TestEtcd;
  let databaseUrl: string;
  let store: PostgresStore;
  let userToken: string;
  let userName: string;
  let userId: string;
  let keyFile: string;
  const replicas: Replica[] = [];
  const agents: FakeAgent[] = [];
  const watches: { close(): Promise<void> }[] = [];

  beforeEach(async () => {
    etcd = await startEtcd();
    databaseUrl = await migratedDatabase();
    store = await PostgresStore.open({ url: databaseUrl, migrationsDir: join(repoRoot, 'sql'), log: createLogger({ name: 't', level: 'silent' }), max: 2 });
    keyFile = join(await tempDir('keys-'), 'signing.secret');
    await writeFileAtomically(keyFile, `${TEST_KEY_SECRET.toString('base64')}\n`);
    await store.unlockDispatchKeys(TEST_KEY_SECRET);
    const created = (await store.createUser('alice'))!;
    ({ token: userToken } = created);
    ({ id: userId, name: userName } = created.user);
  });

  afterEach(async () => {
    for (const w of watches.splice(0)) await w.close();
    for (const a of agents.splice(0)) await a.close();
    closeClients();
    for (const r of replicas.splice(0)) await r.process.stop();
    await store.close();
    await etcd.stop();
  });

  async function startReplica(id: string, extra: string[] = []): Promise<Replica> {
    const { process: child, grpcPort } = await startServerProcess(
      [
        '--etcd', etcd.endpoint,
        '--database-url', databaseUrl,
        '--replica-id', id,
        '--key-file', keyFile,
        '--lease-ttl', '3',
        '--keepalive-time', '1000',
        '--keepalive-timeout', '1000',
        '--heartbeat-interval', '300',
        '--drain-grace', '1000',
        '--link-lost-grace', '60000',
        ...extra,
      ],
      `link-server ${id}`,
    );
    const replica = { id, process: child, grpcUrl: `http://127.0.0.1:${grpcPort}` };
    replicas.push(replica);
    return replica;
  }

  /** A link of alice's with a fake agent on `replica`, and a run of a new thread on it, started. */
  async function runOn(replica: Replica, sendVia: Replica) {
    const { link, token } = await store.createLink(userId, `machine-${replicas.length}-${agents.length}`);
    const agent = new FakeAgent(token);
    agents.push(agent);
    const session = await agent.connect(replica.grpcUrl);
    const linkWatch = new LinkWatch(linkClient(sendVia.grpcUrl, userToken));
    watches.push(linkWatch);
    await linkWatch.until(link.id, (l) => l.state === LinkState.ONLINE && l.replicaId === replica.id, `online on ${replica.id}`);
    const threads = threadClient(sendVia.grpcUrl, userToken);
    const { thread } = await threads.createThread({});
    const { runId } = await threads.sendMessage({ threadId: thread!.id, text: 'work', harness: 'claude-code', linkId: link.id });
    await session.takeRun();
    return { agent, session, runId, threadId: thread!.id, linkId: link.id };
  }

  function watchOn(replica: Replica): InteractionWatch {
    const w = new InteractionWatch(threadClient(replica.grpcUrl, userToken));
    watches.push(w);
    return w;
  }

  it('two answers at once through two replicas: exactly one wins, the other is ALREADY_ANSWERED with it, and the machine gets exactly one answer', async () => {
    const [a, b] = [await startReplica('a'), await startReplica('b')];
    const onB = watchOn(b);
    await onB.snapshot();
    const { agent, session, runId } = await runOn(a, b);
    await session.askPermission(runId, 'race-1', 'npm publish');
    await onB.until((r) => r.interaction?.id === 'race-1' && r.state === InteractionState.PENDING, 'asked, on the other replica');

    const answers = await Promise.allSettled([
      threadClient(a.grpcUrl, userToken).answerInteraction({ runId, interactionId: 'race-1', decision: InteractionDecision.ALLOW, message: 'via a' }),
      threadClient(b.grpcUrl, userToken).answerInteraction({ runId, interactionId: 'race-1', decision: InteractionDecision.DENY, message: 'via b' }),
    ]);
    const won = answers.filter((r) => r.status === 'fulfilled');
    const lost = answers.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1, 'exactly one answer wins');
    assert.equal(lost.length, 1);
    const winner = won[0].value.interaction!.answer!;
    const refusal = ConnectError.from(lost[0].reason);
    assert.equal(reasonOf(refusal), 'ALREADY_ANSWERED');
    const shown = fromJsonString(InteractionAnswerSchema, errorMetadataOf(refusal)['interaction-answer']);
    assert.equal(shown.message, winner.message, 'the loser is shown the winning answer');
    assert.equal(shown.decision, winner.decision);
    assert.equal(shown.answeredBy, userName);

    const got = await session.answerTo('race-1');
    assert.equal(got.answer?.message, winner.message, 'the machine got the winning answer');
    await onB.until((r) => r.interaction?.id === 'race-1' && r.delivered, 'delivered');

    // Acknowledged: a new session (on the other replica) is not sent it again. Its first answer is
    // the next one asked; anything owed would have gone out ahead of it.
    await session.close();
    const again = await agent.connect(b.grpcUrl, [runId]);
    await again.askPermission(runId, 'race-2', 'npm test');
    await threadClient(a.grpcUrl, userToken).answerInteraction({ runId, interactionId: 'race-2', decision: InteractionDecision.ALLOW });
    await again.answerTo('race-2');
    assert.deepEqual(again.answers.map((x) => x.interactionId), ['race-2']);
    assert.deepEqual(agent.answers.map((x) => x.interactionId), ['race-1', 'race-2'], 'each answer reached the machine once');
  });

  it('the replica holding the session is killed while the run waits: the answer given on another replica reaches the machine when it reconnects there', async () => {
    const [a, b] = [await startReplica('a'), await startReplica('b')];
    const { agent, session, runId, threadId } = await runOn(a, b);
    await session.askPermission(runId, 'kill-1', 'git push');
    await a.process.stop('SIGKILL');
    const threadsOnB = threadClient(b.grpcUrl, userToken);
    await threadsOnB.answerInteraction({ runId, interactionId: 'kill-1', decision: InteractionDecision.ALLOW });

    await session.raw.end(15_000);
    const again = await agent.connect(b.grpcUrl, [runId]);
    const got = await again.answerTo('kill-1');
    assert.equal(got.answer?.decision, InteractionDecision.ALLOW);
    const { runs } = await threadsOnB.getThread({ threadId });
    assert.equal(runs[0].state, RunState.RUNNING, 'the run goes on');
    assert.deepEqual(agent.answers.map((x) => x.interactionId), ['kill-1']);
  });

  it('--approval-timeout denies a request nobody answers, and the denial reaches the machine like an answer', async () => {
    const a = await startReplica('a', ['--approval-timeout', '1s']);
    const watching = watchOn(a);
    await watching.snapshot();
    const { session, runId } = await runOn(a, a);
    await session.askPermission(runId, 'slow-1', 'make deploy');
    const asked = await watching.until((r) => r.interaction?.id === 'slow-1', 'asked');
    assert.ok(asked.deadline, 'the request shows when it will be denied');

    const got = await session.answerTo('slow-1', 20_000);
    assert.equal(got.answer?.decision, InteractionDecision.DENY);
    assert.equal(got.answer?.timedOut, true);
    assert.equal(got.answer?.answeredBy, 'approval timeout');
    const delivered = await watching.until((r) => r.interaction?.id === 'slow-1' && r.delivered, 'delivered');
    assert.equal(delivered.state, InteractionState.ANSWERED);
    const late = await threadClient(a.grpcUrl, userToken)
      .answerInteraction({ runId, interactionId: 'slow-1', decision: InteractionDecision.ALLOW })
      .then(() => undefined, (e: unknown) => ConnectError.from(e));
    assert.equal(reasonOf(late), 'ALREADY_ANSWERED', 'a person after the timeout sees its denial');
  });
});
