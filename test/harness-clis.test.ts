/**
 * The real Claude Code, Codex and Gemini CLIs, run by a real linkd, against the project's fake model
 * API on 127.0.0.1: a streamed answer with the tier's model, a follow-up that resumes the CLI's
 * session with an explicit model, a tool call that really writes a file, an API error, and a cancel
 * mid-run that leaves no process behind.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelTier, RunStatus, type RunEvent } from '../gen/link/v1/run_pb.js';
import { startHarnessStack, type HarnessStack } from './helpers/harness-clis.js';
import { collect, eventsOf as of, sandboxClient, threadClient } from './helpers/runs.js';
import { git, makeRepository } from './helpers/git.js';
import type { TestServer } from './helpers/server.js';
import type { FakeModelServer } from './fake-model/server.js';

interface HarnessCase {
  harness: string;
  /** The process name of the CLI, for the leftover-process check. */
  binary: string;
  /** The model the SMART tier is expected to reach the API as. */
  smartModel: RegExp;
  /** The tool the CLI writes a file with, when it reports one as a tool call. */
  writeTool?: string;
}

const CASES: HarnessCase[] = [
  { harness: 'claude-code', binary: 'claude', smartModel: /model=claude-sonnet/, writeTool: 'Write' },
  // Codex edits files with apply_patch, which it reports as a file change, not as a tool call.
  { harness: 'codex', binary: 'codex', smartModel: /model=gpt-5\.5\)/ },
  { harness: 'gemini', binary: 'gemini', smartModel: /model=gemini-2\.5-pro\)/, writeTool: 'write_file' },
];

