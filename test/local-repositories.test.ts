/**
 * Threads on repositories already on the machine, through the real control plane and a real
 * linkd: workspaces (the only folders linkd works in), the repositories it advertises, a git
 * worktree of the repository per branch (its objects, hooks and remotes), refusals of anything
 * outside the workspaces, the repository's set-up (.worktreeinclude, link.json), in-place, and
 * scratch threads that are in no git repository even when linkd's data lives in one.
 */
import assert from 'node:assert/strict';
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, readdir, readFile, symlink, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import { reasonOf } from '../common/errors.js';
import { LogLine_Stream, RunStatus, type RunEvent } from '../gen/link/v1/run_pb.js';
import { SandboxState } from '../gen/link/v1/sandbox_pb.js';
import type { SandboxService } from '../gen/link/v1/sandbox_service_pb.js';
import type { ThreadService } from '../gen/link/v1/thread_service_pb.js';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { git, makeRepository } from './helpers/git.js';
import { repoRoot, runLinkd, spawnLinkd, spawnTracked, type TestProcess } from './helpers/processes.js';
import { collect, sandboxClient, threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e) => ConnectError.from(e),
  );

const done = (events: RunEvent[]) => {
  const last = events.at(-1)?.event;
  return last?.case === 'done' ? last.value : undefined;
};
const lines = (events: RunEvent[], stream: LogLine_Stream) =>
  events.flatMap((e) => (e.event.case === 'log' && e.event.value.stream === stream ? [e.event.value.text] : []));

/** A repository at `dir` with a README on main and `files` in its main checkout, untracked. */
async function localRepository(dir: string, files: Record<string, string> = {}, tracked: Record<string, string> = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  git(dir, 'init', '--quiet', '--initial-branch=main');
  await writeFile(join(dir, 'README'), 'hello\n');
  for (const [name, content] of Object.entries(tracked)) await writeFile(join(dir, name), content);
  git(dir, 'add', '-A');
  git(dir, 'commit', '--quiet', '-m', 'first');
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return realpathSync(dir);
}

