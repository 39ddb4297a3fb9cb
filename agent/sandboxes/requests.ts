/** Answers the control plane's SandboxRequest frames: ensure, measure or delete, one reply each. */
import { execFile } from 'node:child_process';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { SandboxReplySchema, SandboxRequest } from '../../gen/link/v1/link_service_pb.js';
import { SandboxError } from '../../common/sandbox-names.js';
import type { SandboxManager } from './sandboxes.js';

export type SandboxReplyInit = MessageInitShape<typeof SandboxReplySchema>;

export async function answerSandboxRequest(manager: SandboxManager, request: SandboxRequest): Promise<SandboxReplyInit> {
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
        return { opId, result: { case: 'deleted', value: {} } };
      default:
        return { opId, result: { case: 'failure', value: { reason: 'UNSUPPORTED', message: 'this linkd does not know that sandbox operation; upgrade it' } } };
    }
  } catch (error) {
    if (error instanceof SandboxError) return { opId, result: { case: 'failure', value: { reason: error.reason, message: error.message, field: error.field } } };
    return { opId, result: { case: 'failure', value: { reason: 'SANDBOX_FAILED', message: (error as Error).message } } };
  }
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
