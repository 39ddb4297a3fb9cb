/**
 * Messages sent while a thread's run is in progress are queued, not refused: they wait, can be
 * edited or withdrawn until they start (through the API and linkctl), and start in order as the
 * next runs when the run ends, resuming the thread's session. A real link-server and a real linkd,
 * with the shell harness and the real Claude Code CLI against the project's fake model API.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { reasonOf } from '../common/errors.js';
import { InteractionDecision, MessageState, PermissionMode, RunStatus } from '../gen/link/v1/run_pb.js';
import { ConnectError } from './helpers/clients.js';
import { startHarnessStack, type HarnessStack } from './helpers/harness-clis.js';
import { collect, eventsOf as of, eventUntil, messageUntil, threadClient } from './helpers/runs.js';
import { repoRoot, spawnTracked } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

function refusal(promise: Promise<unknown>): Promise<ConnectError> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e) => ConnectError.from(e),
  );
}

describe('queued messages', function () {
  let stack: HarnessStack;

  before(async () => {
    stack = await startHarnessStack({ harnesses: ['claude-code', 'shell'] });
  });

  after(async () => {
    await stack?.stop();
  });

  const threads = () => threadClient(stack.env.grpcUrl, stack.env.userToken);

  async function linkctl(...args: string[]) {
    const child = spawnTracked('linkctl', process.execPath, [join(repoRoot, 'bin', 'linkctl.js'), '--server', stack.env.grpcUrl, '--token', stack.env.userToken, ...args]);
    const { code } = await child.waitForExit(30_000);
    return { code, output: child.output };
  }
  const logs = (events: Awaited<ReturnType<typeof collect>>) => of(events, 'log').map((l) => l.text);

  it('a message sent during a run is queued, edited or withdrawn while it waits, and the queue runs in order after the run', async () => {
    const client = threads();
    const gate = join(await tempDir('queue-gate-'), 'go');
    const { thread } = await client.createThread({});
    const threadId = thread!.id;
    const first = await client.sendMessage({ threadId, text: `echo waiting; while [ ! -e ${gate} ]; do sleep 0.05; done; echo first`, harness: 'shell', linkId: stack.env.link.id });
    await eventUntil(client, first.runId, (e) => e.event.case === 'log' && e.event.value.text === 'waiting');

    const second = await client.sendMessage({ threadId, text: 'echo second' });
    assert.equal(second.message?.state, MessageState.QUEUED, 'queued behind the run, not THREAD_BUSY');
    assert.equal(second.runId, '', 'no run while it waits');
    assert.equal(second.linkOnline, true);
    const third = await client.sendMessage({ threadId, text: 'echo third-as-sent' });
    const edited = await client.updateQueuedMessage({ messageId: third.messageId, text: 'echo third-as-edited' });
    assert.equal(edited.message?.text, 'echo third-as-edited');
    assert.equal(edited.message?.state, MessageState.QUEUED);
    // From linkctl: send says it waits, and withdraw takes it back.
    const sentByCli = await linkctl('send', threadId, 'echo withdrawn-one', '--expires', '2h');
    assert.equal(sentByCli.code, 0, sentByCli.output);
    assert.match(sentByCli.output, /queued \(runs after the current run\) \(expires /);
    const fourth = { messageId: /message (msg_\S+)/.exec(sentByCli.output)![1] };
    const withdrawn = await linkctl('messages', 'withdraw', fourth.messageId, '--json');
    assert.equal(withdrawn.code, 0, withdrawn.output);
    assert.match(withdrawn.output, /"state": "MESSAGE_STATE_WITHDRAWN"/);
    assert.equal(reasonOf(await refusal(client.updateQueuedMessage({ messageId: fourth.messageId, text: 'echo again' }))), 'MESSAGE_STARTED', 'a withdrawn message is not edited');
    assert.equal(reasonOf(await refusal(client.withdrawMessage({ messageId: 'msg_nope' }))), 'MESSAGE_NOT_FOUND');

    const waiting = await client.getThread({ threadId });
    assert.equal(waiting.thread?.queuedMessages, 2, 'two wait (the withdrawn one does not)');
    assert.deepEqual(waiting.messages.map((m) => m.state), [MessageState.SENT, MessageState.QUEUED, MessageState.QUEUED, MessageState.WITHDRAWN]);
    assert.ok(waiting.messages[1].expiresAt, 'a queued message shows when it expires');

    await writeFile(gate, '');
    assert.deepEqual(logs(await collect(client, first.runId)), ['waiting', 'first']);
    const started = await messageUntil(client, threadId, second.messageId, (m) => m.state === MessageState.SENT, 'started as the next run');
    assert.ok(started.runId);
    assert.equal(reasonOf(await refusal(client.updateQueuedMessage({ messageId: second.messageId, text: 'echo too late' }))), 'MESSAGE_STARTED');
    assert.equal(reasonOf(await refusal(client.withdrawMessage({ messageId: second.messageId }))), 'MESSAGE_STARTED');
    assert.deepEqual(logs(await collect(client, started.runId)), ['second']);
    const next = await messageUntil(client, threadId, third.messageId, (m) => m.state === MessageState.SENT, 'started after the second');
    assert.deepEqual(logs(await collect(client, next.runId)), ['third-as-edited'], 'the edited text is what ran');

    const { runs, messages, thread: after } = await client.getThread({ threadId });
    assert.equal(runs.length, 3, 'the withdrawn message never ran');
    assert.equal(messages.find((m) => m.id === fourth.messageId)?.state, MessageState.WITHDRAWN);
    assert.equal(after?.queuedMessages, 0);
  });

  it('Claude Code: a message queued while the turn waits for the user runs after the turn, in the same session', async () => {
    const client = threads();
    const dir = await tempDir('queue-claude-');
    const { thread } = await client.createThread({});
    const threadId = thread!.id;
    const first = await client.sendMessage({
      threadId, text: `make a file\nRUN touch ${join(dir, 'made')}`, harness: 'claude-code', linkId: stack.env.link.id, permissionMode: PermissionMode.ASK,
    });
    const asked = await eventUntil(client, first.runId, (e) => e.event.case === 'interaction', 120_000);
    const queued = await client.sendMessage({ threadId, text: 'and now say hello' });
    assert.equal(queued.message?.state, MessageState.QUEUED);
    assert.equal(asked.event.case, 'interaction');
    if (asked.event.case !== 'interaction') return;
    await client.answerInteraction({ runId: first.runId, interactionId: asked.event.value.id, decision: InteractionDecision.ALLOW });
    const firstEvents = await collect(client, first.runId, 0n, 120_000);
    assert.equal(of(firstEvents, 'done')[0].status, RunStatus.COMPLETED);
    assert.ok(existsSync(join(dir, 'made')), 'the first turn finished its work');

    const started = await messageUntil(client, threadId, queued.messageId, (m) => m.state === MessageState.SENT, 'started after the turn');
    const events = await collect(client, started.runId, 0n, 120_000);
    assert.equal(of(events, 'started')[0].sessionId, of(firstEvents, 'started')[0].sessionId, 'the queued message resumed the session');
    assert.match(of(events, 'text').map((t) => t.text).join(''), /turn 2/, 'the model saw the earlier turn');
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });
});
