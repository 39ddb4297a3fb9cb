/** Answers the control plane's SandboxRequest frames: ensure or delete, one reply each. */
import { execFile } from 'node:child_process';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { SandboxReplySchema, SandboxRequest } from '../../gen/link/v1/link_service_pb.js';
import { SandboxError } from '../../common/sandbox-names.js';
import type { SandboxFailure } from '../../common/reasons.js';
import type { SandboxKeeper } from './sandboxes.js';

export type SandboxReplyInit = MessageInitShape<typeof SandboxReplySchema>;

export async function answerSandboxRequest(manager: SandboxKeeper, request: SandboxRequest): Promise<SandboxReplyInit> {
  const opId = request.opId;
  try {
    switch (request.op.case) {
      case 'ensure': {
        const sandbox = await manager.ensure(request.op.value);
        return { opId, result: { case: 'ready', value: { path: sandbox.path, sizeBytes: await diskUse(sandbox.path) } } };
      }
      case 'delete':
        await manager.delete(request.op.value.handle);
        return { opId, result: { case: 'deleted', value: {} } };
      default:
        return { opId, result: { case: 'failure', value: { reason: 'UNSUPPORTED' satisfies SandboxFailure, message: 'this linkd does not know that sandbox operation; upgrade it' } } };
    }
  } catch (error) {
    if (error instanceof SandboxError) return { opId, result: { case: 'failure', value: { reason: error.reason, message: error.message, field: error.field } } };
    return { opId, result: { case: 'failure', value: { reason: 'SANDBOX_FAILED' satisfies SandboxFailure, message: (error as Error).message } } };
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
