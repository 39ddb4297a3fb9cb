/**
 * Sandboxes on the machine, through the real control plane and a real linkd: worktrees per branch
 * from one mirror of a real git repository (served over file://), shared by threads on the same
 * branch; concurrent ensures done once; eviction past the cap; delete refused during a run;
 * hostile input; bubblewrap isolation; Exec with its exit code and cancel; `linkd sandboxes`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import { reasonOf } from '../common/errors.js';
import { LogLine_Stream, RunStatus, type RunEvent } from '../gen/link/v1/run_pb.js';
import { SandboxState } from '../gen/link/v1/sandbox_pb.js';
import { ExecOutput_Stream, type ExecResponse, type SandboxService } from '../gen/link/v1/sandbox_service_pb.js';
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

const statusOf = (events: RunEvent[]) => {
  const last = events.at(-1)?.event;
  return last?.case === 'done' ? last.value.status : undefined;
};

const logsOf = (events: RunEvent[]) => events.flatMap((e) => (e.event.case === 'log' ? [e.event.value] : []));

describe('sandboxes', () => {
  let env: TestServer;
  let agent: TestProcess | undefined;
  let agentDir: string;
  let home: string;
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

  async function startAgent(...flags: string[]) {
    // The agent's data dir sits in a folder of this test's own, so "nothing outside the sandbox root" is checked where no other program writes.
    agentDir = join(await tempDir('sandboxes-test-'), 'linkd');
    await mkdir(agentDir, { recursive: true });
    home = await tempDir('home-');
    agent = spawnLinkd(
      ['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', agentDir, '--repository-schemes', 'https,ssh,file', ...flags],
      { HOME: home },
    );
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      await watch.online(env.link.id);
    } finally {
      await watch.close();
    }
  }

  /** Sends the first message of a new thread and returns its events once the run ended. */
  async function runInThread(text: string, where: { repository?: string; branch?: string; sandboxProvider?: string }) {
    const { thread } = await threads.createThread({});
    const { runId } = await threads.sendMessage({ threadId: thread!.id, text, harness: 'shell', linkId: env.link.id, ...where });
    const events = await collect(threads, runId, 0n, 60_000);
    const { thread: pinned } = await threads.getThread({ threadId: thread!.id });
    return { events, thread: pinned!, lines: logsOf(events).filter((l) => l.stream === LogLine_Stream.STDOUT).map((l) => l.text) };
  }

  it('threads on one branch share a worktree; other branches get their own from one mirror; a new branch starts from the default', async () => {
    await startAgent();
    const repo = await makeRepository();
    const show = 'pwd; git rev-parse --abbrev-ref HEAD; git rev-parse HEAD; git rev-parse --path-format=absolute --git-common-dir';
    const a = await runInThread(show, { repository: repo.url, branch: 'main' });
    const b = await runInThread(`${show}; echo from-b > b.txt`, { repository: repo.url, branch: 'main' });
    const feature = await runInThread(show, { repository: repo.url, branch: 'feature' });
    const fresh = await runInThread(show, { repository: repo.url, branch: 'topic/new-thing' });

    for (const r of [a, b, feature, fresh]) assert.equal(statusOf(r.events), RunStatus.COMPLETED, r.lines.join('\n'));
    assert.equal(a.thread.sandboxProvider, 'worktree', 'worktree is the default with a repository');
    assert.equal(a.thread.sandboxId, b.thread.sandboxId, 'same link, repository, branch and provider: one sandbox');
    assert.equal(a.lines[0], b.lines[0], 'the same worktree');
    assert.ok(existsSync(join(a.lines[0], 'b.txt')), 'what one thread writes, the other sees');
    assert.deepEqual(a.lines.slice(1, 3), ['main', repo.main]);
    assert.notEqual(feature.lines[0], a.lines[0], 'another branch, another worktree');
    assert.deepEqual(feature.lines.slice(1, 3), ['feature', repo.feature]);
    assert.deepEqual(fresh.lines.slice(1, 3), ['topic/new-thing', repo.main], 'a new branch starts at the default branch');
    assert.equal(new Set([a, feature, fresh].map((r) => r.lines[3])).size, 1, 'every worktree belongs to one mirror');
    assert.deepEqual(await readdir(join(agentDir, 'mirrors')), [a.lines[3].split('/').at(-1)]);
    for (const r of [a, feature, fresh]) assert.ok(r.lines[0].startsWith(join(agentDir, 'sandboxes')), 'under the sandbox root');

    const { sandboxes: listed } = await sandboxes.listSandboxes({ linkId: env.link.id });
    assert.equal(listed.length, 3);
    assert.ok(listed.every((s) => s.state === SandboxState.READY && s.path.startsWith(join(agentDir, 'sandboxes'))));
  });

  it('ten concurrent EnsureSandbox calls for one sandbox make it once', async () => {
    await startAgent();
    const repo = await makeRepository();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => sandboxes.ensureSandbox({ linkId: env.link.id, repository: repo.url, branch: 'feature' })),
    );
    const ids = new Set(results.map((r) => r.sandbox!.id));
    assert.equal(ids.size, 1, 'one sandbox');
    const [sandbox] = results.map((r) => r.sandbox!);
    assert.equal(sandbox.state, SandboxState.READY);
    assert.equal(await readFile(join(sandbox.path, 'FEATURE'), 'utf8'), 'a feature\n');
    const made = agent!.output.split('\n').filter((line) => line.includes('sandbox made') && line.includes(sandbox.id));
    assert.equal(made.length, 1, 'the work was done once');
  });

  it('eviction past the cap spares a sandbox with a running run; deleting it during the run is refused', async () => {
    await startAgent('--max-sandboxes', '2');
    const repo = await makeRepository();
    const { thread } = await threads.createThread({});
    const { runId } = await threads.sendMessage({ threadId: thread!.id, text: 'echo running; sleep 120', harness: 'shell', linkId: env.link.id, repository: repo.url, branch: 'busy' });
    for await (const { event } of threads.watchRun({ runId }, { timeoutMs: 30_000 })) if (event?.event.case === 'log') break;
    const { thread: pinned } = await threads.getThread({ threadId: thread!.id });
    const busy = (await sandboxes.getSandbox({ sandboxId: pinned!.sandboxId })).sandbox!;

    const second = (await sandboxes.ensureSandbox({ linkId: env.link.id, repository: repo.url, branch: 'second' })).sandbox!;
    const third = (await sandboxes.ensureSandbox({ linkId: env.link.id, repository: repo.url, branch: 'third' })).sandbox!;
    assert.ok(existsSync(busy.path), 'the least recently used sandbox has a run: it stays');
    assert.equal(existsSync(second.path), false, 'the least recently used idle sandbox was evicted');
    assert.ok(existsSync(third.path));

    const refused = await failure(sandboxes.deleteSandbox({ sandboxId: busy.id }));
    assert.equal(refused.code, Code.FailedPrecondition);
    assert.equal(reasonOf(refused), 'SANDBOX_BUSY');
    assert.ok(existsSync(busy.path));

    await threads.cancelRun({ runId });
    await collect(threads, runId, 0n, 30_000);
    await sandboxes.deleteSandbox({ sandboxId: busy.id });
    assert.equal(existsSync(busy.path), false);
    assert.equal(reasonOf(await failure(sandboxes.getSandbox({ sandboxId: busy.id }))), 'SANDBOX_NOT_FOUND');
    // An evicted sandbox is made again on its next use.
    const again = (await sandboxes.ensureSandbox({ linkId: env.link.id, repository: repo.url, branch: 'second' })).sandbox!;
    assert.equal(again.id, second.id);
    assert.ok(existsSync(again.path));
  });

  it('refuses hostile input with INVALID_ARGUMENT and creates nothing outside the sandbox root', async () => {
    await startAgent();
    const repo = await makeRepository();
    const parent = join(agentDir, '..');
    const before = (await readdir(parent)).sort();
    const linkId = env.link.id;
    for (const branch of ['../../etc', '-x', 'a..b', 'bad\x01name', 'x/.hidden', 'y.lock', 'has space', 'end/']) {
      const ensured = await failure(sandboxes.ensureSandbox({ linkId, repository: repo.url, branch }));
      assert.equal(ensured.code, Code.InvalidArgument, `branch ${JSON.stringify(branch)}`);
      assert.equal(reasonOf(ensured), 'INVALID_FIELD');
      const { thread } = await threads.createThread({});
      const sent = await failure(threads.sendMessage({ threadId: thread!.id, text: 'true', harness: 'shell', linkId, repository: repo.url, branch }));
      assert.equal(sent.code, Code.InvalidArgument, `sent with branch ${JSON.stringify(branch)}`);
    }
    for (const sandboxId of ['sbx_/../../etc', '../sbx_aaaaaaaaaaaaaaaaaaaa', 'sbx_AAAAAAAAAAAAAAAAAAAA/x']) {
      for (const call of [() => sandboxes.getSandbox({ sandboxId }), () => sandboxes.deleteSandbox({ sandboxId })]) {
        const error = await failure(call());
        assert.equal(error.code, Code.InvalidArgument, sandboxId);
      }
    }
    const pwned = join(await tempDir('pwned-'), 'pwned');
    for (const repository of [`ext::sh -c touch% ${pwned}`, 'http://example.com/repo.git', 'ftp://example.com/r.git', '-uhere', 'just-a-name']) {
      const error = await failure(sandboxes.ensureSandbox({ linkId, repository, branch: 'main' }));
      assert.equal(error.code, Code.InvalidArgument, repository);
    }
    // A repository with a symlink that leads out of its checkout: refused by the machine, removed.
    const escaping = await makeRepository({ 'escape': 'symlink:/etc', 'up': 'symlink:../../..' });
    const error = await failure(sandboxes.ensureSandbox({ linkId, repository: escaping.url, branch: 'main' }));
    assert.equal(error.code, Code.InvalidArgument);
    assert.match(error.rawMessage, /symlink/);
    assert.deepEqual(await readdir(join(agentDir, 'sandboxes')).then((names) => names.filter((n) => !n.endsWith('.json'))), [], 'no checkout is left');

    assert.equal(existsSync(pwned), false);
    assert.deepEqual((await readdir(parent)).filter((n) => !before.includes(n)), [], 'nothing was made beside the agent\'s data dir');
  });

  it('bwrap: a run cannot read the home directory or write outside its sandbox; the same run without bwrap can', async () => {
    await startAgent();
    const repo = await makeRepository();
    const secret = join(home, 'secret.txt');
    await writeFile(secret, 'the secret\n');
    const outside = join(agentDir, 'outside.txt');
    // Writes outside the sandbox either fail or land in bubblewrap's throwaway mounts: what counts
    // is whether they reach the machine's real files.
    const script = (name: string) =>
      `cat ${secret} 2>/dev/null || echo cannot-read; (echo x > ${join(home, `${name}.txt`)}) 2>/dev/null; ` +
      `(echo x > ${outside}-${name}) 2>/dev/null; echo inside > inside.txt && echo wrote-inside; pwd`;

    const boxed = await runInThread(script('boxed'), { repository: repo.url, branch: 'boxed', sandboxProvider: 'bwrap' });
    assert.deepEqual(boxed.lines.slice(0, 2), ['cannot-read', 'wrote-inside']);
    assert.equal(existsSync(join(home, 'boxed.txt')), false, 'the home directory was not written');
    assert.equal(existsSync(`${outside}-boxed`), false, 'nothing outside the sandbox was written');
    assert.equal(await readFile(join(boxed.lines[2], 'inside.txt'), 'utf8'), 'inside\n', 'it wrote its sandbox');

    const open = await runInThread(script('open'), { repository: repo.url, branch: 'open', sandboxProvider: 'worktree' });
    assert.deepEqual(open.lines.slice(0, 2), ['the secret', 'wrote-inside']);
    assert.ok(existsSync(join(home, 'open.txt')));
    assert.ok(existsSync(`${outside}-open`));
  });

  it('Exec streams output and the exit code; cancelling it stops its whole process group', async () => {
    await startAgent();
    const { sandbox } = await sandboxes.ensureSandbox({ linkId: env.link.id, provider: 'directory', branch: 'scratch' });
    const responses: ExecResponse[] = [];
    for await (const response of sandboxes.exec({ sandboxId: sandbox!.id, command: 'echo one; echo two >&2; pwd; exit 7' }, { timeoutMs: 30_000 })) {
      responses.push(response);
    }
    // Within a stream the order is kept; between stdout and stderr (two pipes) it is not defined.
    const lines = (stream: ExecOutput_Stream) => responses.flatMap((r) => (r.event.case === 'output' && r.event.value.stream === stream ? [r.event.value.text] : []));
    assert.deepEqual(lines(ExecOutput_Stream.STDOUT), ['one', sandbox!.path]);
    assert.deepEqual(lines(ExecOutput_Stream.STDERR), ['two']);
    const exit = responses.at(-1)!.event;
    assert.equal(exit.case, 'exit');
    assert.equal(exit.case === 'exit' && exit.value.exitCode, 7);
    assert.equal(exit.case === 'exit' && exit.value.reason, '');

    const marker = `exec-marker-${Math.floor(Math.random() * 1e9)}`;
    const abort = new AbortController();
    const stream = sandboxes.exec({ sandboxId: sandbox!.id, command: `(exec -a ${marker} sleep 300) & (exec -a ${marker} sleep 300) & echo ready; wait` }, { signal: abort.signal });
    for await (const response of stream) {
      if (response.event.case === 'output' && response.event.value.text === 'ready') break;
    }
    const running = () => execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => l.startsWith(marker));
    assert.equal(running().length, 2);
    abort.abort();
    const deadline = Date.now() + 20_000;
    while (running().length > 0) {
      assert.ok(Date.now() < deadline, 'the command\'s processes were not stopped');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  it('an offline machine gets LINK_OFFLINE; another user cannot see or touch the sandbox', async () => {
    await startAgent();
    const { sandbox } = await sandboxes.ensureSandbox({ linkId: env.link.id, provider: 'directory', branch: 'mine' });
    const bob = (await env.store.createUser('bob'))!;
    const other = sandboxClient(env.grpcUrl, bob.token);
    for (const call of [() => other.getSandbox({ sandboxId: sandbox!.id }), () => other.deleteSandbox({ sandboxId: sandbox!.id })]) {
      assert.equal(reasonOf(await failure(call())), 'SANDBOX_NOT_FOUND');
    }
    assert.deepEqual((await other.listSandboxes({})).sandboxes, []);
    await agent!.stop();
    agent = undefined;
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      await watch.offline(env.link.id);
    } finally {
      await watch.close();
    }
    for (const call of [() => sandboxes.ensureSandbox({ linkId: env.link.id, provider: 'directory', branch: 'mine' }), () => sandboxes.deleteSandbox({ sandboxId: sandbox!.id })]) {
      const error = await failure(call());
      assert.equal(error.code, Code.FailedPrecondition);
      assert.equal(reasonOf(error), 'LINK_OFFLINE');
    }
  });

  it('linkd sandboxes list, rm and prune (merged and clean only, saying why the others stay)', async () => {
    await startAgent();
    const repo = await makeRepository();
    const ensure = async (branch: string) => (await sandboxes.ensureSandbox({ linkId: env.link.id, repository: repo.url, branch })).sandbox!;
    const merged = await ensure('feature');
    const dirty = await ensure('dirty');
    const unmerged = await ensure('unmerged');
    const removable = await ensure('removable');
    await writeFile(join(dirty.path, 'wip.txt'), 'work in progress\n');
    await writeFile(join(unmerged.path, 'new.txt'), 'x\n');
    git(unmerged.path, 'add', 'new.txt');
    git(unmerged.path, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '--quiet', '-m', 'not merged');
    // feature is merged upstream.
    git(repo.dir, 'merge', '--quiet', '--ff-only', 'feature');
    await agent!.stop();
    agent = undefined;

    const listed = await runLinkd(['sandboxes', 'list', '--data-dir', agentDir]);
    for (const s of [merged, dirty, unmerged, removable]) assert.match(listed.output, new RegExp(`${s.id}\\s+worktree`));
    const rm = await runLinkd(['sandboxes', 'rm', removable.id, '--data-dir', agentDir]);
    assert.equal(rm.code, 0, rm.output);
    assert.equal(existsSync(removable.path), false);
    const bad = await runLinkd(['sandboxes', 'rm', '../../etc', '--data-dir', agentDir]);
    assert.equal(bad.code, 1);
    assert.match(bad.output, /INVALID_FIELD/);

    const pruned = await runLinkd(['sandboxes', 'prune', '--data-dir', agentDir]);
    assert.equal(pruned.code, 0, pruned.output);
    assert.match(pruned.output, new RegExp(`removed ${merged.id} \\(feature: merged and clean\\)`));
    assert.match(pruned.output, new RegExp(`kept ${dirty.id} \\(dirty\\): the worktree has uncommitted changes`));
    assert.match(pruned.output, new RegExp(`kept ${unmerged.id} \\(unmerged\\): branch unmerged is not merged`));
    assert.equal(existsSync(merged.path), false);
    assert.ok(existsSync(dirty.path) && existsSync(unmerged.path));
  });

  it('linkctl sandboxes ensure, list, exec (with the command\'s exit code) and rm', async () => {
    await startAgent();
    const repo = await makeRepository();
    const linkctl = async (...args: string[]) => {
      const child = spawnTracked('linkctl', process.execPath, [join(repoRoot, 'bin', 'linkctl.js'), '--server', env.grpcUrl, '--token', env.userToken, ...args]);
      const { code } = await child.waitForExit(30_000);
      return { code, output: child.output };
    };
    const ensured = await linkctl('sandboxes', 'ensure', '--link', env.link.id, '--repository', repo.url, '--branch', 'feature');
    assert.equal(ensured.code, 0, ensured.output);
    const [id] = /sbx_[a-z0-9]{20}/.exec(ensured.output)!;
    assert.match(ensured.output, /worktree\s+ready\s+feature/);
    assert.match((await linkctl('sandboxes', 'list')).output, new RegExp(id));
    const exec = await linkctl('sandboxes', 'exec', id, 'cat FEATURE; exit 5');
    assert.equal(exec.code, 5);
    assert.match(exec.output, /a feature/);
    assert.equal((await linkctl('sandboxes', 'rm', id)).code, 0);
    const gone = await linkctl('sandboxes', 'get', id);
    assert.equal(gone.code, 1);
    assert.match(gone.output, /SANDBOX_NOT_FOUND/);
  });
});
