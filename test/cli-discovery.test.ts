/**
 * On the machine where `npm start` runs, `linkctl`, `linkd status` and `linkd doctor` find the
 * local stack by themselves: no flags, the user's own (here: the test's) home with no config. And
 * linkctl's `--json` output has a stable shape, zeros included.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, TestProcess } from './helpers/processes.js';
import { errorLines, npmStartDirs, runCli, startNpmStart, userEnv, type NpmStart, type NpmStartDirs } from './helpers/npm-start.js';

describe('the CLIs beside npm start', function () {
  this.timeout(240_000);
  let dirs: NpmStartDirs;
  let stack: NpmStart;
  let env: NodeJS.ProcessEnv;
  const linkctl = (...args: string[]) => runCli('linkctl', args, env);
  const linkd = (...args: string[]) => runCli('linkd', args, env);

  before(async () => {
    dirs = await npmStartDirs();
    stack = await startNpmStart(dirs);
    env = userEnv(dirs);
    // Wait (with a deadline) until npm start's linkd is connected, as a user would see it.
    const deadline = Date.now() + 60_000;
    while (!(await linkd('status')).stdout.includes('is connected')) {
      assert.ok(Date.now() < deadline, 'npm start\'s linkd did not connect within 60 s');
    }
  });

  after(async () => {
    await stack?.stop();
    assert.deepEqual(errorLines(stack?.process.output ?? ''), [], 'nothing was logged at error level');
  });

  it('npm start prints the login URL and the CLI commands to run beside it', () => {
    const output = stack.process.output;
    assert.match(output, /^ {4}http:\/\/127\.0\.0\.1:\d+\/\?login=\S+$/m);
    for (const command of ['npx linkctl links list', 'npx linkctl threads create', 'npx linkd status', 'npx linkd doctor']) {
      assert.ok(output.includes(`    ${command}\n`), `prints ${command}`);
    }
  });

  it('npx linkctl and npx linkd run from the checkout with nothing else', async () => {
    for (const [cli, args, expected] of [
      ['linkctl', ['links', 'list'], /^LINK +NAME +STATE/],
      ['linkd', ['status'], /is connected/],
    ] as const) {
      const child = spawn('npx', ['--no-install', cli, ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const npx = new TestProcess(`npx ${cli}`, child);
      const { code } = await npx.waitForExit(60_000);
      assert.equal(code, 0, npx.output);
      assert.match(npx.output, expected);
    }
  });

  it('linkctl threads create works with no flags and no config', async () => {
    const { code, stdout, stderr } = await linkctl('threads', 'create');
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^thr_\S+\n$/);
  });

  it('linkctl config show says the server and token come from the local stack', async () => {
    const { stdout } = await linkctl('config', 'show', '--json');
    const shown = JSON.parse(stdout);
    assert.equal(shown.server, stack.card.server);
    assert.equal(shown.serverFrom, 'local stack');
    assert.equal(shown.tokenFrom, stack.card.userTokenFile);
  });

  it("the local stack's token never goes to another server", async () => {
    const { code, stderr } = await linkctl('--server', 'http://127.0.0.1:1', 'threads', 'list');
    assert.equal(code, 1);
    assert.match(stderr, /no user token/);
  });

  it('linkd status says npm start\'s linkd is connected', async () => {
    const { code, stdout } = await linkd('status');
    assert.equal(code, 0, stdout);
    assert.match(stdout, new RegExp(`npm start's linkd \\(${dirs.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/agent\\) \\(pid \\d+\\) is connected to ${stack.card.server}`));
  });

  it("linkd doctor checks npm start's token file and server, and exits 0 when nothing needs fixing", async () => {
    const { code, stdout } = await linkd('doctor');
    assert.match(stdout, new RegExp(`^ok +link token +${join(dirs.dataDir, 'agent', 'token').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    assert.match(stdout, new RegExp(`^ok +server +${stack.card.server} answers: SERVING$`, 'm'));
    assert.match(stdout, /^ok +dispatch key +pinned at pairing/m);
    assert.equal(code, 0, stdout);
  });

  it('linkd doctor exits 1 when something needs fixing (a server that does not answer)', async () => {
    const { code, stdout } = await linkd('doctor', '--server', 'http://127.0.0.1:1', '--data-dir', join(dirs.dataDir, 'agent'));
    assert.match(stdout, /^FIX +server +http:\/\/127\.0\.0\.1:1 does not answer/m);
    assert.match(stdout, new RegExp(`^ok +link token +${join(dirs.dataDir, 'agent', 'token').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    assert.equal(code, 1);
  });

  it('linkctl --json: every field present (exitCode 0 too), tables with headers otherwise; cancel says it was requested', async () => {
    const created = JSON.parse((await linkctl('threads', 'create', '--json')).stdout);
    assert.match(created.id, /^thr_/);
    assert.equal(created.title, '', 'empty strings are present');
    assert.equal(created.archived, false);
    const links = JSON.parse((await linkctl('links', 'list', '--json')).stdout);
    assert.equal(links.length, 1);
    assert.equal(links[0].state, 'LINK_STATE_ONLINE');

    const sent = await linkctl('send', created.id, 'echo hello', '--harness', 'shell', '--link', links[0].id, '--json');
    assert.equal(sent.code, 0, sent.stderr);
    const events = sent.stdout.trim().split('\n').map((line) => JSON.parse(line));
    const done = events.at(-1).done;
    assert.deepEqual({ status: done.status, exitCode: done.exitCode }, { status: 'RUN_STATUS_COMPLETED', exitCode: 0 });

    const runs = JSON.parse((await linkctl('runs', 'list', '--thread', created.id, '--json')).stdout);
    assert.equal(runs.length, 1);
    assert.equal(runs[0].exitCode, 0);
    assert.equal(runs[0].state, 'RUN_STATE_COMPLETED');
    const table = (await linkctl('runs', 'list', '--thread', created.id)).stdout.split('\n');
    assert.match(table[0], /^RUN +THREAD +HARNESS +STATE +CREATED +FINISHED +EXIT/);
    assert.match(table[1], /^run_\S+ +thr_\S+ +shell +completed +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
    assert.match((await linkctl('links', 'list')).stdout, /^LINK +NAME +STATE +HOST +SEEN +QUEUED\n/);

    const long = await linkctl('send', created.id, 'sleep 60', '--no-follow');
    const runId = long.stdout.trim();
    const watch = runCli('linkctl', ['runs', 'watch', runId], env);
    const cancel = await linkctl('runs', 'cancel', runId);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stdout, new RegExp(`^(cancel requested for ${runId}|${runId} is cancelled)`));
    assert.match((await watch).stdout, /done: cancelled/);
  });

  it('linkctl threads rename, search, archive, unarchive and delete', async () => {
    const id = (await linkctl('threads', 'create', '--title', 'parser work')).stdout.trim();
    const renamed = await linkctl('threads', 'rename', id, 'Parser tests');
    assert.equal(renamed.code, 0, renamed.stderr);
    assert.equal(renamed.stdout, `renamed ${id} "Parser tests"\n`);
    const found = JSON.parse((await linkctl('threads', 'search', 'PARSER', '--json')).stdout);
    assert.deepEqual(found.map((t: { id: string; title: string }) => [t.id, t.title]), [[id, 'Parser tests']]);
    assert.match((await linkctl('threads', 'search', 'parser')).stdout, new RegExp(`^THREAD +HARNESS +STATE +MACHINE +UPDATED +TITLE\n${id} .* Parser tests\n$`));

    assert.equal((await linkctl('threads', 'archive', id)).code, 0);
    const listed = (await linkctl('threads', 'list', '--json')).stdout;
    assert.ok(!JSON.parse(listed).some((t: { id: string }) => t.id === id), 'an archived thread is left out of the list');
    const archived = JSON.parse((await linkctl('threads', 'list', '--archived', '--json')).stdout).find((t: { id: string }) => t.id === id);
    assert.equal(archived.archived, true);
    assert.equal(JSON.parse((await linkctl('threads', 'unarchive', id, '--json')).stdout).archived, false);

    const unconfirmed = await linkctl('threads', 'delete', id);
    assert.equal(unconfirmed.code, 1);
    assert.match(unconfirmed.stderr, /pass --yes/);
    assert.deepEqual(JSON.parse((await linkctl('threads', 'delete', id, '--yes', '--json')).stdout), { threadId: id, deleted: true });
    assert.match((await linkctl('threads', 'search', 'parser')).stdout, /^no thread's title contains "parser"\n$/);
  });

  it('linkctl links pair prints the code and the command to run on the machine', async () => {
    const { code, stdout } = await linkctl('links', 'pair', '--name', 'second');
    assert.equal(code, 0);
    assert.match(stdout, /^code [0-9A-Z]{4}-[0-9A-Z]{4} \(works once, until /);
    assert.match(stdout, new RegExp(`linkd login --server ${stack.card.server.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --code [0-9A-Z]{4}-[0-9A-Z]{4}`));
    const json = JSON.parse((await linkctl('links', 'pair', '--json')).stdout);
    assert.deepEqual(Object.keys(json).sort(), ['code', 'command', 'expiresAt', 'serverAddress']);
  });
});
