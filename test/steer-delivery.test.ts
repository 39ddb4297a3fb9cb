/**
 * Steered messages and interrupts on their way to the machine, played by a fake agent over the
 * real protocol against a real control plane and Postgres: a SignedSteer (checked under the
 * `link-steer-v1` domain) is sent until the machine acknowledges it, again on a new session; the
 * machine's `steered` event makes the message STEERED; one it did not apply, or that never reached
 * the turn before the run ended, goes back to QUEUED. An interrupt is sent as CancelRun{interrupt},
 * again after a reconnect; a queued run is cancelled at once, a finished one is RUN_NOT_RUNNING.
 */
import assert from 'node:assert/strict';
import { fromBinary } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { reasonOf } from '../common/errors.js';
import { ed25519PublicKey, verifyDispatch } from '../common/dispatch.js';
import { Reason } from '../common/reasons.js';
import { SteerPayloadSchema, type ConnectResponse, type SteerPayload } from '../gen/link/v1/link_service_pb.js';
import { MessageDelivery, MessageState, RunState } from '../gen/link/v1/run_pb.js';
import { closeClients } from './helpers/clients.js';
import { FakeAgent, type AgentSession } from './helpers/fake-agent.js';
import { threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('steered messages and interrupts on their way to the machine', function () {
  this.timeout(60_000);
  let env: TestServer;
  let agent: FakeAgent;

  before(async () => {
    env = await startTestServer({ heartbeatIntervalMs: 300 });
    agent = new FakeAgent(env.linkToken);
  });

  after(async () => {
    await agent?.close();
    closeClients();
    await env?.close();
  });

  const threads = () => threadClient(env.grpcUrl, env.userToken);

  /** The SignedSteer frames of `session` so far, each checked against the key its Welcome announced. */
  function steers(session: AgentSession): SteerPayload[] {
    const welcome = session.raw.received.find((r) => r.frame.case === 'welcome');
    const key = welcome?.frame.case === 'welcome' ? ed25519PublicKey(welcome.frame.value.dispatchPublicKey) : undefined;
    return session.raw.received.flatMap((r: ConnectResponse) => {
      if (r.frame.case !== 'steer') return [];
      const s = r.frame.value;
      const fields = { runId: s.runId, linkId: s.linkId, sessionEpoch: s.sessionEpoch, issuedAtMs: s.issuedAtMs, nonce: s.nonce, payload: s.steer };
      assert.ok(key && verifyDispatch(fields, s.signature, key, 'steer'), 'signed by the control plane for steer');
      assert.ok(!verifyDispatch(fields, s.signature, key, 'answer'), 'and for nothing else');
      assert.equal(s.sessionEpoch, session.epoch, 'for this session');
      return [fromBinary(SteerPayloadSchema, s.steer)];
    });
  }

  const stateOf = async (threadId: string, messageId: string) => (await threads().getThread({ threadId })).messages.find((m) => m.id === messageId)?.state;
  async function until<T>(what: string, find: () => Promise<T | undefined> | T | undefined): Promise<T> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const found = await find();
      if (found !== undefined && found !== false) return found;
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const ack = (session: AgentSession, runId: string, messageId: string, applied: boolean, reason = '') =>
    session.raw.send({ frame: { case: 'steerAck', value: { runId, messageId, applied, reason } } });

  it('sends a steer until it is acknowledged (again on a new session); steered, or back to the queue when not applied or when the run ends first', async () => {
    let session = await agent.connect(env.grpcUrl);
    const { thread } = await threads().createThread({});
    const threadId = thread!.id;
    const { runId } = await threads().sendMessage({ threadId, text: 'work', harness: 'claude-code', linkId: env.link.id });
    await session.takeRun();

    // Not acknowledged: the next session is sent it again, after its Welcome.
    const first = await threads().sendMessage({ threadId, text: 'also this', delivery: MessageDelivery.NOW });
    assert.equal(first.runId, '');
    assert.equal(await stateOf(threadId, first.messageId), MessageState.STEERING);
    await until('the steer', () => steers(session).find((s) => s.messageId === first.messageId));
    await session.close();
    session = await agent.connect(env.grpcUrl, [runId]);
    const again = await until('the steer again', () => steers(session).find((s) => s.messageId === first.messageId));
    assert.deepEqual([again.runId, again.text], [runId, 'also this']);
    // The machine could not take it: it waits for the turn's end.
    ack(session, runId, first.messageId, false, Reason.RunFinished);
    await until('back in the queue', async () => (await stateOf(threadId, first.messageId)) === MessageState.QUEUED);

    // Taken: its `steered` event makes it STEERED; the ack only stops the resends.
    const second = await threads().sendMessage({ threadId, text: 'and that', delivery: MessageDelivery.NOW });
    await until('the second steer', () => steers(session).find((s) => s.messageId === second.messageId));
    await session.emit(runId, { case: 'steered', value: { messageId: second.messageId, text: 'and that' } });
    assert.equal(await stateOf(threadId, second.messageId), MessageState.STEERED);
    ack(session, runId, second.messageId, true);

    // Never acknowledged, and the run ends: it goes back to the queue, to run after the turn.
    const third = await threads().sendMessage({ threadId, text: 'one more', delivery: MessageDelivery.NOW });
    await until('the third steer', () => steers(session).find((s) => s.messageId === third.messageId));
    await session.finish(runId);
    assert.equal(await stateOf(threadId, third.messageId), MessageState.QUEUED);
    assert.equal(await stateOf(threadId, second.messageId), MessageState.STEERED, 'what was steered stays steered');
    await session.close();
  });

  it('interrupts a run on the machine with CancelRun{interrupt}, again after a reconnect; a queued one is cancelled at once, a finished one is RUN_NOT_RUNNING', async () => {
    let session = await agent.connect(env.grpcUrl);
    const { thread } = await threads().createThread({});
    const { runId } = await threads().sendMessage({ threadId: thread!.id, text: 'work', harness: 'claude-code', linkId: env.link.id });
    await session.takeRun();
    // The machine runs one at a time: another thread's run waits in the queue, and is cancelled at once.
    const { thread: other } = await threads().createThread({});
    const queued = await threads().sendMessage({ threadId: other!.id, text: 'later', harness: 'claude-code', linkId: env.link.id });
    assert.equal((await threads().interruptRun({ runId: queued.runId })).state, RunState.CANCELLED);
    await threads().interruptRun({ runId });
    const sent = await session.cancelled(runId);
    assert.equal(sent.frame.case === 'cancelRun' && sent.frame.value.interrupt, true);
    await session.close();
    session = await agent.connect(env.grpcUrl, [runId]);
    const resent = await session.cancelled(runId);
    assert.equal(resent.frame.case === 'cancelRun' && resent.frame.value.interrupt, true, 'still an interrupt, not a cancel');
    await session.finish(runId);
    await assert.rejects(threads().interruptRun({ runId }), (error: unknown) => reasonOf(error) === Reason.RunNotRunning && ConnectError.from(error).code === Code.FailedPrecondition);
    await session.close();
  });
});
