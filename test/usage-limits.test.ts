/**
 * Usage limits through Link for real: a real link-server and linkd running the real Claude Code,
 * Codex and Gemini CLIs against the fake model API, which answers with each CLI's own usage-limit
 * error (`LIMIT <seconds>`: a reset a few seconds ahead). A thread that opted in parks its run
 * (PARKED_LIMIT, the thread's resumes_at set) and gets a continuation run after the reset, in the
 * same session; without opt-in the run fails USAGE_LIMIT with the reset time in its message. The
 * machine's limit shows in ListLinks (REACHED until the reset). Parked threads of one machine and
 * harness continue one at a time.
 *
 * Claude Code reads its usage-limit headers only for a subscriber: linkd runs it with an OAuth
 * token (CLAUDE_CODE_OAUTH_TOKEN) instead of an API key.
 */
import assert from 'node:assert/strict';
import type { Client } from '@connectrpc/connect';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { MessageState, RunState, UsageLimitStatus, type Run } from '../gen/link/v1/run_pb.js';
import type { ThreadService } from '../gen/link/v1/thread_service_pb.js';
import { CONTINUE_PROMPT } from '../control-plane/limits/resume-sweep.js';
import { startHarnessStack, type HarnessStack } from './helpers/harness-clis.js';
import { linkClient, LinkWatch } from './helpers/clients.js';
import type { Link } from '../gen/link/v1/types_pb.js';
import { threadClient } from './helpers/runs.js';
import type { TestServer } from './helpers/server.js';

