/**
 * The signature on DispatchRun: Ed25519 over a canonical message, so that a machine runs only what
 * its own control plane sent, only once, and only recently.
 *
 *   link-dispatch-v1\n<run id>\n<link id>\n<session epoch>\n<issued at ms>\n<nonce hex>\n<sha256(payload) hex>
 *
 * A SandboxRequest is signed the same way under its own domain (`link-sandbox-v1`, the op id in the
 * run id's place, the serialized request as the payload), and the answer to an interaction under
 * `link-answer-v1` (the run id, the serialized InteractionAnswerPayload) and a message steered into a
 * running turn under `link-steer-v1` (the run id, the serialized SteerPayload), so that one can never
 * pass for another.
 *
 * And the chain that carries a new signing key to machines paired under an old one: each key after
 * the first is endorsed by the one before it (Ed25519 over `link-dispatch-key-v1\n<new key hex>`).
 * A machine moves its pin along the chain only when every step from its pinned key verifies.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { SignatureRefusal } from './reasons.js';

export interface DispatchFields {
  runId: string;
  linkId: string;
  sessionEpoch: bigint;
  issuedAtMs: bigint;
  nonce: Uint8Array;
  payload: Uint8Array;
}

/** A dispatch older or newer than this (by the agent's clock) is refused STALE. */
export const MAX_DISPATCH_SKEW_MS = 60_000;
/** The length of DispatchRun.nonce; any other is refused MALFORMED. */
export const DISPATCH_NONCE_BYTES = 16;

/** What a signature is over: a run to start, an operation on the machine's sandboxes, or the user's answer to a run's interaction. */
export type SignedKind = 'run' | 'sandbox' | 'answer' | 'steer';
const DOMAINS: Record<SignedKind, string> = { run: 'link-dispatch-v1', sandbox: 'link-sandbox-v1', answer: 'link-answer-v1', steer: 'link-steer-v1' };

export function dispatchMessage(fields: DispatchFields, kind: SignedKind = 'run'): Buffer {
  const digest = createHash('sha256').update(fields.payload).digest('hex');
  return Buffer.from(
    [DOMAINS[kind], fields.runId, fields.linkId, String(fields.sessionEpoch), String(fields.issuedAtMs), Buffer.from(fields.nonce).toString('hex'), digest].join('\n'),
  );
}

export function signDispatch(fields: DispatchFields, privateKey: KeyObject, kind: SignedKind = 'run'): Buffer {
  return sign(null, dispatchMessage(fields, kind), privateKey);
}

export function verifyDispatch(fields: DispatchFields, signature: Uint8Array, publicKey: KeyObject, kind: SignedKind = 'run'): boolean {
  try {
    return verify(null, dispatchMessage(fields, kind), publicKey, signature);
  } catch {
    return false;
  }
}

/** Why linkd refuses a dispatch (RunRejected.reason), for the checks `checkDispatch` makes (common/reasons.ts). */
export type DispatchRefusalReason = SignatureRefusal;

/** What `checkDispatch` decided. */
export type DispatchVerdict =
  | { kind: 'accept'; nonceHex: string }
  /** The same run again, already accepted: acknowledge it, never start it twice. */
  | { kind: 'resend' }
  | { kind: 'refuse'; reason: DispatchRefusalReason; message: string };

/** What a session knows when it judges a dispatch. */
export interface DispatchContext {
  /** The key pinned at pairing (moved along a verified chain); undefined when there is none to trust. */
  key: KeyObject | undefined;
  /** Why there is no key: NO_KEY (never pinned) or KEY_MISMATCH (the server's key does not follow from the pin). */
  keyProblem?: { reason: typeof SignatureRefusal.NoKey | typeof SignatureRefusal.KeyMismatch; message: string };
  linkId: string;
  epoch: bigint;
  nowMs: number;
  /** Whether this run id was accepted before (a resend). */
  knownRun: boolean;
  /** Whether the nonce (hex) was seen within the last two skew windows. */
  nonceSeen: (nonceHex: string) => boolean;
}

/**
 * Judges one DispatchRun without side effects: the key, the nonce's form, the signature, the
 * link and session, the age, and replay, in that order (nothing past a failed signature is
 * trusted enough to be reported). The caller records an accepted nonce and answers the agent.
 */
