/** Answers the control plane's SandboxRequest frames: ensure, measure, delete and the git actions, one reply each. */
import { execFile } from 'node:child_process';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { SandboxReplySchema, SandboxRequest } from '../../gen/link/v1/link_service_pb.js';
import type { SandboxSpec } from '../../gen/link/v1/sandbox_pb.js';
import { HANDLE, SandboxError } from '../../common/sandbox-names.js';
import type { SandboxFailure } from '../../common/reasons.js';
import { firstBase, forgetBase, sandboxChanges } from './changes.js';
import { commitAll, discardChanges, pushBranch } from './git-actions.js';
import type { SandboxInfo, SandboxKeeper } from './sandboxes.js';

export type SandboxReplyInit = MessageInitShape<typeof SandboxReplySchema>;

const MAX_COMMIT_MESSAGE_BYTES = 64 * 1024;

export async function answerSandboxRequest(manager: SandboxKeeper, request: SandboxRequest): Promise<SandboxReplyInit> {
  const opId = request.opId;
  try {
    switch (request.op.case) {
      case 'ensure': {
        const sandbox = await manager.ensure(request.op.value);
        return { opId, result: { case: 'ready', value: { path: sandbox.path, sizeBytes: await diskUse(sandbox.path), setup: sandbox.setup } } };
      }
      case 'measure': {
        const sandbox = await manager.get(request.op.value.handle);
        if (!sandbox) return { opId, result: { case: 'failure', value: { reason: 'SANDBOX_NOT_FOUND', message: 'the sandbox is not on this machine (never made, evicted or removed)' } } };
        return { opId, result: { case: 'ready', value: { path: sandbox.path, sizeBytes: await diskUse(sandbox.path) } } };
      }
      case 'delete':
        await manager.delete(request.op.value.handle);
        await forgetBase(manager.root, request.op.value.handle);
        return { opId, result: { case: 'deleted', value: {} } };
      case 'changes': {
        const sandbox = await gitSandbox(manager, request.op.value.sandbox, false);
        const asked = request.op.value.baseCommit;
        if (asked && !/^[0-9a-f]{40}$/.test(asked)) throw new SandboxError('INVALID_FIELD', 'a base commit is 40 hex digits', 'base_commit');
        const base = asked || (await firstBase(manager.root, sandbox.handle));
        if (!base) throw new SandboxError('NO_BASE_COMMIT', 'no run has been recorded in this sandbox yet: there is nothing to compare with');
        return { opId, result: { case: 'changes', value: await sandboxChanges(sandbox.path, base, { confined: sandbox.provider === 'bwrap' }) } };
      }
      case 'commit': {
        const { message } = request.op.value;
        if (Buffer.byteLength(message) > MAX_COMMIT_MESSAGE_BYTES) throw new SandboxError('INVALID_FIELD', 'a commit message is at most 64 KiB', 'message');
        const sandbox = await gitSandbox(manager, request.op.value.sandbox, true);
        return { opId, result: { case: 'committed', value: await commitAll(sandbox.path, message, sandbox.provider === 'bwrap') } };
      }
      case 'push': {
        const sandbox = await gitSandbox(manager, request.op.value, true);
        return { opId, result: { case: 'pushed', value: await pushBranch(sandbox.path, sandbox.branch, sandbox.provider === 'bwrap') } };
      }
      case 'discard': {
        const sandbox = await gitSandbox(manager, request.op.value, true);
        await discardChanges(sandbox.path, sandbox.provider === 'bwrap');
        return { opId, result: { case: 'discarded', value: {} } };
      }
      default:
        return { opId, result: { case: 'failure', value: { reason: 'UNSUPPORTED' satisfies SandboxFailure, message: 'this linkd does not know that sandbox operation; upgrade it' } } };
    }
  } catch (error) {
    if (error instanceof SandboxError) return { opId, result: { case: 'failure', value: { reason: error.reason, message: error.message, field: error.field } } };
    return { opId, result: { case: 'failure', value: { reason: 'SANDBOX_FAILED' satisfies SandboxFailure, message: (error as Error).message } } };
  }
}

/**
 * The git sandbox a request names, as this machine knows it: the same provider, repository and
 * branch, made here and still on disk. With `exclusive`, SANDBOX_BUSY while a run uses it.
 */
async function gitSandbox(manager: SandboxKeeper, spec: SandboxSpec | undefined, exclusive: boolean): Promise<SandboxInfo> {
  if (!spec || !HANDLE.test(spec.handle)) throw new SandboxError('INVALID_FIELD', 'a sandbox handle is "sbx_" and 20 lowercase letters or digits', 'handle');
  const sandbox = await manager.get(spec.handle);
  if (!sandbox || sandbox.provider !== spec.provider || sandbox.repository !== spec.repository || sandbox.branch !== spec.branch) {
    throw new SandboxError('SANDBOX_NOT_FOUND', `sandbox ${spec.handle} is not on this machine (it is made again by its next run)`);
  }
  if (sandbox.provider === 'directory') throw new SandboxError('NOT_A_REPOSITORY', 'a directory sandbox is not a git repository');
  if (exclusive && manager.isBusy(sandbox.handle)) throw new SandboxError('SANDBOX_BUSY', `sandbox ${sandbox.handle} is in use by a run`);
  return sandbox;
}

/** Bytes under `path` (du, with a deadline); 0 when it cannot be told in time. */
function diskUse(path: string): Promise<bigint> {
  return new Promise((resolve) => {
    execFile('du', ['-sk', path], { timeout: 5_000, killSignal: 'SIGKILL' }, (error, stdout) => {
      const kib = Number(stdout.split('\t')[0]);
      resolve(error || !Number.isFinite(kib) ? 0n : BigInt(kib) * 1024n);
    });
  });
}
