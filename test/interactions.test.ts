/**
 * Interactive runs on one control plane: what a harness asks the user is stored, shown, answered
 * once, and reaches the machine signed until it acknowledges it. The machine is a fake agent
 * speaking the real protocol over HTTP/2 gRPC (test/helpers/fake-agent.ts); Postgres is real.
 */
import assert from 'node:assert/strict';
import type { Client } from '@connectrpc/connect';
import { fromJsonString } from '@bufbuild/protobuf';
import { errorMetadataOf, reasonOf } from '../common/errors.js';
import {
  InteractionAnswerSchema,
  InteractionDecision,
  InteractionScope,
  InteractionState,
  PermissionMode,
  MessageState,
  RunState,
  RunStatus,
} from '../gen/link/v1/run_pb.js';
import type { ThreadService } from '../gen/link/v1/thread_service_pb.js';
import { closeClients, ConnectError } from './helpers/clients.js';
import { FakeAgent } from './helpers/fake-agent.js';
import { InteractionWatch } from './helpers/interaction-watch.js';
import { collect, threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

function refusal(promise: Promise<unknown>): Promise<ConnectError> {
  return promise.then(
    () => {
      throw new Error('expected the call to be refused');
    },
    (e) => ConnectError.from(e),
  );
}

describe('interactive runs', () => {
  let env: TestServer;
  let threads: Client<typeof ThreadService>;
  let agent: FakeAgent;
  const watches: InteractionWatch[] = [];

  beforeEach(async () => {
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    threads = threadClient(env.grpcUrl, env.userToken);
    agent = new FakeAgent(env.linkToken);
  });

  afterEach(async () => {
    for (const w of watches.splice(0)) await w.close();
    await agent.close();
    closeClients();
    await env.close();
  });

  function watch(): InteractionWatch {
    const w = new InteractionWatch(threads);
    watches.push(w);
    return w;
  }

  /** A thread whose run is on the fake agent, started; returns its ids and the payload it came with. */
  async function startRun(extra: { permissionMode?: PermissionMode; confirmAuto?: boolean; threadId?: string } = {}) {
    const session = agent.session ?? (await agent.connect(env.grpcUrl));
    const threadId = extra.threadId ?? (await threads.createThread({})).thread!.id;
    const { runId } = await threads.sendMessage({ threadId, text: 'do it', harness: 'claude-code', linkId: env.link.id, permissionMode: extra.permissionMode, confirmAuto: extra.confirmAuto });
    const dispatched = await session.takeRun();
    assert.equal(dispatched.runId, runId);
    return { threadId, runId, session, payload: dispatched.payload };
  }

  async function runState(threadId: string, runId: string) {
    const { runs, thread } = await threads.getThread({ threadId });
    return { run: runs.find((r) => r.id === runId)!, thread: thread! };
  }

  it('a permission request makes the run WAITING and is listed and watched; the answer reaches the machine signed, is acknowledged, and the run runs again', async () => {
    const watching = watch();
    await watching.snapshot();
    const { threadId, runId, session } = await startRun();
    await session.askPermission(runId, 'req-1', 'npm test');

    const waiting = await runState(threadId, runId);
    assert.equal(waiting.run.state, RunState.WAITING);
    assert.equal(waiting.run.pendingInteractions, 1);
    assert.equal(waiting.thread.pendingInteractions, 1);
    assert.equal((await threads.listRuns({ threadId })).runs[0].state, RunState.WAITING);
    const asked = await watching.until((r) => r.interaction?.id === 'req-1' && r.state === InteractionState.PENDING, 'asked');
    assert.equal(asked.interaction?.command, 'npm test');
    assert.equal(asked.runId, runId);
    assert.equal(asked.threadId, threadId);
    const { interactions: pending } = await threads.listInteractions({});
    assert.deepEqual(pending.map((p) => p.interaction?.id), ['req-1']);

    const { interaction: answered } = await threads.answerInteraction({ runId, interactionId: 'req-1', decision: InteractionDecision.ALLOW });
    assert.equal(answered?.state, InteractionState.ANSWERED);
    assert.equal(answered?.answer?.answeredBy, env.user.name);
    assert.ok(answered?.answer?.answeredAt, 'when it was answered');
    const got = await session.answerTo('req-1');
    assert.equal(got.runId, runId);
    assert.equal(got.answer?.decision, InteractionDecision.ALLOW);
    assert.equal(got.answer?.answeredBy, env.user.name);
    assert.equal(session.badAnswers.length, 0, 'every answer is signed by the control plane');

    await watching.until((r) => r.interaction?.id === 'req-1' && r.state === InteractionState.ANSWERED, 'answered');
    await watching.until((r) => r.interaction?.id === 'req-1' && r.delivered, 'delivered');
    const running = await runState(threadId, runId);
    assert.equal(running.run.state, RunState.RUNNING);
    assert.equal(running.run.pendingInteractions, 0);
    assert.equal(running.thread.pendingInteractions, 0);
    assert.deepEqual((await threads.listInteractions({})).interactions, [], 'nothing pending any more');
    const all = (await threads.listInteractions({ includeResolved: true })).interactions;
    assert.equal(all.length, 1);
    assert.equal(all[0].delivered, true);

    // The event that asked is in the run for every viewer.
    await session.finish(runId);
    const events = await collect(threads, runId);
    assert.ok(events.some((e) => e.event.case === 'interaction' && e.event.value.id === 'req-1'));
    assert.equal(session.answers.length, 1, 'the machine got the answer once');
  });

  it("a thread's own approval timeout denies a request nobody answers (the server has none)", async () => {
    const { thread } = await threads.createThread({});
    // The thread's setting, as UpdateThread writes it.
    await env.store.connection`update threads set approval_timeout_seconds = 1 where id = ${thread!.id}`;
    const next = await startRun({ threadId: thread!.id });
    await next.session.askPermission(next.runId, 'slow-1', 'make deploy');
    const [listed] = (await threads.listInteractions({ runId: next.runId })).interactions;
    assert.ok(listed.deadline, 'it shows when it will be denied');
    const got = await next.session.answerTo('slow-1');
    assert.equal(got.answer?.decision, InteractionDecision.DENY);
    assert.equal(got.answer?.timedOut, true);
    assert.equal(got.answer?.answeredBy, 'approval timeout');
  });

  it('a second message while the run waits for the user is queued, not refused', async () => {
    const { threadId, runId, session } = await startRun();
    await session.askPermission(runId, 'busy-1', 'git push');
    assert.equal((await runState(threadId, runId)).run.state, RunState.WAITING);
    const queued = await threads.sendMessage({ threadId, text: 'again' });
    assert.equal(queued.message?.state, MessageState.QUEUED);
    assert.equal(queued.runId, '');
    await threads.withdrawMessage({ messageId: queued.messageId });
  });

  it('an answer given while the machine was away reaches it after it reconnects', async () => {
    const watching = watch();
    await watching.snapshot();
    const { runId, session } = await startRun();
    await session.askPermission(runId, 'away-1', 'npm install');
    await session.close();
    await threads.answerInteraction({ runId, interactionId: 'away-1', decision: InteractionDecision.DENY, message: 'not now' });

    const again = await agent.connect(env.grpcUrl, [runId]);
    const got = await again.answerTo('away-1');
    assert.equal(got.answer?.decision, InteractionDecision.DENY);
    assert.equal(got.answer?.message, 'not now');
    await watching.until((r) => r.interaction?.id === 'away-1' && r.delivered, 'delivered');
    assert.equal(agent.answers.length, 1, 'one answer, on the session after the reconnect');
  });

  it('a second answer is ALREADY_ANSWERED with the winning answer; a missing or another user\'s interaction is INTERACTION_NOT_FOUND', async () => {
    const { runId, session } = await startRun();
    await session.askPermission(runId, 'twice-1', 'make');
    await threads.answerInteraction({ runId, interactionId: 'twice-1', decision: InteractionDecision.DENY, message: 'first' });
    const late = await refusal(threads.answerInteraction({ runId, interactionId: 'twice-1', decision: InteractionDecision.ALLOW }));
    assert.equal(reasonOf(late), 'ALREADY_ANSWERED');
    const winner = fromJsonString(InteractionAnswerSchema, errorMetadataOf(late)['interaction-answer']);
    assert.equal(winner.decision, InteractionDecision.DENY);
    assert.equal(winner.message, 'first');
    assert.equal(winner.answeredBy, env.user.name);

    const missing = await refusal(threads.answerInteraction({ runId, interactionId: 'nope', decision: InteractionDecision.ALLOW }));
    assert.equal(reasonOf(missing), 'INTERACTION_NOT_FOUND');
    const mallory = (await env.store.createUser('mallory'))!;
    const theirs = threadClient(env.grpcUrl, mallory.token);
    const stranger = await refusal(theirs.answerInteraction({ runId, interactionId: 'twice-1', decision: InteractionDecision.ALLOW }));
    assert.equal(reasonOf(stranger), 'INTERACTION_NOT_FOUND');
    assert.deepEqual((await theirs.listInteractions({ includeResolved: true })).interactions, []);
  });

  it('an answer that does not fit the request is INVALID_FIELD: a permission needs ALLOW or DENY, "always" goes only with ALLOW', async () => {
    const { runId, session } = await startRun();
    await session.askPermission(runId, 'fit-1', 'ls');
    const none = await refusal(threads.answerInteraction({ runId, interactionId: 'fit-1' }));
    assert.equal(reasonOf(none), 'INVALID_FIELD');
    assert.equal(errorMetadataOf(none).field, 'decision');
    const alwaysDeny = await refusal(threads.answerInteraction({ runId, interactionId: 'fit-1', decision: InteractionDecision.DENY, scope: InteractionScope.THREAD }));
    assert.equal(errorMetadataOf(alwaysDeny).field, 'scope');
    assert.equal((await threads.listInteractions({})).interactions.length, 1, 'still pending');
  });

  it('an answer after the run ended is RUN_FINISHED, and the run\'s end closes what was pending', async () => {
    const watching = watch();
    await watching.snapshot();
    const { threadId, runId, session } = await startRun();
    await session.askPermission(runId, 'end-1', 'rm -rf build');
    await session.finish(runId);
    await watching.until((r) => r.interaction?.id === 'end-1' && r.state === InteractionState.CLOSED, 'closed');
    const late = await refusal(threads.answerInteraction({ runId, interactionId: 'end-1', decision: InteractionDecision.ALLOW }));
    assert.equal(reasonOf(late), 'RUN_FINISHED');
    assert.equal((await runState(threadId, runId)).run.state, RunState.COMPLETED);
  });

  it('a request the CLI withdraws is INTERACTION_WITHDRAWN, and the run runs again', async () => {
    const { threadId, runId, session } = await startRun();
    await session.askPermission(runId, 'gone-1', 'curl example.com');
    await session.emit(runId, { case: 'interactionResolved', value: { interactionId: 'gone-1', state: InteractionState.WITHDRAWN } });
    const late = await refusal(threads.answerInteraction({ runId, interactionId: 'gone-1', decision: InteractionDecision.ALLOW }));
    assert.equal(reasonOf(late), 'INTERACTION_WITHDRAWN');
    assert.equal((await runState(threadId, runId)).run.state, RunState.RUNNING);
  });

  it('cancel while the run waits reaches the machine, and the run\'s end closes the pending request', async () => {
    const { threadId, runId, session } = await startRun();
    await session.askPermission(runId, 'stop-1', 'sleep 1000');
    const { state } = await threads.cancelRun({ runId });
    assert.equal(state, RunState.WAITING);
    await session.cancelled(runId);
    await session.emit(runId, { case: 'done', value: { status: RunStatus.CANCELLED, failureReason: 'CANCELLED', exitCode: -1 } });
    const { interactions } = await threads.listInteractions({ includeResolved: true, runId });
    assert.equal(interactions[0].state, InteractionState.CLOSED);
    assert.equal((await runState(threadId, runId)).run.state, RunState.CANCELLED);
    // The thread is free again.
    await threads.sendMessage({ threadId, text: 'next' });
  });

  it('"always allow in this thread" adds the request\'s rule: the next run of the thread is dispatched with it, and with its permission mode', async () => {
    const { threadId, runId, session, payload } = await startRun({ permissionMode: PermissionMode.ASK });
    assert.equal(payload.permissionMode, PermissionMode.ASK);
    assert.deepEqual(payload.allowRules, []);
    await session.askPermission(runId, 'rule-1', 'npm test -- --watch');
    await threads.answerInteraction({ runId, interactionId: 'rule-1', decision: InteractionDecision.ALLOW, scope: InteractionScope.THREAD });
    await session.answerTo('rule-1');
    await session.finish(runId);

    const next = await startRun({ threadId });
    assert.equal(next.payload.permissionMode, PermissionMode.EDITS, 'the default');
    assert.deepEqual(next.payload.allowRules.map((r) => [r.tool, r.commandPrefix]), [['Bash', 'npm test']]);
    const { messages } = await threads.getThread({ threadId });
    assert.deepEqual(messages.map((m) => m.permissionMode), [PermissionMode.ASK, PermissionMode.EDITS]);
  });

  it('AUTO outside a bwrap sandbox needs confirm_auto (AUTO_NEEDS_CONFIRMATION); confirmed, the run gets it', async () => {
    await agent.connect(env.grpcUrl);
    const { thread } = await threads.createThread({});
    const refused = await refusal(threads.sendMessage({ threadId: thread!.id, text: 'go', harness: 'claude-code', linkId: env.link.id, permissionMode: PermissionMode.AUTO }));
    assert.equal(reasonOf(refused), 'AUTO_NEEDS_CONFIRMATION');
    const { payload } = await startRun({ threadId: thread!.id, permissionMode: PermissionMode.AUTO, confirmAuto: true });
    assert.equal(payload.permissionMode, PermissionMode.AUTO);
  });
});