export function checkDispatch(fields: DispatchFields, signature: Uint8Array, context: DispatchContext, kind: SignedKind = 'run'): DispatchVerdict {
  const refuse = (reason: DispatchRefusalReason, message: string): DispatchVerdict => ({ kind: 'refuse', reason, message });
  if (!context.key) {
    return context.keyProblem
      ? refuse(context.keyProblem.reason, context.keyProblem.message)
      : refuse(SignatureRefusal.NoKey, 'linkd has no dispatch key pinned at pairing; pair this machine again with `linkd login --code …`');
  }
  if (fields.nonce.length !== DISPATCH_NONCE_BYTES) {
    return refuse(SignatureRefusal.Malformed, `the dispatch's nonce is ${fields.nonce.length} bytes; it must be ${DISPATCH_NONCE_BYTES}`);
  }
  if (!verifyDispatch(fields, signature, context.key, kind)) return refuse(SignatureRefusal.BadSignature, "the dispatch is not signed by this machine's control plane");
  if (context.knownRun) return { kind: 'resend' };
  if (fields.linkId !== context.linkId) return refuse(SignatureRefusal.WrongLink, `the dispatch is for link ${fields.linkId}`);
  if (fields.sessionEpoch !== context.epoch) return refuse(SignatureRefusal.WrongSession, 'the dispatch was made for another session of this link');
  const ageMs = context.nowMs - Number(fields.issuedAtMs);
  if (Math.abs(ageMs) > MAX_DISPATCH_SKEW_MS) {
    const seconds = Math.round(Math.abs(ageMs) / 1000);
    return refuse(
      SignatureRefusal.Stale,
      ageMs > 0
        ? `the dispatch was issued ${seconds} s ago (at most ${MAX_DISPATCH_SKEW_MS / 1000} s are accepted)`
        : `the dispatch was issued ${seconds} s in the future: check this machine's clock`,
    );
  }
  const nonceHex = Buffer.from(fields.nonce).toString('hex');
  if (context.nonceSeen(nonceHex)) return refuse(SignatureRefusal.Replayed, 'this dispatch was already received');
  return { kind: 'accept', nonceHex };
}

/** The public key from its raw 32 bytes (as Welcome and `linkd login` carry it). */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  const prefix = Buffer.from('302a300506032b6570032100', 'hex');
  return createPublicKey({ key: Buffer.concat([prefix, Buffer.from(raw)]), format: 'der', type: 'spki' });
}

/** The raw 32 bytes of an Ed25519 public key. */
export function rawPublicKey(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(-32);
}

/** One key of the control plane's signing-key chain, with the previous key's endorsement of it. */
export interface KeyEndorsement {
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  /** Signature by the previous key over `endorsementMessage(publicKey)`; empty for the first key. */
  endorsement: Uint8Array;
}

/** What an endorsement signs: a fixed domain string and the new key, so it means nothing else. */
export function endorsementMessage(newPublicKey: Uint8Array): Buffer {
  return Buffer.from(`link-dispatch-key-v1\n${Buffer.from(newPublicKey).toString('hex')}`);
}

/** The previous key's endorsement of a new signing key (made once, when the key is rotated). */
export function endorseKey(newPublicKey: Uint8Array, previousPrivateKey: KeyObject): Buffer {
  return sign(null, endorsementMessage(newPublicKey), previousPrivateKey);
}

/** The key linkd trusts for a session, or why it trusts none. */
export type KeyChainResult =
  | { ok: true; key: Uint8Array; moved: boolean }
  | { ok: false; message: string };

/**
 * Decides which key to trust for a session from the pinned key, the key the server announces, and
 * its chain (oldest first, ending with the announced key). The pin moves only when the pinned key
 * is in the chain and every later step is endorsed by the key before it; anything else trusts
 * nothing: a server that shows a key of its own is not this machine's control plane.
 */
export function followKeyChain(pinned: Uint8Array, announced: Uint8Array, chain: readonly KeyEndorsement[]): KeyChainResult {
  const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
  if (same(pinned, announced)) return { ok: true, key: pinned, moved: false };
  const start = chain.findIndex((entry) => same(entry.publicKey, pinned));
  const mismatch = (why: string) => ({
    ok: false as const,
    message: `the server's dispatch key is not the one pinned at pairing (${why}); this machine refuses its runs. If the control plane is yours, pair again with \`linkd login --code …\``,
  });
  if (start < 0) return mismatch('no endorsement chain from the pinned key');
  if (!same(chain[chain.length - 1].publicKey, announced)) return mismatch('the chain does not end with the announced key');
  for (let i = start + 1; i < chain.length; i++) {
    let valid = false;
    try {
      valid = verify(null, endorsementMessage(chain[i].publicKey), ed25519PublicKey(chain[i - 1].publicKey), chain[i].endorsement);
    } catch {
      valid = false;
    }
    if (!valid) return mismatch(`step ${i} of the chain is not endorsed by the key before it`);
  }
  return { ok: true, key: announced, moved: true };
}
