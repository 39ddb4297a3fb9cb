/**
 * Ctrl-C on `npm start` (SIGINT to its whole process group, as a terminal sends it) while a run
 * streams: linkd lets the run finish, then the server drains and stops its database; a second
 * Ctrl-C stops the run at once. Nothing is logged at error level, and the next start finds everything.
 */
import assert from 'node:assert/strict';
import { errorLines, npmStartDirs, runCli, startNpmStart, userEnv, type NpmStart, type NpmStartDirs } from './helpers/npm-start.js';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, TestProcess } from './helpers/processes.js';

describe('Ctrl-C on npm start', function () {
  this.timeout(300_000);
  let stack: NpmStart | undefined;
  const watchers: TestProcess[] = [];

  afterEach(async () => {
    for (const watcher of watchers.splice(0)) await watcher.stop();
    await stack?.stop();
    stack = undefined;
  });

  /** The CLIs' environment, told where the stack is (finding it is another suite's subject). */
  function cliEnv(dirs: NpmStartDirs, started: NpmStart): NodeJS.ProcessEnv {
    return userEnv(dirs, { LINKCTL_SERVER: started.card.server, LINKCTL_TOKEN_FILE: started.card.userTokenFile });
  }

  /** `linkctl runs watch RUN` running beside the stack, its output kept. */
  function watchRun(env: NodeJS.ProcessEnv, runId: string): TestProcess {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'linkctl.js'), 'runs', 'watch', runId], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const watcher = new TestProcess('linkctl runs watch', child);
    watchers.push(watcher);
    return watcher;
  }

  /** A thread on npm start's machine and a shell run in it that prints `ticks` lines, one every half second. */
  async function streamingRun(env: NodeJS.ProcessEnv, ticks: number) {
    const thread = (await runCli('linkctl', ['threads', 'create'], env)).stdout.trim();
    const [link] = JSON.parse((await runCli('linkctl', ['links', 'list', '--json'], env)).stdout);
    const sent = await runCli('linkctl', ['send', thread, `for i in $(seq 1 ${ticks}); do echo tick $i; sleep 0.5; done`, '--harness', 'shell', '--link', link.id, '--no-follow'], env);
    assert.equal(sent.code, 0, sent.stderr);
    return { thread, link: link.id as string, runId: sent.stdout.trim() };
  }

  it('lets a running run finish, stops in order with nothing logged at error level, and the next start finds everything', async () => {
    const dirs = await npmStartDirs();
    stack = await startNpmStart(dirs);
    let env = cliEnv(dirs, stack);
    const { thread, link, runId } = await streamingRun(env, 8);
    const watch = watchRun(env, runId);
    await watch.waitForOutput(/tick 2/, 60_000);

    stack.signalGroup('SIGINT');
    const { code } = await stack.process.waitForExit(120_000);
    const output = stack.process.output;
    assert.equal(code, 0, stack.process.tail());
    await watch.waitForExit(30_000);
    assert.match(watch.output, /tick 8\n.*done: completed, exit 0/s, 'the run drained: it printed every line and completed');
    assert.deepEqual(errorLines(output), [], 'nothing at error level');
    const linkdStopped = output.search(/"name":"linkd"[^\n]*"msg":"stopped"/);
    const serverDraining = output.search(/"name":"link-server"[^\n]*shutting down/);
    assert.ok(linkdStopped >= 0 && serverDraining > linkdStopped, 'linkd stopped before the server began to shut down');

    // The next start: the same machine online, the thread and its completed run there.
    stack = await startNpmStart(dirs);
    env = cliEnv(dirs, stack);
    const deadline = Date.now() + 60_000;
    while (!(await runCli('linkd', ['status', '--data-dir', stack.card.agentDataDir], env)).stdout.includes('is connected')) {
      assert.ok(Date.now() < deadline, 'linkd did not connect again');
    }
    const [again] = JSON.parse((await runCli('linkctl', ['links', 'list', '--json'], env)).stdout);
    assert.equal(again.id, link);
    const [run] = JSON.parse((await runCli('linkctl', ['runs', 'list', '--thread', thread, '--json'], env)).stdout);
    assert.deepEqual({ id: run.id, state: run.state, exitCode: run.exitCode }, { id: runId, state: 'RUN_STATE_COMPLETED', exitCode: 0 });
  });

  it('a second Ctrl-C stops the running run at once, and still nothing is logged at error level', async () => {
    const dirs = await npmStartDirs();
    stack = await startNpmStart(dirs);
    const env = cliEnv(dirs, stack);
    const { runId } = await streamingRun(env, 600);
    const watch = watchRun(env, runId);
    await watch.waitForOutput(/tick 1/, 60_000);

    stack.signalGroup('SIGINT');
    await stack.process.waitForOutput(/draining: no new runs/, 30_000);
    stack.signalGroup('SIGINT');
    const { code } = await stack.process.waitForExit(120_000);
    assert.equal(code, 0, stack.process.tail());
    await watch.waitForExit(30_000);
    // Stopped by linkd, as any run linkd stops on its way out: AGENT_STOPPED, before its 600 lines.
    assert.match(watch.output, /done: failed, exit -?\d+ \(AGENT_STOPPED\)/);
    assert.doesNotMatch(watch.output, /tick 600/);
    assert.deepEqual(errorLines(stack.process.output), [], 'nothing at error level');
  });
});
