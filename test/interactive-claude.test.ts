/**
 * Interactive Claude Code runs through Link, end to end: a real link-server, a real linkd and the
 * real `claude` against the project's fake model API. What the CLI asks arrives as an interaction
 * event; the answer given with `ThreadService.AnswerInteraction` reaches the CLI on the machine.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  InteractionDecision,
  InteractionKind,
  InteractionScope,
  InteractionState,
  PermissionMode,
  RunStatus,
  type Interaction,
  type RunEvent,
} from '../gen/link/v1/run_pb.js';
import { startHarnessStack, type HarnessStack } from './helpers/harness-clis.js';
import { eventsOf as of, sandboxClient, threadClient } from './helpers/runs.js';
import type { TestServer } from './helpers/server.js';
import type { FakeModelServer } from './fake-model/server.js';

/** What the user answers (AnswerInteractionRequest without the ids). */
interface Answer {
  decision?: InteractionDecision;
  scope?: InteractionScope;
  answers?: { questionId: string; selected?: string[]; text?: string }[];
  message?: string;
}

describe('interactive Claude Code runs through Link', function () {
  let stack: HarnessStack;
  let env: TestServer;
  let fake: FakeModelServer;

  before(async () => {
    stack = await startHarnessStack({ harnesses: ['claude-code'] });
    ({ env, fake } = stack);
  });

  after(async () => {
    await stack?.stop();
  });

  const threads = () => threadClient(env.grpcUrl, env.userToken);
  const pinned = new Set<string>();

  /** A thread on the machine with a directory sandbox of its own; returns its id and path. */
  async function thread(branch: string): Promise<{ threadId: string; dir: string }> {
    const { sandbox } = await sandboxClient(env.grpcUrl, env.userToken).ensureSandbox({ linkId: env.link.id, provider: 'directory', branch });
    const { thread } = await threads().createThread({});
    return { threadId: thread!.id, dir: sandbox!.path };
  }

  /**
   * Sends a message and follows its run to the end, answering each interaction that waits for the
   * user with `answer` (through AnswerInteraction, as the page or linkctl would).
   */
  async function run(threadId: string, branch: string, text: string, permissionMode: PermissionMode, answer: (interaction: Interaction) => Answer): Promise<RunEvent[]> {
    const client = threads();
    // The first message pins the harness, machine and sandbox; later ones follow the pins.
    const pins = pinned.has(threadId) ? {} : { harness: 'claude-code', linkId: env.link.id, sandboxProvider: 'directory', branch };
    pinned.add(threadId);
    const { runId } = await client.sendMessage({ threadId, text, permissionMode, ...pins });
    const events: RunEvent[] = [];
    for await (const { event } of client.watchRun({ runId, afterSeq: 0n }, { timeoutMs: 120_000 })) {
      if (!event) continue;
      events.push(event);
      if (event.event.case === 'interaction' && !event.event.value.allowedBy) {
        await client.answerInteraction({ runId, interactionId: event.event.value.id, ...answer(event.event.value) });
      }
    }
    return events;
  }

  it('approve: the command runs in the sandbox, its file is there, and the run completes', async () => {
    const { threadId, dir } = await thread('approve');
    const events = await run(threadId, 'approve', 'make the file\nRUN echo approved > approved.txt', PermissionMode.ASK, () => ({ decision: InteractionDecision.ALLOW }));
    const [asked] = of(events, 'interaction');
    assert.equal(asked.kind, InteractionKind.PERMISSION);
    assert.equal(asked.command, 'echo approved > approved.txt');
    assert.equal(asked.cwd, dir);
    const [resolved] = of(events, 'interactionResolved');
    assert.equal(resolved.state, InteractionState.ANSWERED);
    assert.equal(resolved.answer?.decision, InteractionDecision.ALLOW);
    assert.ok(resolved.answer?.answeredBy, 'who answered is on the resolved card');
    assert.equal(await readFile(join(dir, 'approved.txt'), 'utf8'), 'approved\n');
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('deny: the CLI is told, goes on without running it, and the run completes', async () => {
    const { threadId, dir } = await thread('deny');
    const events = await run(threadId, 'deny', 'make the file\nRUN echo denied > denied.txt', PermissionMode.ASK, () => ({ decision: InteractionDecision.DENY, message: 'not on this machine' }));
    assert.equal(existsSync(join(dir, 'denied.txt')), false, 'the command did not run');
    assert.match(of(events, 'toolResult')[0].output, /not on this machine/);
    assert.match(of(events, 'text').map((t) => t.text).join(''), /Tool said: not on this machine/);
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('always: a second identical request in the thread is not asked, a different one is', async () => {
    const { threadId } = await thread('always');
    const first = await run(threadId, 'always', 'once\nRUN python3 -c "print(1)"', PermissionMode.EDITS, () => ({ decision: InteractionDecision.ALLOW, scope: InteractionScope.THREAD }));
    assert.deepEqual(of(first, 'interaction').map((i) => [i.command, i.suggestedRule?.commandPrefix]), [['python3 -c "print(1)"', 'python3']]);
    const asked: string[] = [];
    const second = await run(threadId, 'always', 'again\nRUN python3 -c "print(1)"\nRUN sh -c "echo other"', PermissionMode.EDITS, (i) => {
      asked.push(i.command);
      return { decision: InteractionDecision.ALLOW };
    });
    assert.deepEqual(asked, ['sh -c "echo other"'], 'only the request the rule does not cover was asked');
    assert.deepEqual(of(second, 'toolResult').map((r) => r.output), ['1', 'other']);
    assert.equal(of(second, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('cancel while it waits: the request is withdrawn everywhere and the run reads as cancelled, not as an error', async () => {
    const { threadId } = await thread('cancel');
    const client = threads();
    const { runId } = await client.sendMessage({ threadId, text: 'wait\nRUN python3 -c "print(1)"', harness: 'claude-code', linkId: env.link.id, sandboxProvider: 'directory', branch: 'cancel' });
    pinned.add(threadId);
    const events: RunEvent[] = [];
    for await (const { event } of client.watchRun({ runId, afterSeq: 0n }, { timeoutMs: 120_000 })) {
      if (!event) continue;
      events.push(event);
      if (event.event.case === 'interaction') await client.cancelRun({ runId });
    }
    const [asked] = of(events, 'interaction');
    assert.deepEqual(of(events, 'interactionResolved').map((r) => [r.interactionId, r.state]), [[asked.id, InteractionState.WITHDRAWN]]);
    assert.deepEqual(of(events, 'error'), [], 'no error event');
    assert.equal(of(events, 'done')[0].status, RunStatus.CANCELLED);
    const { interactions } = await client.listInteractions({ runId, includeResolved: true });
    assert.deepEqual(interactions.map((i) => i.state), [InteractionState.WITHDRAWN]);
  });

  it('question: the chosen option reaches the model', async () => {
    const { threadId } = await thread('question');
    const requests = fake.requests.length;
    const events = await run(threadId, 'question', 'choose\nASK Which colour should the button be? OPTIONS red|blue', PermissionMode.EDITS, (i) => ({
      answers: [{ questionId: i.questions[0].id, selected: ['blue'] }],
    }));
    const [asked] = of(events, 'interaction');
    assert.equal(asked.kind, InteractionKind.QUESTION);
    assert.deepEqual(asked.questions[0].options.map((o) => o.label), ['red', 'blue']);
    const sent = JSON.stringify(fake.requests.slice(requests).map((r) => r.body));
    assert.match(sent, /\\"Which colour should the button be\?\\"=\\"blue\\"/, 'the model got the answer');
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });
});
