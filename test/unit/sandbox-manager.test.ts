/**
 * linkd's own checks on sandbox requests (the control plane checks first, but the machine trusts
 * nothing it is sent), with real git repositories on disk.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, realpath, rename, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../../common/log.js';
import { branchProblem, repositoryScheme, SandboxError } from '../../common/sandbox-names.js';
import { SandboxKeeper } from '../../agent/sandboxes/sandboxes.js';
import { makeRepository } from '../helpers/git.js';
import { tempDir } from '../helpers/temp.js';

const HANDLE = 'sbx_abcdefghij0123456789';

async function refused(promise: Promise<unknown>, reason: string, field?: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SandboxError, String(error));
    assert.equal(error.reason, reason);
    if (field) assert.equal(error.field, field);
    return true;
  });
}

describe('SandboxKeeper: what linkd accepts', () => {
  const log = createLogger({ name: 't', level: 'silent' });

  it('refuses handles that are not its own pattern, before touching the disk', async () => {
    const dataDir = await tempDir('linkd-sbx-');
    const manager = new SandboxKeeper({ dataDir, log, allowedSchemes: ['file'] });
    for (const handle of ['sbx_/../../etc', '../sbx_abcdefghij0123456789', 'sbx_abcdefghij012345678/', 'sbx_ABCDEFGHIJ0123456789', '', '/etc']) {
      await refused(manager.ensure({ handle, provider: 'directory', repository: '', branch: '' }), 'INVALID_FIELD', 'handle');
      await refused(manager.delete(handle), 'INVALID_FIELD', 'handle');
    }
    assert.deepEqual(await readdir(dataDir), []);
  });

  it('refuses schemes the machine does not allow (file only when enabled) and git transports', async () => {
    const repo = await makeRepository();
    const manager = new SandboxKeeper({ dataDir: await tempDir('linkd-sbx-'), log });
    for (const repository of [repo.url, 'ext::sh -c id', 'fd::3', 'http://example.com/r.git', '--upload-pack=touch /tmp/x', '']) {
      await refused(manager.ensure({ handle: HANDLE, provider: 'worktree', repository, branch: 'main' }), 'INVALID_FIELD', 'repository');
    }
    const allowing = new SandboxKeeper({ dataDir: await tempDir('linkd-sbx-'), log, allowedSchemes: ['file'] });
    const made = await allowing.ensure({ handle: HANDLE, provider: 'worktree', repository: repo.url, branch: 'main' });
    assert.ok(existsSync(join(made.path, 'README')));
  });

  it('works on a local repository only inside a workspace: not outside, not through a symlink out of one', async () => {
    const workspace = await realpath(await tempDir('ws-'));
    const outside = await makeRepository();
    const inside = await makeRepository();
    await symlink(outside.dir, join(workspace, 'escape'));
    await rename(inside.dir, join(workspace, 'app'));
    const dataDir = await tempDir('linkd-sbx-');
    const manager = new SandboxKeeper({ dataDir, log, workspaces: () => [workspace] });
    for (const repository of [outside.dir, join(workspace, 'escape'), join(workspace, 'app', '..', '..', outside.dir.split('/').at(-1)!), workspace]) {
      await refused(manager.ensure({ handle: HANDLE, provider: 'worktree', repository, branch: 'main' }), 'INVALID_FIELD', 'repository');
      await refused(manager.ensure({ handle: HANDLE, provider: 'in-place', repository, branch: '' }), 'INVALID_FIELD', 'repository');
    }
    await refused(manager.ensure({ handle: HANDLE, provider: 'in-place', repository: join(workspace, 'app'), branch: 'main' }), 'INVALID_FIELD', 'branch');
    await refused(new SandboxKeeper({ dataDir, log }).ensure({ handle: HANDLE, provider: 'worktree', repository: join(workspace, 'app'), branch: 'x' }), 'INVALID_FIELD', 'repository');
    assert.deepEqual((await readdir(join(dataDir, 'sandboxes')).catch(() => [])).filter((n) => !n.endsWith('.json')), []);
    const made = await manager.ensure({ handle: HANDLE, provider: 'worktree', repository: join(workspace, 'app'), branch: 'feature' });
    assert.ok(existsSync(join(made.path, 'FEATURE')), 'the existing branch is checked out');
    await manager.delete(HANDLE);
    assert.equal(existsSync(made.path), false);
    assert.ok(existsSync(join(workspace, 'app', 'README')), 'the repository stays');
  });

  it('knows git\'s branch rules', () => {
    for (const bad of ['../../etc', '-x', 'a..b', 'a\x01b', 'a b', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[', 'a\\b', '.hidden', 'x/.y', 'y.lock', 'end/', '/start', 'a//b', 'dot.', '@', 'a@{1}', '']) {
      assert.ok(branchProblem(bad), `${JSON.stringify(bad)} is refused`);
    }
    for (const good of ['main', 'feature/x', 'release-1.2', 'user@host', 'a.b', 'UPPER_case']) assert.equal(branchProblem(good), undefined, good);
    assert.equal(repositoryScheme('git@github.com:org/repo.git'), 'ssh');
    assert.equal(repositoryScheme('ssh://git@host/repo'), 'ssh');
    assert.equal(repositoryScheme('ext::sh -c id'), 'ext');
  });

  it('concurrent ensures of one sandbox share one operation', async () => {
    const repo = await makeRepository();
    const lines: string[] = [];
    const counting = createLogger({ name: 't', level: 'info', destination: { write: (line: string) => void lines.push(line) } });
    const manager = new SandboxKeeper({ dataDir: await tempDir('linkd-sbx-'), log: counting, allowedSchemes: ['file'] });
    const all = await Promise.all(Array.from({ length: 10 }, () => manager.ensure({ handle: HANDLE, provider: 'worktree', repository: repo.url, branch: 'feature' })));
    assert.equal(new Set(all.map((s) => s.path)).size, 1);
    assert.equal(lines.filter((l) => l.includes('sandbox made')).length, 1);
  });

  it('refuses a checkout with a symlink out of it, and leaves nothing behind', async () => {
    const repo = await makeRepository({ inner: 'symlink:README', out: 'symlink:../../../../etc/passwd' });
    const dataDir = await tempDir('linkd-sbx-');
    const manager = new SandboxKeeper({ dataDir, log, allowedSchemes: ['file'] });
    await refused(manager.ensure({ handle: HANDLE, provider: 'worktree', repository: repo.url, branch: 'main' }), 'INVALID_FIELD', 'repository');
    assert.equal(existsSync(join(dataDir, 'sandboxes', HANDLE)), false);
    assert.deepEqual(await manager.list(), []);
  });
});
