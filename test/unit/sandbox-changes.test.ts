/**
 * linkd's side of changes and git actions, with real repositories on disk: the machine refuses
 * them itself while a run uses the sandbox, refuses a sandbox whose own git config would run a
 * program, and never holds one enormous line.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { createLogger } from '../../common/log.js';
import { SandboxRequestSchema } from '../../gen/link/v1/link_service_pb.js';
import { answerSandboxRequest } from '../../agent/sandboxes/requests.js';
import { MAX_FILE_PATCH_BYTES, sandboxChanges } from '../../agent/sandboxes/changes.js';
import { SandboxKeeper } from '../../agent/sandboxes/sandboxes.js';
import { git, makeRepository } from '../helpers/git.js';
import { tempDir } from '../helpers/temp.js';

const HANDLE = 'sbx_abcdefghij0123456789';

describe('sandbox changes and git actions on the machine', () => {
  const log = createLogger({ name: 't', level: 'silent' });

  async function setUp(busy = () => false, provider = 'worktree') {
    const repo = await makeRepository();
    const manager = new SandboxKeeper({ dataDir: await tempDir('linkd-sbx-'), log, allowedSchemes: ['file'], busy });
    const spec = { handle: HANDLE, provider, repository: repo.url, branch: 'work' };
    const sandbox = await manager.ensure(spec);
    return { repo, manager, spec, sandbox };
  }

  it('refuses commit, push and discard with SANDBOX_BUSY while a run uses the sandbox, reading changes still works', async () => {
    let busy = false;
    const { manager, spec, sandbox, repo } = await setUp(() => busy);
    await writeFile(join(sandbox.path, 'wip.txt'), 'work in progress\n');
    busy = true;
    for (const op of [
      { case: 'commit' as const, value: { sandbox: spec, message: 'wip' } },
      { case: 'push' as const, value: spec },
      { case: 'discard' as const, value: spec },
    ]) {
      const reply = await answerSandboxRequest(manager, create(SandboxRequestSchema, { opId: 'op', op }));
      assert.equal(reply.result?.case, 'failure', op.case);
      assert.equal(reply.result?.case === 'failure' && reply.result.value.reason, 'SANDBOX_BUSY', op.case);
    }
    assert.ok(existsSync(join(sandbox.path, 'wip.txt')));
    const read = await answerSandboxRequest(manager, create(SandboxRequestSchema, { opId: 'op', op: { case: 'changes', value: { sandbox: spec, baseCommit: repo.main } } }));
    assert.equal(read.result?.case, 'changes');
    assert.deepEqual(read.result?.case === 'changes' && read.result.value.files?.map((f) => f.path), ['wip.txt']);
    const other = await answerSandboxRequest(manager, create(SandboxRequestSchema, { opId: 'op', op: { case: 'discard', value: { ...spec, branch: 'other' } } }));
    assert.equal(other.result?.case === 'failure' && other.result.value.reason, 'SANDBOX_NOT_FOUND', 'a spec that is not the sandbox here');
  });

  it('refuses a bubblewrap sandbox whose own git config would run a program (a clean filter), running nothing', async () => {
    const { manager, spec, sandbox, repo } = await setUp(() => false, 'bwrap');
    const marker = join(await tempDir('marker-'), 'ran');
    git(sandbox.path, 'config', 'filter.evil.clean', `touch ${marker}; cat`);
    await writeFile(join(sandbox.path, '.gitattributes'), '* filter=evil\n');
    await writeFile(join(sandbox.path, 'file.txt'), 'content\n');
    await assert.rejects(sandboxChanges(sandbox.path, repo.main, { confined: true }), /filter\.evil\.clean/);
    const reply = await answerSandboxRequest(manager, create(SandboxRequestSchema, { opId: 'op', op: { case: 'commit', value: { sandbox: spec, message: 'x' } } }));
    assert.equal(reply.result?.case === 'failure' && reply.result.value.reason, 'UNSAFE_REPOSITORY_CONFIG');
    assert.equal(existsSync(marker), false, 'the filter never ran');
  });

  it('an enormous single line is counted, cut, and never held whole', async () => {
    const { sandbox, repo } = await setUp();
    await writeFile(join(sandbox.path, 'bundle.min.js'), `${'x'.repeat(3 * 1024 * 1024)}\n`);
    await writeFile(join(sandbox.path, 'z.txt'), 'after\n');
    const changes = await sandboxChanges(sandbox.path, repo.main, { confined: false });
    const [bundle, after] = changes.files!;
    assert.equal(bundle.path, 'bundle.min.js');
    assert.equal(bundle.additions, 1);
    assert.equal(bundle.patchTruncated, true);
    assert.ok(Buffer.byteLength(bundle.patch ?? '') <= MAX_FILE_PATCH_BYTES);
    assert.doesNotMatch(bundle.patch ?? '', /x{100}/, 'no piece of the line is shown as if it were one');
    assert.match(after.patch ?? '', /\+after\n$/);
    assert.equal(changes.truncated, true);
  });
});
