/**
 * Codex driven through Link for real: a real link-server, a real linkd running the real Codex CLI
 * (`codex app-server`) against the fake model API on 127.0.0.1, and the user answering through
 * `ThreadService.AnswerInteraction`: approve runs the command, deny does not, "always allow in this
 * thread" is not asked again in the thread's next run (a different command is), and a question's
 * answer reaches the model. The user's Codex config is never changed.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@connectrpc/connect';
import { InteractionDecision, InteractionKind, InteractionScope, InteractionState, PermissionMode, RunStatus, type Interaction, type RunEvent } from '../gen/link/v1/run_pb.js';
import type { ThreadService } from '../gen/link/v1/thread_service_pb.js';
import { startHarnessStack, type HarnessStack } from './helpers/harness-clis.js';
import { eventsOf as of, sandboxClient, threadClient } from './helpers/runs.js';
import { makeRepository } from './helpers/git.js';
import type { TestServer } from './helpers/server.js';

/** What the user answers: the decision, its scope and message, or a question's answers. */
interface Answer {
  decision?: InteractionDecision;
  scope?: InteractionScope;
  message?: string;
  answers?: { questionId: string; selected: string[] }[];
}

describe('interactive runs with Codex, through Link', function () {
  let stack: HarnessStack;
  let env: TestServer;
  let home: string;
  let config: string;
  let threads: Client<typeof ThreadService>;
  let repositoryUrl: string;

  before(async () => {
    stack = await startHarnessStack({ harnesses: ['codex'], linkdArgs: ['--repository-schemes', 'https,ssh,file'] });
    ({ env, home, codexConfig: config } = stack);
    threads = threadClient(env.grpcUrl, env.userToken);
    repositoryUrl = (await makeRepository()).url;
  });

  after(async () => {
    await stack?.stop();
  });

  /** A thread on a worktree of the test repository; returns its id and the sandbox's directory. */
  async function newThread(branch: string) {
    const { sandbox } = await sandboxClient(env.grpcUrl, env.userToken).ensureSandbox({ linkId: env.link.id, repository: repositoryUrl, branch });
    const { thread } = await threads.createThread({});
    return { threadId: thread!.id, dir: sandbox!.path, branch };
  }

  /**
   * Sends a message and follows its run to the end, answering each interaction that waits for the
   * user with `answer` (as a person on the page would), through AnswerInteraction.
   */
  async function run(thread: { threadId: string; branch: string }, text: string, answer: (i: Interaction) => Answer, first = false) {
    const { runId } = await threads.sendMessage({
      threadId: thread.threadId,
      text,
      permissionMode: PermissionMode.ASK,
      ...(first ? { harness: 'codex', linkId: env.link.id, repository: repositoryUrl, branch: thread.branch } : {}),
    });
    const events: RunEvent[] = [];
    // An answer refused ends the wait at once (the run would otherwise wait for the user).
    const stop = new AbortController();
    let refused: unknown;
    try {
      for await (const { event } of threads.watchRun({ runId, afterSeq: 0n }, { timeoutMs: 120_000, signal: stop.signal })) {
        if (!event) continue;
        events.push(event);
        if (event.event.case === 'interaction' && !event.event.value.allowedBy) {
          threads.answerInteraction({ runId, interactionId: event.event.value.id, ...answer(event.event.value) }).catch((error: unknown) => {
            refused = error;
            stop.abort();
          });
        }
      }
    } catch (error) {
      throw refused ?? error;
    } finally {
      if (refused) await threads.cancelRun({ runId }).catch(() => undefined);
    }
    return events;
  }

  const allow = (scope = InteractionScope.ONCE): Answer => ({ decision: InteractionDecision.ALLOW, scope });

  it('approved, the command runs and its file is there; the run completes', async () => {
    const thread = await newThread('codex-approve');
    const events = await run(thread, 'RUN echo approved > approved.txt', () => allow(), true);
    const [asked] = of(events, 'interaction');
    assert.equal(asked.kind, InteractionKind.PERMISSION);
    assert.equal(asked.title, 'Run `echo approved > approved.txt`');
    assert.equal(asked.cwd, thread.dir);
    assert.equal(of(events, 'interactionResolved')[0].state, InteractionState.ANSWERED);
    assert.equal(await readFile(join(thread.dir, 'approved.txt'), 'utf8'), 'approved\n');
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
    assert.equal(await readFile(join(home, '.codex', 'config.toml'), 'utf8'), config, 'the user\'s Codex config is unchanged');
  });

  it('denied, Codex is told, goes on and completes without running it', async () => {
    const thread = await newThread('codex-deny');
    const events = await run(thread, 'RUN echo no > denied.txt', () => ({ decision: InteractionDecision.DENY, message: 'not this one' }), true);
    assert.equal(of(events, 'interaction').length, 1);
    assert.equal(existsSync(join(thread.dir, 'denied.txt')), false);
    assert.match(of(events, 'text').map((t) => t.text).join(''), /rejected by user/);
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('always allow in this thread: the next run\'s identical request is not asked, a different one is', async () => {
    const thread = await newThread('codex-always');
    const first = await run(thread, 'RUN touch always.txt', () => allow(InteractionScope.THREAD), true);
    assert.equal(of(first, 'done')[0].status, RunStatus.COMPLETED);
    const asked: string[] = [];
    const second = await run(thread, 'RUN touch always.txt\nRUN mkdir other-dir', (i) => {
      asked.push(i.title);
      return allow();
    });
    const shown = of(second, 'interaction');
    assert.match(shown[0].allowedBy, /thread rule/, 'allowed by the thread\'s rule, without asking');
    assert.deepEqual(asked, ['Run `mkdir other-dir`']);
    assert.ok(existsSync(join(thread.dir, 'other-dir')));
    assert.equal(of(second, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('a question: the answer reaches the model', async () => {
    const thread = await newThread('codex-question');
    const events = await run(thread, 'ASK Which color? OPTIONS red|blue', (i) => ({ answers: [{ questionId: i.questions[0].id, selected: ['blue'] }] }), true);
    const [asked] = of(events, 'interaction');
    assert.equal(asked.kind, InteractionKind.QUESTION);
    assert.deepEqual(asked.questions[0].options.map((o) => o.label), ['red', 'blue']);
    assert.match(of(events, 'text').map((t) => t.text).join(''), /Tool said: .*"blue"/);
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });
});
