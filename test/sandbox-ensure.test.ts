/**
 * Ensuring worktree sandboxes on the machine (linkd's `SandboxKeeper` with real git, a repository
 * served over file://): a later run's sandbox, and one made again from its own branch, need nothing
 * from the remote; a new worktree starts from what the remote has at the ensure, though it is
 * checked out while the remote is asked (the refs it starts from, of a mirror fetched a moment ago;
 * a fetch, of one fetched longer ago or by an earlier linkd); a remote that cannot be reached
 * leaves nothing; an ensure stopped half-way is made again.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../common/log.js';
import { SandboxKeeper } from '../agent/sandboxes/sandboxes.js';
import { git, makeRepository } from './helpers/git.js';
import { tempDir } from './helpers/temp.js';

describe('sandbox ensure', () => {
  let keeper: SandboxKeeper;
  let dataDir: string;
  /** Keepers of the data directory started as a later linkd would be (see `restart`). */
  const keepers: SandboxKeeper[] = [];

  const newKeeper = () => new SandboxKeeper({ dataDir, log: createLogger({ name: 'test', level: 'silent' }), allowedSchemes: ['file'] });

  beforeEach(async () => {
    dataDir = await tempDir('sandbox-ensure-');
    keeper = newKeeper();
    keepers.push(keeper);
  });

  afterEach(async () => {
    for (const each of keepers.splice(0)) await each.settled();
  });

  /** The keeper of a linkd started again on the same data directory: it has fetched nothing yet. */
  function restart(): void {
    keeper = newKeeper();
    keepers.push(keeper);
  }

  const ensure = (repository: string, branch: string, n = 1) =>
    keeper.ensure({ handle: `sbx_${String(n).padStart(20, '0')}`, provider: 'worktree', repository, branch });

  /** A new commit on the remote's `branch`; returns it. */
  async function commitOn(dir: string, branch: string, file: string): Promise<string> {
    git(dir, 'checkout', '--quiet', branch);
    await writeFile(join(dir, file), `${file} on ${branch}\n`);
    git(dir, 'add', '-A');
    git(dir, 'commit', '--quiet', '-m', `${file} on ${branch}`);
    const commit = git(dir, 'rev-parse', 'HEAD');
    git(dir, 'checkout', '--quiet', 'main');
    return commit;
  }

  it('a later run\'s sandbox is ready while the remote cannot be reached: an existing worktree is not fetched for', async () => {
    const repo = await makeRepository();
    const made = await ensure(repo.url, 'feature');
    await writeFile(join(made.path, 'work.txt'), 'uncommitted work\n');
    await rename(repo.dir, `${repo.dir}.away`);
    try {
      const again = await ensure(repo.url, 'feature');
      assert.equal(again.path, made.path);
      assert.equal(await readFile(join(again.path, 'work.txt'), 'utf8'), 'uncommitted work\n', 'the same worktree, as the run left it');
      assert.equal(git(again.path, 'rev-parse', 'HEAD'), repo.feature);
    } finally {
      await rename(`${repo.dir}.away`, repo.dir);
    }
  });

  it('a new worktree starts from what the remote has now, though the mirror knew older commits', async () => {
    const repo = await makeRepository();
    await ensure(repo.url, 'main', 1);
    const main = await commitOn(repo.dir, 'main', 'later-on-main');
    const feature = await commitOn(repo.dir, 'feature', 'later-on-feature');

    const fresh = await ensure(repo.url, 'topic/new', 2);
    assert.equal(git(fresh.path, 'rev-parse', 'HEAD'), main, 'a new branch starts at the remote\'s default branch as it is now');
    assert.ok(existsSync(join(fresh.path, 'later-on-main')));
    assert.equal(git(fresh.path, 'status', '--porcelain'), '', 'and holds nothing of its own');

    const tracking = await ensure(repo.url, 'feature', 3);
    assert.equal(git(tracking.path, 'rev-parse', 'HEAD'), feature, 'the remote\'s branch as it is now');
    assert.equal(git(tracking.path, 'rev-parse', '--abbrev-ref', 'feature@{upstream}'), 'origin/feature');
    assert.equal(git(tracking.path, 'status', '--porcelain'), '');
  });

  it('a new worktree whose fetch fails is refused with REPOSITORY_UNAVAILABLE and leaves no worktree or branch; it is made once the remote is back', async () => {
    const repo = await makeRepository();
    const first = await ensure(repo.url, 'main', 1);
    await rename(repo.dir, `${repo.dir}.away`);
    try {
      await assert.rejects(ensure(repo.url, 'feature', 2), (error: Error & { reason?: string }) => error.reason === 'REPOSITORY_UNAVAILABLE');
    } finally {
      await rename(`${repo.dir}.away`, repo.dir);
    }
    assert.deepEqual((await readdir(keeper.root)).filter((name) => !name.endsWith('.json')), [first.handle], 'no checkout is left');
    assert.equal(git(first.mirror!, 'branch', '--list', 'feature'), '', 'no branch is left in the mirror');
    const feature = await commitOn(repo.dir, 'feature', 'after-the-outage');
    const made = await ensure(repo.url, 'feature', 2);
    assert.equal(git(made.path, 'rev-parse', 'HEAD'), feature);
  });

  it('a worktree an ensure left half-made (no record, not checked out) is made again; one with work in it is kept', async () => {
    const repo = await makeRepository();
    const made = await ensure(repo.url, 'feature');
    // What a stop during the checkout leaves: the worktree registered, no index, its files not all there.
    await rm(join(keeper.root, `${made.handle}.json`));
    await rm(join(git(made.path, 'rev-parse', '--absolute-git-dir'), 'index'));
    await rm(join(made.path, 'FEATURE'));
    const again = await ensure(repo.url, 'feature');
    assert.equal(await readFile(join(again.path, 'FEATURE'), 'utf8'), 'a feature\n');
    assert.equal(git(again.path, 'status', '--porcelain'), '');

    await rm(join(keeper.root, `${made.handle}.json`));
    await writeFile(join(again.path, 'work.txt'), 'uncommitted work\n');
    const kept = await ensure(repo.url, 'feature');
    assert.equal(await readFile(join(kept.path, 'work.txt'), 'utf8'), 'uncommitted work\n', 'a checked-out worktree without its record is kept');
  });

  it('a sandbox made again from its own branch (after it was removed) is made while the remote cannot be reached, with its commits', async () => {
    const repo = await makeRepository();
    const made = await ensure(repo.url, 'topic/own');
    await writeFile(join(made.path, 'own.txt'), 'committed in the sandbox\n');
    git(made.path, 'add', '-A');
    git(made.path, 'commit', '--quiet', '-m', 'own work');
    const own = git(made.path, 'rev-parse', 'HEAD');
    await keeper.delete(made.handle);
    await rename(repo.dir, `${repo.dir}.away`);
    try {
      const again = await ensure(repo.url, 'topic/own');
      assert.equal(git(again.path, 'rev-parse', 'HEAD'), own, 'the branch as the sandbox left it');
      assert.equal(git(again.path, 'status', '--porcelain'), '');
    } finally {
      await rename(`${repo.dir}.away`, repo.dir);
    }
  });

  it('a branch pushed or deleted on the remote a moment after the mirror was fetched: a new worktree starts from the remote\'s branch, or from its default', async () => {
    const repo = await makeRepository();
    await ensure(repo.url, 'main', 1);
    git(repo.dir, 'branch', 'pushed', 'feature');
    git(repo.dir, 'branch', '--quiet', '-D', 'feature');

    const pushed = await ensure(repo.url, 'pushed', 2);
    assert.equal(git(pushed.path, 'rev-parse', 'HEAD'), repo.feature, 'the branch the remote has now, not the default');
    assert.equal(git(pushed.path, 'rev-parse', '--abbrev-ref', 'pushed@{upstream}'), 'origin/pushed');

    const deleted = await ensure(repo.url, 'feature', 3);
    assert.equal(git(deleted.path, 'rev-parse', 'HEAD'), repo.main, 'a branch gone from the remote starts anew from its default branch');
    assert.equal(git(deleted.path, 'status', '--porcelain'), '');
  });

  it('after a restart, a new worktree starts from what the remote has now, and is refused with REPOSITORY_UNAVAILABLE while it cannot be reached', async () => {
    const repo = await makeRepository();
    await ensure(repo.url, 'main', 1);
    const feature = await commitOn(repo.dir, 'feature', 'before-the-restart');
    restart();
    const made = await ensure(repo.url, 'feature', 2);
    assert.equal(git(made.path, 'rev-parse', 'HEAD'), feature);

    restart();
    await rename(repo.dir, `${repo.dir}.away`);
    try {
      await assert.rejects(ensure(repo.url, 'topic/new', 3), (error: Error & { reason?: string }) => error.reason === 'REPOSITORY_UNAVAILABLE');
    } finally {
      await rename(`${repo.dir}.away`, repo.dir);
    }
    assert.equal(existsSync(join(keeper.root, 'sbx_00000000000000000003')), false, 'no checkout is left');
  });
});
