/**
 * Interactive Gemini CLI runs through Link: the real CLI (`gemini --acp`), run by a real linkd,
 * against the fake model server; its permission requests are answered with
 * `ThreadService.AnswerInteraction`, as the page and linkctl do. Allowed, the command runs; denied,
 * it does not and the run still completes; "always allow in this thread" lets the same command
 * through in the thread's next run without asking, while a different one is asked.
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
  RunStatus,
  type Interaction,
  type RunEvent,
} from '../gen/link/v1/run_pb.js';
import { startHarnessStack, type HarnessStack } from './helpers/harness-clis.js';
import { eventsOf as of, sandboxClient, threadClient } from './helpers/runs.js';
import type { TestServer } from './helpers/server.js';

/** How the test answers a request that waits for the user. */
type Answer = { decision: InteractionDecision; scope?: InteractionScope };

describe('interactive Gemini CLI runs through Link', function () {
  let stack: HarnessStack;
  let env: TestServer;

  before(async () => {
    stack = await startHarnessStack({ harnesses: ['gemini'], linkdArgs: ['--repository-schemes', 'https,ssh,file'] });
    env = stack.env;
  });

  after(async () => {
    await stack?.stop();
  });

  const threads = () => threadClient(env.grpcUrl, env.userToken);

  /** A thread pinned to gemini in a directory sandbox of its own (so the test knows where commands run). */
  async function geminiThread(branch: string): Promise<{ threadId: string; dir: string }> {
    const { sandbox } = await sandboxClient(env.grpcUrl, env.userToken).ensureSandbox({ linkId: env.link.id, provider: 'directory', branch });
    const { thread } = await threads().createThread({});
    return { threadId: thread!.id, dir: sandbox!.path };
  }

  /**
   * Sends a message and follows its run to the end, answering each request that waits for the user
   * with `answers` in order (a request beyond them fails the test). Returns every event and the
   * interactions the run made (asked or allowed by Link).
   */
  async function runAnswering(threadId: string, branch: string, text: string, answers: Answer[]): Promise<{ events: RunEvent[]; asked: Interaction[] }> {
    const client = threads();
    const { runId } = await client.sendMessage({ threadId, text, harness: 'gemini', linkId: env.link.id, sandboxProvider: 'directory', branch });
    const events: RunEvent[] = [];
    const asked: Interaction[] = [];
    const left = [...answers];
    for await (const { event } of client.watchRun({ runId, afterSeq: 0n }, { timeoutMs: 120_000 })) {
      if (!event) continue;
      events.push(event);
      if (event.event.case !== 'interaction') continue;
      const interaction = event.event.value;
      asked.push(interaction);
      if (interaction.allowedBy) continue;
      const answer = left.shift();
      assert.ok(answer, `an unexpected request: ${interaction.title}`);
      await client.answerInteraction({ runId, interactionId: interaction.id, decision: answer.decision, scope: answer.scope ?? InteractionScope.ONCE });
    }
    assert.deepEqual(left, [], 'every expected request was asked');
    return { events, asked };
  }

  it('approved from Link, the command runs, its output reaches the model and the run completes', async () => {
    const { threadId, dir } = await geminiThread('gemini-approve');
    const { events, asked } = await runAnswering(threadId, 'gemini-approve', 'RUN echo approved > approved.txt', [{ decision: InteractionDecision.ALLOW }]);
    const [request] = asked;
    assert.equal(request.kind, InteractionKind.PERMISSION);
    assert.equal(request.tool, 'run_shell_command');
    assert.equal(request.command, 'echo approved > approved.txt');
    assert.equal(request.cwd, dir);
    assert.equal(await readFile(join(dir, 'approved.txt'), 'utf8'), 'approved\n');
    const [resolved] = of(events, 'interactionResolved');
    assert.equal(resolved.interactionId, request.id);
    assert.equal(resolved.state, InteractionState.ANSWERED);
    assert.equal(resolved.answer?.decision, InteractionDecision.ALLOW);
    assert.match(of(events, 'text').map((t) => t.text).join(''), /Tool said: .*Output/);
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('denied from Link, the command does not run; the CLI is told and the run completes', async () => {
    const { threadId, dir } = await geminiThread('gemini-deny');
    const { events } = await runAnswering(threadId, 'gemini-deny', 'RUN echo denied > denied.txt', [{ decision: InteractionDecision.DENY }]);
    assert.equal(existsSync(join(dir, 'denied.txt')), false);
    assert.equal(of(events, 'interactionResolved')[0].answer?.decision, InteractionDecision.DENY);
    assert.match(of(events, 'text').map((t) => t.text).join(''), /canceled by the user/);
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('"always allow in this thread": the same command in the next run is not asked, a different one is', async () => {
    const branch = 'gemini-always';
    const { threadId, dir } = await geminiThread(branch);
    await runAnswering(threadId, branch, 'RUN echo first > always.txt', [{ decision: InteractionDecision.ALLOW, scope: InteractionScope.THREAD }]);
    assert.equal(await readFile(join(dir, 'always.txt'), 'utf8'), 'first\n');

    // The same command again, then a different one: only the second waits for an answer.
    const { events, asked } = await runAnswering(threadId, branch, 'RUN echo first > always.txt\nRUN echo second > other.txt', [{ decision: InteractionDecision.ALLOW }]);
    const pending = asked.filter((i) => !i.allowedBy);
    assert.deepEqual(pending.map((i) => i.command), ['echo second > other.txt'], 'only the different command was asked');
    const same = asked.filter((i) => i.command === 'echo first > always.txt');
    assert.ok(same.every((i) => /thread rule/.test(i.allowedBy)), `allowed by the thread's rule: ${JSON.stringify(same.map((i) => i.allowedBy))}`);
    assert.equal(await readFile(join(dir, 'other.txt'), 'utf8'), 'second\n');
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });
});
