/**
 * What runs change in git sandboxes, and keeping or throwing it away, through the real control
 * plane and a real linkd on real repositories (served over file://): each run's change just before
 * its done (added, modified, deleted, renamed, binary, untracked; a large one capped), the user's
 * index untouched; `linkctl runs diff`; a sandbox's whole change; commit, push to a bare
 * repository, discard and delete, each refused with SANDBOX_BUSY while a run is in progress.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import { reasonOf } from '../common/errors.js';
import { FileDiffStatus, RunStatus, type RunChanges, type RunEvent } from '../gen/link/v1/run_pb.js';
import type { SandboxService } from '../gen/link/v1/sandbox_service_pb.js';
import type { ThreadService } from '../gen/link/v1/thread_service_pb.js';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { git, makeRepository } from './helpers/git.js';
import { repoRoot, spawnLinkd, spawnTracked, type TestProcess } from './helpers/processes.js';
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

const changesOf = (events: RunEvent[]): RunChanges | undefined => {
  const found = events.find((e) => e.event.case === 'changes');
  return found?.event.case === 'changes' ? found.event.value : undefined;
};

describe('what runs change, and keeping or discarding it', () => {
  let env: TestServer;
  let agent: TestProcess | undefined;
  let threads: Client<typeof ThreadService>;
  let sandboxes: Client<typeof SandboxService>;

  beforeEach(async () => {
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    threads = threadClient(env.grpcUrl, env.userToken);
    sandboxes = sandboxClient(env.grpcUrl, env.userToken);
    const home = await tempDir('home-');
    // The machine's git identity, for commits.
    await writeFile(join(home, '.gitconfig'), '[user]\n\tname = Machine Owner\n\temail = owner@example.com\n');
    agent = spawnLinkd(
      ['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-'), '--repository-schemes', 'https,ssh,file'],
      { HOME: home },
    );
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      await watch.online(env.link.id);
    } finally {
      await watch.close();
    }
  });

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    closeClients();
    await env.close();
  });

  async function send(text: string, where: { threadId?: string; repository?: string; branch?: string; sandboxProvider?: string }) {
    const threadId = where.threadId ?? (await threads.createThread({})).thread!.id;
    const pins = where.threadId ? {} : { harness: 'shell', linkId: env.link.id, repository: where.repository, branch: where.branch, sandboxProvider: where.sandboxProvider };
    const { runId } = await threads.sendMessage({ threadId, text, ...pins });
    return { threadId, runId };
  }

  async function run(text: string, where: Parameters<typeof send>[1]) {
    const { threadId, runId } = await send(text, where);
    const events = await collect(threads, runId, 0n, 60_000);
    const done = events.at(-1)!.event;
    assert.equal(done.case === 'done' && done.value.status, RunStatus.COMPLETED, JSON.stringify(events.map((e) => e.event.value)));
    const { thread } = await threads.getThread({ threadId });
    return { threadId, runId, events, thread: thread!, sandbox: (await sandboxes.getSandbox({ sandboxId: thread!.sandboxId })).sandbox! };
  }

  async function linkctl(...args: string[]) {
    const child = spawnTracked('linkctl', process.execPath, [join(repoRoot, 'bin', 'linkctl.js'), '--server', env.grpcUrl, '--token', env.userToken, ...args]);
    const { code } = await child.waitForExit(30_000);
    return { code, output: child.output };
  }

  it('a run\'s change comes before its done: added, modified, deleted, renamed, binary and untracked files, the index left as it was', async () => {
    const lines = Array.from({ length: 12 }, (_, i) => `line ${i + 1} of a file that moves`).join('\n');
    const repo = await makeRepository({ 'old-name.txt': `${lines}\n`, 'gone.txt': 'soon deleted\n', 'logo.bin': 'not yet binary\n' });
    const script = [
      'echo staged > staged.txt && git add staged.txt',
      'echo "a second line" >> README',
      'mv old-name.txt new-name.txt',
      'rm gone.txt',
      "printf 'PNG\\000\\001\\002\\377' > logo.bin",
      'echo untracked > notes.md',
    ].join(' && ');
    const { events, sandbox, runId } = await run(script, { repository: repo.url, branch: 'work' });
    assert.equal(events.at(-2)?.event.case, 'changes', 'the change is the event just before done');
    const changes = changesOf(events)!;
    assert.equal(changes.baseCommit, repo.main, 'measured from the commit the run started from');
    assert.equal(changes.truncated, false);
    const byPath = new Map(changes.files.map((f) => [f.path, f]));
    assert.deepEqual([...byPath.keys()].sort(), ['README', 'gone.txt', 'logo.bin', 'new-name.txt', 'notes.md', 'staged.txt']);
    const readme = byPath.get('README')!;
    assert.equal(readme.status, FileDiffStatus.MODIFIED);
    assert.deepEqual([readme.additions, readme.deletions], [1, 0]);
    assert.match(readme.patch, /^diff --git a\/README b\/README\n[\s\S]*@@[\s\S]*\n hello from main\n\+a second line\n$/);
    const renamed = byPath.get('new-name.txt')!;
    assert.equal(renamed.status, FileDiffStatus.RENAMED);
    assert.equal(renamed.oldPath, 'old-name.txt');
    assert.deepEqual([renamed.additions, renamed.deletions], [0, 0]);
    assert.equal(byPath.get('gone.txt')!.status, FileDiffStatus.DELETED);
    assert.equal(byPath.get('gone.txt')!.deletions, 1);
    const binary = byPath.get('logo.bin')!;
    assert.equal(binary.binary, true);
    assert.equal(binary.patch, '', 'no content of a binary file');
    assert.equal(byPath.get('notes.md')!.status, FileDiffStatus.ADDED, 'untracked files count');
    assert.match(byPath.get('notes.md')!.patch, /\+untracked\n$/);
    assert.equal(byPath.get('staged.txt')!.status, FileDiffStatus.ADDED);

    // What was staged stays staged, and nothing else was.
    assert.deepEqual(git(sandbox.path, 'diff', '--cached', '--name-only').split('\n'), ['staged.txt']);
    assert.match(git(sandbox.path, 'status', '--porcelain'), /^\?\? notes\.md$/m);

    const diff = await linkctl('runs', 'diff', runId);
    assert.equal(diff.code, 0, diff.output);
    assert.ok(diff.output.includes(readme.patch), 'linkctl runs diff prints the unified diff');
    assert.match(diff.output, /^\+untracked$/m);
    const watched = await linkctl('runs', 'watch', runId);
    assert.match(watched.output, /changed 6 files \(\+3 -1\); `linkctl runs diff` shows them/);
    const json = await linkctl('runs', 'diff', runId, '--json');
    assert.equal(json.code, 0, json.output);
    const parsed = JSON.parse(json.output) as { baseCommit: string; files: { path: string; binary?: boolean }[] };
    assert.equal(parsed.baseCommit, repo.main);
    assert.equal(parsed.files.find((f) => f.path === 'logo.bin')?.binary, true);

    // A directory sandbox has no git: its runs record no change, and it has none to ask for.
    const scratch = await run('echo x > x.txt', { sandboxProvider: 'directory', branch: 'scratch' });
    assert.equal(changesOf(scratch.events), undefined);
    const notGit = await failure(sandboxes.getSandboxChanges({ sandboxId: scratch.sandbox.id }));
    assert.equal(notGit.code, Code.FailedPrecondition);
    assert.equal(reasonOf(notGit), 'NOT_A_REPOSITORY');
  });

  it('a 5 MB change (in a bubblewrap sandbox) is capped: every file listed with its counts, patches cut, a note says the diff is truncated', async () => {
    const repo = await makeRepository();
    const script = "yes 'a fairly long line of generated text for a change far too big to show whole' | head -n 64000 > big.txt && for i in 1 2 3; do echo small $i > small-$i.txt; done";
    const { events } = await run(script, { repository: repo.url, branch: 'big', sandboxProvider: 'bwrap' });
    const changes = changesOf(events)!;
    assert.equal(changes.truncated, true);
    assert.match(changes.note, /diff truncated/);
    assert.deepEqual(changes.files.map((f) => f.path), ['big.txt', 'small-1.txt', 'small-2.txt', 'small-3.txt']);
    const big = changes.files[0];
    assert.equal(big.additions, 64000, 'counted whole');
    assert.equal(big.patchTruncated, true);
    assert.ok(Buffer.byteLength(big.patch) <= 256 * 1024, `a file's patch is at most 256 KiB (${big.patch.length})`);
    assert.ok(changes.files.reduce((n, f) => n + Buffer.byteLength(f.patch), 0) <= 1024 * 1024);
    assert.match(changes.files[3].patch, /\+small 3\n$/, 'the small files are still shown');
  });

  it('commit (default message: the thread\'s first message), push to the remote, discard, the sandbox\'s whole change, delete', async () => {
    const repo = await makeRepository();
    const bare = join(await tempDir('remote-'), 'app.git');
    git(repo.dir, 'clone', '--quiet', '--bare', repo.dir, bare);
    const first = await run('echo notes > notes.md', { repository: `file://${bare}`, branch: 'work' });
    const sandboxId = first.sandbox.id;

    const committed = await sandboxes.commitSandbox({ sandboxId });
    assert.equal(committed.summary, 'echo notes > notes.md');
    assert.equal(git(first.sandbox.path, 'log', '-1', '--format=%H %s %ae'), `${committed.commit} echo notes > notes.md owner@example.com`);
    assert.equal(git(first.sandbox.path, 'status', '--porcelain'), '');
    assert.equal(reasonOf(await failure(sandboxes.commitSandbox({ sandboxId }))), 'NOTHING_TO_COMMIT');

    const pushed = await sandboxes.pushSandbox({ sandboxId });
    assert.equal(pushed.branch, 'work');
    assert.equal(pushed.remoteUrl, `file://${bare}`);
    assert.equal(pushed.pullRequestUrl, '', 'no pull-request page for a host that is not known');
    assert.equal(git(bare, 'log', '-1', '--format=%H %s', 'work'), `${committed.commit} echo notes > notes.md`);

    // A second run: the sandbox's whole change still holds the first (now committed) one.
    const second = await run('echo scratch > scratch.txt && echo more >> README', { threadId: first.threadId });
    assert.deepEqual(changesOf(second.events)!.files.map((f) => f.path), ['README', 'scratch.txt']);
    const { changes: whole } = await sandboxes.getSandboxChanges({ sandboxId });
    assert.equal(whole!.baseCommit, repo.main, 'from the commit the sandbox\'s first run started from');
    assert.deepEqual(whole!.files.map((f) => f.path), ['README', 'notes.md', 'scratch.txt']);

    const viaCli = await linkctl('sandboxes', 'discard', sandboxId);
    assert.equal(viaCli.code, 1, 'discarding asks for --yes');
    assert.ok(existsSync(join(first.sandbox.path, 'scratch.txt')));
    const discarded = await linkctl('sandboxes', 'discard', sandboxId, '--yes');
    assert.equal(discarded.code, 0, discarded.output);
    assert.equal(existsSync(join(first.sandbox.path, 'scratch.txt')), false);
    assert.equal(await readFile(join(first.sandbox.path, 'README'), 'utf8'), 'hello from main\n');
    assert.ok(existsSync(join(first.sandbox.path, 'notes.md')), 'what was committed stays');

    const third = await run('echo "more notes" >> notes.md', { threadId: first.threadId });
    assert.ok(third);
    const viaCliCommit = await linkctl('sandboxes', 'commit', sandboxId, '-m', 'More notes\n\nwritten by a run');
    assert.equal(viaCliCommit.code, 0, viaCliCommit.output);
    assert.match(viaCliCommit.output, /committed [0-9a-f]{12} More notes/);
    const push = await linkctl('sandboxes', 'push', sandboxId);
    assert.equal(push.code, 0, push.output);
    assert.equal(git(bare, 'log', '-1', '--format=%s', 'work'), 'More notes');

    await sandboxes.deleteSandbox({ sandboxId });
    assert.equal(existsSync(first.sandbox.path), false, 'the worktree is gone');
    assert.equal(git(bare, 'log', '-1', '--format=%s', 'work'), 'More notes', 'the pushed branch stays on the remote');
  });

  it('commit, push, discard and delete are refused with SANDBOX_BUSY while a run is in progress', async () => {
    const repo = await makeRepository();
    const { runId, threadId } = await send('echo running > wip.txt; echo running; sleep 120', { repository: repo.url, branch: 'busy' });
    for await (const { event } of threads.watchRun({ runId }, { timeoutMs: 30_000 })) if (event?.event.case === 'log') break;
    const { thread } = await threads.getThread({ threadId });
    const sandboxId = thread!.sandboxId;
    const calls = {
      commit: () => sandboxes.commitSandbox({ sandboxId, message: 'wip' }),
      push: () => sandboxes.pushSandbox({ sandboxId }),
      discard: () => sandboxes.discardSandboxChanges({ sandboxId }),
      delete: () => sandboxes.deleteSandbox({ sandboxId }),
    };
    for (const [name, call] of Object.entries(calls)) {
      const refused = await failure(call());
      assert.equal(refused.code, Code.FailedPrecondition, name);
      assert.equal(reasonOf(refused), 'SANDBOX_BUSY', name);
    }
    const path = (await sandboxes.getSandbox({ sandboxId })).sandbox!.path;
    assert.equal(await readFile(join(path, 'wip.txt'), 'utf8'), 'running\n', 'nothing was discarded');
    assert.equal(git(path, 'log', '-1', '--format=%H'), repo.main, 'nothing was committed');
    await threads.cancelRun({ runId });
    const events = await collect(threads, runId, 0n, 30_000);
    assert.deepEqual(changesOf(events)?.files.map((f) => f.path), ['wip.txt'], 'a cancelled run\'s change is recorded too');
    await sandboxes.discardSandboxChanges({ sandboxId });
    assert.equal(existsSync(join(path, 'wip.txt')), false);
  });
});