describe('the harness CLIs, for real', function () {
  let stack: HarnessStack;
  let env: TestServer;
  let fake: FakeModelServer;
  let agentDir: string;

  before(async () => {
    stack = await startHarnessStack({ harnesses: CASES.map((c) => c.harness), linkdArgs: ['--repository-schemes', 'https,ssh,file'] });
    ({ env, fake, agentDir } = stack);
  });

  after(async () => {
    await stack?.stop();
  });

  const threads = () => threadClient(env.grpcUrl, env.userToken);

  for (const { harness, binary, smartModel, writeTool } of CASES) {
    describe(harness, () => {
      async function run(threadId: string, text: string, options: { first?: boolean; model?: string; tier?: ModelTier } = {}) {
        const { runId } = await threads().sendMessage({
          threadId,
          text,
          model: options.model,
          tier: options.tier,
          ...(options.first ? { harness, linkId: env.link.id } : {}),
        });
        return collect(threads(), runId, 0n, 90_000);
      }

      it('streams the answer with the tier\'s model, then a follow-up resumes the same session with an explicit model', async () => {
        const { thread } = await threads().createThread({});
        const events = await run(thread!.id, 'say hello', { first: true, tier: ModelTier.SMART });
        const [started] = of(events, 'started');
        assert.equal(started.harness, harness);
        assert.ok(started.sessionId, 'the CLI reported its session');
        const text = of(events, 'text').map((t) => t.text).join('');
        assert.match(text, /hello from the fake model \(turn 1/);
        assert.match(text, smartModel);
        assert.ok(of(events, 'usage').some((u) => u.outputTokens > 0n), 'usage is reported');
        const [done] = of(events, 'done');
        assert.equal(done.status, RunStatus.COMPLETED, JSON.stringify(done));
        assert.equal(done.sessionId, started.sessionId);

        const again = await run(thread!.id, 'and again', { model: 'my-model-x' });
        assert.equal(of(again, 'started')[0].sessionId, started.sessionId, 'resumed, not a new session');
        const second = of(again, 'text').map((t) => t.text).join('');
        assert.match(second, /turn 2/, 'the model saw the earlier turn');
        assert.match(second, /model=my-model-x/, 'the explicit model passed through');
        assert.equal(of(again, 'done')[0].status, RunStatus.COMPLETED);
      });

      it('a tool call really writes a file in the run\'s directory, reported as a file change', async () => {
        // A directory sandbox named by a branch, made first, so the test knows where the file goes.
        const { sandbox } = await sandboxClient(env.grpcUrl, env.userToken).ensureSandbox({ linkId: env.link.id, provider: 'directory', branch: `write-${harness}` });
        const { thread } = await threads().createThread({});
        const file = join(sandbox!.path, 'hello.txt');
        const { runId } = await threads().sendMessage({
          threadId: thread!.id,
          text: `WRITE ${file} written-by-${harness}`,
          harness,
          linkId: env.link.id,
          sandboxProvider: 'directory',
          branch: `write-${harness}`,
        });
        const events = await collect(threads(), runId, 0n, 90_000);
        assert.equal(of(events, 'started')[0].cwd, sandbox!.path, 'the run executed in the sandbox');
        assert.equal(await readFile(file, 'utf8'), `written-by-${harness}\n`);
        assert.deepEqual(of(events, 'fileChange').map((f) => [f.path, f.kind]), [[file, 'add']]);
        if (writeTool) {
          const [call] = of(events, 'toolCall');
          assert.equal(call.name, writeTool);
          const [result] = of(events, 'toolResult');
          assert.equal(result.id, call.id);
          assert.equal(result.isError, false);
        }
        assert.match(of(events, 'text').map((t) => t.text).join(''), /Tool said/, 'the tool\'s result went back to the model');
        assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
      });

      it('runs in its thread\'s git worktree, and its file change appears there', async () => {
        const repo = await makeRepository();
        const branch = `cli-${harness}`;
        const { sandbox } = await sandboxClient(env.grpcUrl, env.userToken).ensureSandbox({ linkId: env.link.id, repository: repo.url, branch });
        const { thread } = await threads().createThread({});
        const file = join(sandbox!.path, 'made-by-cli.txt');
        const { runId } = await threads().sendMessage({ threadId: thread!.id, text: `WRITE ${file} from-${harness}`, harness, linkId: env.link.id, repository: repo.url, branch });
        const events = await collect(threads(), runId, 0n, 90_000);
        assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
        assert.equal(of(events, 'started')[0].cwd, sandbox!.path);
        assert.deepEqual(of(events, 'fileChange').map((f) => f.path), [file]);
        assert.equal(git(sandbox!.path, 'rev-parse', '--abbrev-ref', 'HEAD'), branch);
        assert.equal(git(sandbox!.path, 'status', '--porcelain'), '?? made-by-cli.txt', 'the change is in the worktree');
      });

      it('an API error ends the run as failed, with the CLI\'s message', async () => {
        const { thread } = await threads().createThread({});
        const events = await run(thread!.id, 'FAIL 401', { first: true });
        const errors = of(events, 'error');
        assert.ok(errors.some((e) => /401|Unauthorized|UNAUTHENTICATED|authenticate/i.test(e.message)), JSON.stringify(errors));
        const [done] = of(events, 'done');
        assert.equal(done.status, RunStatus.FAILED);
        assert.equal(done.failureReason, 'API_ERROR');
      });

      it('a cancel mid-run stops the CLI and leaves no process behind', async () => {
        const { thread } = await threads().createThread({});
        const marker = `SLOW-${Math.floor(Math.random() * 1e9)}`;
        const client = threads();
        const requests = fake.requests.length;
        const { runId } = await client.sendMessage({ threadId: thread!.id, text: `SLOW ${marker}`, harness, linkId: env.link.id });
        // Wait until the model API holds the CLI's request: the run is really in flight.
        const deadline = Date.now() + 60_000;
        while (!fake.requests.slice(requests).some((r) => JSON.stringify(r.body ?? '').includes(marker))) {
          assert.ok(Date.now() < deadline, 'the CLI never called the model API');
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        // The CLI's process group, as linkd records it while the run lives (the prompt is not on
        // every CLI's command line, so the group is what tells its processes apart).
        const group = Number((await readFile(join(agentDir, 'runs', `${runId}.pgid`), 'utf8')).split(' ')[0]);
        const inGroup = () =>
          execFileSync('ps', ['-eo', 'pgid=,args='])
            .toString()
            .split('\n')
            .filter((l) => Number(l.trim().split(/\s+/)[0]) === group);
        assert.ok(inGroup().length > 0, `the ${binary} process group is found while the run is in flight`);
        await client.cancelRun({ runId });
        const events = await collect(client, runId, 0n, 60_000);
        const [done] = of(events, 'done');
        assert.equal(done.status, RunStatus.CANCELLED);
        assert.equal(done.failureReason, 'CANCELLED');
        assert.deepEqual(inGroup(), [], `no ${binary} process is left`);
      });
    });
  }
});
