/**
 * The real Claude Code CLI, run by a real linkd, against the project's fake model API on 127.0.0.1:
 * text, a tool call that writes a file, a resumed session, an API error, a cancel mid-run.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { RunStatus, type RunEvent } from '../gen/link/v1/run_pb.js';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { requireHarnessClis } from './helpers/harness-clis.js';
import { spawnLinkd, type TestProcess } from './helpers/processes.js';
import { collect, threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';
import { FakeModelServer } from './fake-model/server.js';

describe('Claude Code, for real', () => {
  let env: TestServer;
  let fake: FakeModelServer;
  let agent: TestProcess;
  let agentDir: string;

  before(async () => {
    const bin = await requireHarnessClis();
    fake = await FakeModelServer.start();
    env = await startTestServer({ heartbeatIntervalMs: 1_000 });
    agentDir = await tempDir('linkd-claude-');
    const home = await tempDir('home-');
    agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', agentDir], {
      HOME: home,
      PATH: `${bin}${delimiter}${process.env.PATH}`,
      ANTHROPIC_BASE_URL: fake.url,
      ANTHROPIC_API_KEY: 'sk-fake',
      CLAUDE_CODE_MAX_RETRIES: '0',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_AUTOUPDATER: '1',
      DISABLE_ERROR_REPORTING: '1',
    });
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      await watch.until(env.link.id, (l) => l.capabilities?.harnesses.some((h) => h.name === 'claude-code' && h.installed) === true, 'online with claude', 60_000);
    } finally {
      await watch.close();
    }
  });

  after(async () => {
    await agent?.stop();
    closeClients();
    await env?.close();
    await fake?.close();
  });

  const threads = () => threadClient(env.grpcUrl, env.userToken);
  const of = <C extends NonNullable<RunEvent['event']['case']>>(events: RunEvent[], kind: C) =>
    events.flatMap((e) => (e.event.case === kind ? [e.event.value as Extract<RunEvent['event'], { case: C }>['value']] : []));

  async function run(threadId: string, text: string, first = false) {
    const { runId } = await threads().sendMessage({ threadId, text, ...(first ? { harness: 'claude-code', linkId: env.link.id } : {}) });
    return collect(threads(), runId, 0n, 90_000);
  }

  it('streams the answer, then a follow-up resumes the same session', async () => {
    const { thread } = await threads().createThread({});
    const events = await run(thread!.id, 'say hello', true);
    const [started] = of(events, 'started');
    assert.ok(started.sessionId, 'the CLI reported its session');
    assert.ok(of(events, 'text').some((t) => /hello from the fake model \(turn 1/.test(t.text)), JSON.stringify(of(events, 'text')));
    assert.ok(of(events, 'usage').length > 0);
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);

    const again = await run(thread!.id, 'and again');
    assert.equal(of(again, 'started')[0].sessionId, started.sessionId, 'resumed, not a new session');
    assert.ok(of(again, 'text').some((t) => /turn 2/.test(t.text)), 'the model saw the earlier turn');
  });

  it('a tool call really writes a file in the run\'s directory', async () => {
    const { thread } = await threads().createThread({});
    const cwd = join(agentDir, 'threads', thread!.id);
    const events = await run(thread!.id, `WRITE ${join(cwd, 'hello.txt')} written-by-claude`, true);
    const [call] = of(events, 'toolCall');
    assert.equal(call.name, 'Write');
    assert.equal(of(events, 'toolResult')[0].isError, false);
    assert.deepEqual(of(events, 'fileChange').map((f) => f.path), [join(cwd, 'hello.txt')]);
    assert.equal(await readFile(join(cwd, 'hello.txt'), 'utf8'), 'written-by-claude\n');
    assert.equal(of(events, 'done')[0].status, RunStatus.COMPLETED);
  });

  it('an API error ends the run as failed, with the CLI\'s message', async () => {
    const { thread } = await threads().createThread({});
    const events = await run(thread!.id, 'FAIL 401', true);
    const [error] = of(events, 'error');
    assert.match(error.message, /401/);
    const [done] = of(events, 'done');
    assert.equal(done.status, RunStatus.FAILED);
    assert.equal(done.failureReason, 'API_ERROR');
  });

  it('a cancel mid-run stops claude and leaves no process behind', async () => {
    const { thread } = await threads().createThread({});
    const marker = `SLOW-${Math.floor(Math.random() * 1e6)}`;
    const client = threads();
    const { runId } = await client.sendMessage({ threadId: thread!.id, text: `SLOW ${marker}`, harness: 'claude-code', linkId: env.link.id });
    for await (const { event } of client.watchRun({ runId }, { timeoutMs: 60_000 })) {
      if (event?.event.case === 'started') break;
    }
    // The model is now holding its answer; stop the run.
    await client.cancelRun({ runId });
    const events = await collect(client, runId, 0n, 60_000);
    const [done] = of(events, 'done');
    assert.equal(done.status, RunStatus.CANCELLED);
    const left = execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => l.includes(marker) && !l.includes('ps -eo'));
    assert.deepEqual(left, [], 'no claude process is left');
  });
});
