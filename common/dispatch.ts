/**
 * The signature on DispatchRun: Ed25519 over a canonical message, so that a machine runs only what
 * its own control plane sent, only once, and only recently.
 *
 *   link-dispatch-v1\n<run id>\n<link id>\n<session epoch>\n<issued at ms>\n<nonce hex>\n<sha256(payload) hex>
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export interface DispatchFields {
  runId: string;
  linkId: string;
  sessionEpoch: bigint;
  issuedAtMs: bigint;
  nonce: Uint8Array;
  payload: Uint8Array;
}

export function dispatchMessage(fields: DispatchFields): Buffer {
  const digest = createHash('sha256').update(fields.payload).digest('hex');
  return Buffer.from(
    ['link-dispatch-v1', fields.runId, fields.linkId, String(fields.sessionEpoch), String(fields.issuedAtMs), Buffer.from(fields.nonce).toString('hex'), digest].join('\n'),
  );
}

export function signDispatch(fields: DispatchFields, privateKey: KeyObject): Buffer {
  return sign(null, dispatchMessage(fields), privateKey);
}

export function verifyDispatch(fields: DispatchFields, signature: Uint8Array, publicKey: KeyObject): boolean {
  try {
    return verify(null, dispatchMessage(fields), publicKey, signature);
  } catch {
    return false;
  }
}

/** The public key from its raw 32 bytes (as Welcome and `linkd login` carry it). */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  const prefix = Buffer.from('302a300506032b6570032100', 'hex');
  return createPublicKey({ key: Buffer.concat([prefix, Buffer.from(raw)]), format: 'der', type: 'spki' });
}
