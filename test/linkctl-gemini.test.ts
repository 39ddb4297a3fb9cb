/**
 * linkctl answering a real agent through Link: the real Gemini CLI (`gemini --acp`) run by a real
 * linkd against the fake model server, a real control plane, and linkctl as a user runs it — inline
 * on a terminal (a real pseudo-terminal), or with `runs pending` and `runs answer` from another one.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { harnessEnvironment } from './helpers/harness-clis.js';
import { npmStartDirs, runCli, userEnv } from './helpers/npm-start.js';
import { repoRoot, spawnLinkd, TestProcess } from './helpers/processes.js';
import { sandboxClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';
import { FakeModelServer } from './fake-model/server.js';

describe('linkctl answers Gemini CLI through Link', function () {
  this.timeout(180_000);
  let env: TestServer;
  let fake: FakeModelServer;
  let agent: TestProcess;
  let cliEnv: NodeJS.ProcessEnv;
  const started: TestProcess[] = [];

  before(async () => {
    fake = await FakeModelServer.start();
    env = await startTestServer({ heartbeatIntervalMs: 1_000 });
    agent = spawnLinkd(
      ['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-gemini-')],
      await harnessEnvironment(fake.url, await tempDir('home-')),
    );
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      await watch.until(env.link.id, (l) => l.capabilities?.harnesses.some((h) => h.name === 'gemini' && h.installed) === true, 'online with gemini', 60_000);
    } finally {
      await watch.close();
    }
    cliEnv = userEnv(await npmStartDirs(), { LINKCTL_SERVER: env.grpcUrl, LINKCTL_TOKEN: env.userToken });
  });

  afterEach(async () => {
    for (const child of started.splice(0)) await child.stop();
  });

  after(async () => {
    await agent?.stop();
    closeClients();
    await env?.close();
    await fake?.close();
  });

  /** A new thread and the directory sandbox its runs use (so the test knows where commands run). */
  async function thread(branch: string) {
    const { sandbox } = await sandboxClient(env.grpcUrl, env.userToken).ensureSandbox({ linkId: env.link.id, provider: 'directory', branch });
    const threadId = (await runCli('linkctl', ['threads', 'create'], cliEnv)).stdout.trim();
    const pins = ['--harness', 'gemini', '--link', env.link.id, '--sandbox', 'directory', '--branch', branch];
    return { threadId, dir: sandbox!.path, pins };
  }

  it('on a terminal, linkctl send asks inline; y runs the command and the run completes', async () => {
    const { threadId, dir, pins } = await thread('linkctl-inline');
    const command = [process.execPath, join(repoRoot, 'bin', 'linkctl.js'), 'send', threadId, 'RUN echo approved > approved.txt', ...pins];
    const child = spawn('script', ['-qfec', command.map((a) => `'${a}'`).join(' '), '/dev/null'], { env: cliEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    const send = new TestProcess('linkctl send (terminal)', child);
    started.push(send);
    await send.waitForOutput(/asks to .*[\r\n]+.*\$ echo approved > approved\.txt/, 120_000);
    await send.waitForOutput(/Allow\? y = yes/, 30_000);
    child.stdin!.write('y\r');
    await send.waitForOutput(/done: completed, exit 0/, 120_000);
    assert.match(send.output, /allowed by /);
    assert.equal(await readFile(join(dir, 'approved.txt'), 'utf8'), 'approved\n');
    child.stdin!.end();
    assert.equal((await send.waitForExit(30_000)).code, 0);
  });

  it('without a terminal, runs pending lists the request and runs answer --deny answers it; a second answer gets the winner', async () => {
    const { threadId, dir, pins } = await thread('linkctl-deny');
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'linkctl.js'), 'send', threadId, 'RUN echo denied > denied.txt', ...pins], { env: cliEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    const send = new TestProcess('linkctl send', child);
    started.push(send);
    const [, runId, interactionId] = await send.waitForOutput(/answer with: linkctl runs answer (run_\S+) (\S+) --allow/, 120_000);

    const pending = JSON.parse((await runCli('linkctl', ['runs', 'pending', '--json'], cliEnv)).stdout);
    const mine = pending.find((p: { runId: string }) => p.runId === runId);
    assert.equal(mine.interaction.id, interactionId);
    assert.equal(mine.interaction.command, 'echo denied > denied.txt');
    assert.equal(mine.state, 'INTERACTION_STATE_PENDING');

    const denied = await runCli('linkctl', ['runs', 'answer', runId, interactionId, '--deny', '--message', 'not now'], cliEnv);
    assert.equal(denied.code, 0, denied.stderr);
    assert.match(denied.stdout, new RegExp(`^${interactionId}: denied by \\S+: not now\\n$`));
    const again = await runCli('linkctl', ['runs', 'answer', runId, interactionId, '--allow'], cliEnv);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`${interactionId} was already answered: denied by \\S+: not now \\(ALREADY_ANSWERED\\)`));

    await send.waitForOutput(/done: completed, exit 0/, 120_000);
    assert.equal(existsSync(join(dir, 'denied.txt')), false, 'the denied command did not run');
    assert.equal((await send.waitForExit(30_000)).code, 0);
  });
});