describe('local repositories', () => {
  let env: TestServer;
  let agent: TestProcess | undefined;
  let agentDir: string;
  let threads: Client<typeof ThreadService>;
  let sandboxes: Client<typeof SandboxService>;

  beforeEach(async () => {
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    threads = threadClient(env.grpcUrl, env.userToken);
    sandboxes = sandboxClient(env.grpcUrl, env.userToken);
  });

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    closeClients();
    await env.close();
  });

  async function startAgent(flags: string[], dataDir?: string) {
    agentDir = dataDir ?? (await tempDir('linkd-'));
    const home = await tempDir('home-');
    agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', agentDir, ...flags], { HOME: home, XDG_STATE_HOME: join(home, 'state') });
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      await watch.online(env.link.id);
    } finally {
      await watch.close();
    }
    return home;
  }

  async function runInThread(text: string, where: { repository?: string; branch?: string; sandboxProvider?: string }, threadId?: string) {
    const id = threadId ?? (await threads.createThread({})).thread!.id;
    const { runId } = await threads.sendMessage({ threadId: id, text, harness: 'shell', linkId: threadId ? '' : env.link.id, ...(threadId ? {} : where) });
    const events = await collect(threads, runId, 0n, 60_000);
    return { events, threadId: id, out: lines(events, LogLine_Stream.STDOUT), err: lines(events, LogLine_Stream.STDERR) };
  }

  it('a thread on a local repository runs in a worktree of it: its objects, branch and hooks; another branch gets another worktree', async () => {
    const workspace = await tempDir('ws-');
    const marker = join(await tempDir('hook-'), 'fired');
    const repo = await localRepository(join(workspace, 'app'));
    await writeFile(join(repo, '.git', 'hooks', 'post-commit'), `#!/bin/sh\necho "$(git rev-parse --abbrev-ref HEAD)" >> ${marker}\n`);
    await chmod(join(repo, '.git', 'hooks', 'post-commit'), 0o755);
    await localRepository(join(workspace, 'group', 'lib'));
    await localRepository(join(workspace, 'node_modules', 'skipped'));
    await localRepository(join(workspace, '.hidden'));
    await startAgent(['--workspace', workspace]);

    const { repositories, workspaces } = await sandboxes.listRepositories({ linkId: env.link.id });
    assert.deepEqual(workspaces, [realpathSync(workspace)]);
    assert.deepEqual(
      repositories.map((r) => [r.path, r.name, r.currentBranch, r.defaultBranch]),
      [
        [repo, 'app', 'main', 'main'],
        [join(realpathSync(workspace), 'group', 'lib'), 'lib', 'main', 'main'],
      ],
    );

    const show = 'pwd; git rev-parse --abbrev-ref HEAD; git rev-parse --path-format=absolute --git-common-dir; git rev-parse HEAD';
    const commit = `${show}; echo work > work.txt && git add work.txt && git -c user.name=t -c user.email=t@example.com commit --quiet -m work && git rev-parse HEAD`;
    const a = await runInThread(commit, { repository: repo, branch: 'topic' });
    assert.equal(done(a.events)?.status, RunStatus.COMPLETED, a.err.join('\n'));
    const [path, branch, common, base, committed] = a.out;
    assert.equal(branch, 'topic', 'on the thread\'s branch');
    assert.equal(common, join(repo, '.git'), 'the repository\'s own objects: a worktree, not a clone');
    assert.equal(base, git(repo, 'rev-parse', 'main'), 'a new branch starts at the repository\'s HEAD');
    assert.ok(!path.startsWith(repo), 'the worktree is not inside the repository');
    assert.equal(git(repo, 'rev-parse', 'topic'), committed, 'the commit is in the repository');
    assert.equal(await readFile(marker, 'utf8'), 'topic\n', 'the repository\'s hook fired on the commit in the worktree');
    assert.equal(git(repo, 'rev-parse', '--abbrev-ref', 'HEAD'), 'main', 'the main checkout stays on its branch');

    const b = await runInThread(show, { repository: `file://${repo}`, branch: 'other' });
    assert.equal(done(b.events)?.status, RunStatus.COMPLETED, b.err.join('\n'));
    assert.notEqual(b.out[0], path, 'another branch, another worktree');
    assert.deepEqual(b.out.slice(1, 3), ['other', join(repo, '.git')]);
    const worktrees = git(repo, 'worktree', 'list', '--porcelain');
    assert.match(worktrees, /branch refs\/heads\/topic/);
    assert.match(worktrees, /branch refs\/heads\/other/);

    const inPlace = await runInThread('pwd; git rev-parse --abbrev-ref HEAD', { repository: repo, sandboxProvider: 'in-place' });
    assert.equal(done(inPlace.events)?.status, RunStatus.COMPLETED, inPlace.err.join('\n'));
    assert.deepEqual(inPlace.out, [repo, 'main'], 'in-place runs in the repository folder itself');
  });

  it('refuses a folder outside the workspaces, or a symlink out of one, and creates nothing', async () => {
    const workspace = await tempDir('ws-');
    const outside = await makeRepository();
    await symlink(outside.dir, join(workspace, 'escape'));
    await startAgent(['--workspace', workspace]);
    assert.deepEqual((await sandboxes.listRepositories({ linkId: env.link.id })).repositories, [], 'a symlinked folder is not offered');
    for (const repository of [outside.dir, join(workspace, 'escape'), `${workspace}/../${outside.dir.split('/').at(-1)}`]) {
      for (const sandboxProvider of ['', 'in-place']) {
        const { thread } = await threads.createThread({});
        const branch = sandboxProvider ? '' : 'main';
        const sent = await failure(threads.sendMessage({ threadId: thread!.id, text: 'touch pwned', harness: 'shell', linkId: env.link.id, repository, branch, sandboxProvider }));
        assert.equal(sent.code, Code.InvalidArgument, `${repository} ${sandboxProvider}`);
        assert.equal(reasonOf(sent), 'INVALID_FIELD');
        assert.match(sent.rawMessage, /linkd workspace add/);
      }
      const ensured = await failure(sandboxes.ensureSandbox({ linkId: env.link.id, repository, branch: 'main' }));
      assert.equal(ensured.code, Code.InvalidArgument, repository);
    }
    assert.equal(existsSync(join(outside.dir, 'pwned')), false);
    assert.equal(git(outside.dir, 'worktree', 'list').split('\n').length, 1, 'no worktree was added');
    assert.deepEqual(await readdir(join(agentDir, 'sandboxes')).catch(() => []), []);
    assert.deepEqual((await sandboxes.listSandboxes({ linkId: env.link.id })).sandboxes, []);
  });

  it('a new worktree gets the files its .worktreeinclude names and runs the set-up command once; a failing set-up is shown', async () => {
    const workspace = await tempDir('ws-');
    const count = join(await tempDir('count-'), 'runs');
    const repo = await localRepository(
      join(workspace, 'app'),
      { '.env': 'SECRET=1\n', 'config/dev.local.json': '{}\n', 'config/other.json': 'no\n', 'notes.txt': 'not listed\n' },
      { '.gitignore': '.env\nconfig/\n', '.worktreeinclude': '# local settings\n.env\nconfig/*.local.json\n', 'link.json': JSON.stringify({ setup: { command: `echo setting up; echo once >> ${count}` } }) },
    );
    const broken = await localRepository(join(workspace, 'broken'), {}, { 'link.json': JSON.stringify({ setup: { command: 'echo cannot install >&2; exit 3' } }) });
    await startAgent(['--workspace', workspace]);

    const first = await runInThread('cat .env; ls config; test -e notes.txt || echo no-notes', { repository: repo, branch: 'one' });
    assert.equal(done(first.events)?.status, RunStatus.COMPLETED, first.err.join('\n'));
    assert.deepEqual(first.out, ['SECRET=1', 'dev.local.json', 'no-notes'], 'only the listed files are copied');
    assert.ok(first.err.includes('set-up: setting up'), first.err.join('\n'));
    assert.ok(first.err.includes('set-up: copied from the main checkout: .env, config/dev.local.json'), first.err.join('\n'));
    const again = await runInThread('echo second', {}, first.threadId);
    assert.equal(done(again.events)?.status, RunStatus.COMPLETED);
    assert.deepEqual(again.err.filter((l) => l.startsWith('set-up:')), [], 'the set-up ran with the worktree only');
    assert.equal(await readFile(count, 'utf8'), 'once\n');
    await runInThread('true', { repository: repo, branch: 'two' });
    assert.equal(await readFile(count, 'utf8'), 'once\nonce\n', 'once per new worktree');

    const failed = await runInThread('echo never', { repository: broken, branch: 'x' });
    const end = done(failed.events);
    assert.equal(end?.status, RunStatus.FAILED);
    assert.equal(end?.failureReason, 'SETUP_FAILED');
    assert.ok(failed.err.includes('set-up: cannot install'), failed.err.join('\n'));
    assert.ok(failed.err.includes('set-up: failed with exit code 3'));
    assert.deepEqual(failed.out, [], 'the run did not go on');
    const ensured = await failure(sandboxes.ensureSandbox({ linkId: env.link.id, repository: broken, branch: 'y' }));
    assert.equal(ensured.code, Code.FailedPrecondition);
    assert.equal(reasonOf(ensured), 'SETUP_FAILED');
    assert.match(ensured.rawMessage, /exit code 3: cannot install/);

    // The machines page's table: sizes measured now, the repository and thread of each, failed ones failed.
    const never = await runInThread('echo never', { repository: repo, branch: 'main' }); // main is checked out in the repository itself
    assert.equal(done(never.events)?.failureReason, 'SANDBOX_FAILED');
    const { sandboxes: table } = await sandboxes.listSandboxes({ linkId: env.link.id, measure: true });
    const row = (branch: string, repository = repo) => table.find((t) => t.branch === branch && t.repository === repository)!;
    assert.equal(row('one').state, SandboxState.READY);
    assert.ok(row('one').sizeBytes > 0n, 'the size was measured on the machine');
    assert.equal(row('one').lastThreadId, first.threadId);
    assert.equal(row('one').threadCount, 1);
    assert.equal(row('x', broken).state, SandboxState.FAILED, 'a failed set-up shows');
    assert.match(row('x', broken).error, /set-up command .* failed with exit code 3/);
    assert.equal(row('main').state, SandboxState.FAILED, 'a worktree that was never made shows as failed');
    assert.match(row('main').error, /cannot prepare the sandbox: .*already (checked out|used by worktree)/);
  });

  it('a scratch thread is in no git repository, even when linkd\'s data directory is inside one', async () => {
    const checkout = await localRepository(await tempDir('checkout-'));
    const home = await startAgent([], join(checkout, '.data'));
    const scratch = await runInThread('git rev-parse --show-toplevel 2>&1; echo "exit $?"; git status 2>&1 | head -1; pwd', {});
    assert.equal(done(scratch.events)?.status, RunStatus.COMPLETED, scratch.err.join('\n'));
    assert.match(scratch.out[0], /not a git repository/);
    assert.equal(scratch.out[1], 'exit 128');
    assert.match(scratch.out[2], /not a git repository/);
    assert.ok(!scratch.out[3].startsWith(checkout), `the scratch directory ${scratch.out[3]} is outside the checkout`);
    assert.ok(scratch.out[3].startsWith(realpathSync(home)), 'under the state directory');
    assert.equal(git(checkout, 'status', '--porcelain'), '?? .data/', 'nothing else changed in the checkout');
  });

  it('linkctl repositories list prints a table (and JSON); `linkd workspace add` is advertised without a restart', async function () {
    this.timeout(120_000); // six processes one after another, each with its own deadline
    const workspace = await tempDir('ws-');
    const later = await tempDir('ws-later-');
    const repo = await localRepository(join(workspace, 'app'));
    const laterRepo = await localRepository(join(later, 'tool'));
    await startAgent(['--workspace', workspace]);
    const linkctl = async (...args: string[]) => {
      const child = spawnTracked('linkctl', process.execPath, [join(repoRoot, 'bin', 'linkctl.js'), '--server', env.grpcUrl, '--token', env.userToken, ...args]);
      const { code } = await child.waitForExit(30_000);
      return { code, output: child.output };
    };
    const table = await linkctl('repositories', 'list', '--link', env.link.id);
    assert.equal(table.code, 0, table.output);
    assert.match(table.output, /PATH\s+NAME\s+BRANCH\s+DEFAULT/);
    assert.match(table.output, new RegExp(`${repo}\\s+app\\s+main\\s+main`));
    const json = await linkctl('repositories', 'list', '--link', env.link.id, '--json');
    assert.deepEqual(JSON.parse(json.output.slice(json.output.indexOf('{'))).repositories, [{ path: repo, name: 'app', currentBranch: 'main', defaultBranch: 'main' }]);

    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      await watch.snapshot();
      const added = await runLinkd(['workspace', 'add', later, '--data-dir', agentDir]);
      assert.equal(added.code, 0, added.output);
      assert.match(added.output, /added workspace .* \(1 git repository\)/);
      await watch.until(env.link.id, (link) => Boolean(link.capabilities?.repositories.some((r) => r.path === laterRepo)), 'advertising the added workspace');
    } finally {
      await watch.close();
    }
    const listed = await runLinkd(['workspace', 'list', '--data-dir', agentDir]);
    assert.match(listed.output, new RegExp(laterRepo));
    assert.ok((await sandboxes.listRepositories({ linkId: env.link.id })).repositories.some((r) => r.path === laterRepo));
    const status = await runLinkd(['status', '--data-dir', agentDir]);
    assert.match(status.output, new RegExp(`workspaces: .*${realpathSync(later)}`));
  });
});