/** Waits until `read` returns a value (polling, within the deadline). */
async function until<T>(read: () => Promise<T | undefined>, what: string, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const ENDED = new Set([RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED, RunState.INTERRUPTED, RunState.PARKED_LIMIT]);

describe('usage limits, through Link with the real CLIs', function () {
  this.timeout(120_000);
  let stack: HarnessStack;
  let env: TestServer;
  let threads: Client<typeof ThreadService>;

  before(async () => {
    stack = await startHarnessStack({
      harnesses: ['claude-code', 'codex', 'gemini'],
      serverOptions: { limitResumeMarginSeconds: 1, limitSweepIntervalMs: 300 },
      environment(environment) {
        delete environment.ANTHROPIC_API_KEY;
        environment.CLAUDE_CODE_OAUTH_TOKEN = 'sk-ant-oat01-fake';
        environment.CLAUDE_CODE_OAUTH_SCOPES = 'user:inference user:profile';
      },
    });
    env = stack.env;
    threads = threadClient(env.grpcUrl, env.userToken);
  });

  after(async () => {
    await stack?.stop();
  });

  /** A new thread (opted in or not) and its first message's run, followed to its end. */
  async function firstRun(harness: string, text: string, resumeAfterLimit: boolean): Promise<{ threadId: string; run: Run }> {
    const { thread } = await threads.createThread({});
    if (resumeAfterLimit) {
      const { thread: updated } = await threads.updateThread({ threadId: thread!.id, resumeAfterLimit: true });
      assert.equal(updated!.resumeAfterLimit, true);
    }
    const { runId } = await threads.sendMessage({ threadId: thread!.id, text, harness, linkId: env.link.id });
    const run = await until(async () => {
      const { runs } = await threads.listRuns({ threadId: thread!.id });
      const run = runs.find((r) => r.id === runId);
      return run && ENDED.has(run.state) ? run : undefined;
    }, `the run of "${text}" to end`);
    return { threadId: thread!.id, run };
  }

  /** The thread's continuation of `parkedId`, once it has ended. */
  async function continuation(threadId: string, parkedId: string): Promise<Run> {
    return until(async () => {
      const { runs } = await threads.listRuns({ threadId });
      const next = runs.find((r) => r.continuesRunId === parkedId);
      return next && ENDED.has(next.state) ? next : undefined;
    }, 'the continuation run to end');
  }

  for (const harness of ['claude-code', 'codex', 'gemini']) {
    it(`${harness}: opted in, the run parks, shows its reset, and a continuation completes it (in the same session, where the CLI kept one)`, async () => {
      const marker = `park-${harness}-${Date.now()}`;
      const { threadId, run: parked } = await firstRun(harness, `${marker}\nLIMIT 4`, true);
      assert.equal(parked.state, RunState.PARKED_LIMIT, `parked (${parked.failureReason}: ${parked.failureMessage})`);
      assert.equal(parked.failureReason, 'USAGE_LIMIT');
      assert.ok(parked.limitResetsAt, 'the reset time is shown');
      const resetsAt = timestampDate(parked.limitResetsAt);
      const { thread } = await threads.getThread({ threadId });
      if (thread!.resumesAt) assert.ok(timestampDate(thread!.resumesAt).getTime() >= resetsAt.getTime(), 'resumes after the reset');
      else assert.fail('the thread shows when it resumes');

      const next = await continuation(threadId, parked.id);
      assert.equal(next.state, RunState.COMPLETED, `the continuation completed (${next.failureReason}: ${next.failureMessage})`);
      const continued = stack.fake.requests.filter((r) => JSON.stringify(r.body ?? '').includes(CONTINUE_PROMPT) && JSON.stringify(r.body).includes(marker));
      if (parked.sessionId) {
        assert.equal(next.sessionId, parked.sessionId, 'the same session');
        assert.ok(continued.length > 0, 'the model saw the continuation with the earlier conversation');
      } else {
        // Gemini keeps no session of a first turn refused at the limit: the prompt is sent again.
        assert.equal(harness, 'gemini');
        assert.ok(stack.fake.requests.filter((r) => JSON.stringify(r.body ?? '').includes(marker)).length >= 2, 'the prompt was sent again');
      }
      const { thread: after } = await threads.getThread({ threadId });
      assert.equal(after!.resumesAt, undefined, 'nothing left to resume');
      const { links } = await linkClient(env.grpcUrl, env.userToken).listLinks({});
      const limit = links.find((l) => l.id === env.link.id)?.usageLimits.find((u) => u.harness === harness);
      assert.equal(limit?.status, UsageLimitStatus.OK, 'past its reset the limit reads OK');
    });

    it(`${harness}: not opted in, the run fails USAGE_LIMIT, its message says when the limit resets, and ListLinks and WatchLinks show it REACHED`, async () => {
      const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
      try {
        const { run } = await firstRun(harness, `fail-${harness}-${Date.now()}\nLIMIT 120`, false);
        assert.equal(run.state, RunState.FAILED);
        assert.equal(run.failureReason, 'USAGE_LIMIT');
        assert.ok(run.limitResetsAt);
        const resetsAt = timestampDate(run.limitResetsAt);
        assert.ok(resetsAt.getTime() > Date.now(), 'the reset lies ahead');
        assert.ok(run.failureMessage.includes(resetsAt.toISOString()), `the message says when: ${run.failureMessage}`);
        const { links } = await linkClient(env.grpcUrl, env.userToken).listLinks({});
        const limit = links.find((l) => l.id === env.link.id)?.usageLimits.find((u) => u.harness === harness);
        assert.equal(limit?.status, UsageLimitStatus.REACHED);
        assert.equal(timestampDate(limit.resetsAt!).getTime(), resetsAt.getTime());
        const reached = (link: Link) => link.usageLimits.some((u) => u.harness === harness && u.status === UsageLimitStatus.REACHED && u.resetsAt && timestampDate(u.resetsAt).getTime() === resetsAt.getTime());
        await watch.until(env.link.id, reached, `${harness} REACHED in WatchLinks`, 20_000);
      } finally {
        await watch.close();
      }
    });
  }

  it('a message sent to a parked thread waits; cancelling the parked run gives up its continuation and the message runs', async () => {
    const { threadId, run } = await firstRun('claude-code', `cancel-${Date.now()}\nLIMIT 300`, true);
    assert.equal(run.state, RunState.PARKED_LIMIT);
    // A message sent meanwhile waits behind the parked run…
    const sent = await threads.sendMessage({ threadId, text: 'after the limit, something else' });
    assert.equal(sent.message?.state, MessageState.QUEUED);
    const { state } = await threads.cancelRun({ runId: run.id });
    assert.equal(state, RunState.CANCELLED);
    const { thread } = await threads.getThread({ threadId });
    assert.equal(thread!.resumesAt, undefined, 'no continuation is due');
    // …and runs once the parked run is given up; no continuation is made.
    const next = await until(async () => {
      const { runs } = await threads.listRuns({ threadId });
      const other = runs.find((r) => r.id !== run.id);
      return other && ENDED.has(other.state) ? { other, runs } : undefined;
    }, 'the queued message to run');
    assert.equal(next.other.state, RunState.COMPLETED);
    assert.equal(next.other.continuesRunId, '');
    assert.deepEqual(next.runs.map((r) => r.id).sort(), [run.id, next.other.id].sort());
    assert.equal(next.runs.find((r) => r.id === run.id)!.state, RunState.CANCELLED);
  });

  it('two parked threads of one machine and harness continue one after the other', async () => {
    const stamp = Date.now();
    const [a, b] = await Promise.all([firstRun('claude-code', `first-${stamp}\nLIMIT 3`, true), firstRun('claude-code', `second-${stamp}\nLIMIT 3`, true)]);
    assert.equal(a.run.state, RunState.PARKED_LIMIT);
    assert.equal(b.run.state, RunState.PARKED_LIMIT);
    const [ca, cb] = await Promise.all([continuation(a.threadId, a.run.id), continuation(b.threadId, b.run.id)]);
    assert.equal(ca.state, RunState.COMPLETED);
    assert.equal(cb.state, RunState.COMPLETED);
    const [earlier, later] = timestampDate(ca.createdAt!) <= timestampDate(cb.createdAt!) ? [ca, cb] : [cb, ca];
    assert.ok(timestampDate(later.createdAt!).getTime() >= timestampDate(earlier.finishedAt!).getTime(), 'the second started after the first had ended');
  });
});
