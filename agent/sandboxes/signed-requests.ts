/**
 * The control plane's sandbox operations arrive signed (SignedSandboxRequest), like dispatches:
 * linkd acts on one only when the key it pinned at pairing signed it for this link and session,
 * recently and once. Anything else is answered with a failure naming why — the operation fails on
 * the control plane with that reason — and nothing on the machine changes.
 *
 *   SignedSandboxRequest ─▶ RunSupervisor.checkSigned (key, signature, link, epoch, age, nonce)
 *                           └─ decode ─▶ answerSandboxRequest ─▶ SandboxReply
 *   SandboxRequest (unsigned, from an older or a fake control plane) ─▶ failure UNSIGNED
 */
import { fromBinary } from '@bufbuild/protobuf';
import type { Logger } from '../../common/log.js';
import { SandboxRequestSchema, type SandboxRequest, type SignedSandboxRequest } from '../../gen/link/v1/link_service_pb.js';
import type { RunSupervisor } from '../runs/run-supervisor.js';
import { answerSandboxRequest, type SandboxReplyInit } from './requests.js';
import type { SandboxKeeper } from './sandboxes.js';
import { SignatureRefusal, type SandboxFailure } from '../../common/reasons.js';

/** Verifies a signed sandbox operation and, when it holds, carries it out. Never throws. */
export async function answerSignedSandboxRequest(
  runs: RunSupervisor,
  sandboxes: SandboxKeeper,
  signed: SignedSandboxRequest,
  log: Logger,
): Promise<SandboxReplyInit> {
  const fields = {
    runId: signed.opId,
    linkId: signed.linkId,
    sessionEpoch: signed.sessionEpoch,
    issuedAtMs: signed.issuedAtMs,
    nonce: signed.nonce,
    payload: signed.request,
  };
  const verdict = runs.checkSigned(fields, signed.signature, 'sandbox');
  if (verdict.kind !== 'accept') {
    const reason = verdict.kind === 'refuse' ? verdict.reason : SignatureRefusal.Replayed;
    const message = verdict.kind === 'refuse' ? verdict.message : 'this sandbox operation was already received';
    log.warn({ opId: signed.opId, reason }, `refusing a sandbox operation: ${message}`);
    return failure(signed.opId, reason, message);
  }
  let request: SandboxRequest;
  try {
    request = fromBinary(SandboxRequestSchema, signed.request);
  } catch {
    return failure(signed.opId, 'MALFORMED', 'the sandbox operation cannot be decoded');
  }
  if (request.opId !== signed.opId) return failure(signed.opId, 'MALFORMED', 'the sandbox operation does not match its signature');
  return answerSandboxRequest(sandboxes, request);
}

/** The answer to an unsigned operation: refused, whatever it asks. */
export function refuseUnsignedSandboxRequest(request: SandboxRequest, log: Logger): SandboxReplyInit {
  log.warn({ opId: request.opId }, 'refusing an unsigned sandbox operation');
  return failure(request.opId, 'UNSIGNED', 'linkd acts only on sandbox operations signed by the key pinned at pairing; upgrade the control plane');
}

function failure(opId: string, reason: SandboxFailure, message: string): SandboxReplyInit {
  return { opId, result: { case: 'failure', value: { reason, message } } };
}
