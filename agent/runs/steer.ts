/**
 * Messages steered into a running turn, on the machine: the signed frame's verification and the
 * ledger that applies each message at most once.
 *
 *   SignedSteer ─▶ verifiedSteer (signature under `link-steer-v1`, payload for the signed run)
 *               ─▶ SteerLedger.apply (once per run and message id) ─▶ the CLI ─▶ SteerAck
 *
 * The control plane re-sends a steer until it has the SteerAck (after a reconnect, on another
 * session): a resend gets the first outcome again and changes nothing, even after the run ended
 * and was forgotten, as long as the ledger remembers it (the latest `LEDGER_SIZE` messages).
 */
import { fromBinary, type MessageInitShape } from '@bufbuild/protobuf';
import type { DispatchFields, DispatchVerdict } from '../../common/dispatch.js';
import type { Logger } from '../../common/log.js';
import { Reason, SignatureRefusal } from '../../common/reasons.js';
import { SteerPayloadSchema, type SignedSteer, type SteerAckSchema, type SteerPayload } from '../../gen/link/v1/link_service_pb.js';
import type { EventInit } from './outbox.js';

/** How many steered messages the ledger remembers (their outcomes), all runs together. */
const LEDGER_SIZE = 4096;

/** What applying a steered message did: taken into the turn, or why not (a Reason or SignatureRefusal). */
export type SteerOutcome = { applied: true } | { applied: false; reason: string };

/**
 * Checks a SignedSteer: `check` judges the signature (RunSupervisor.checkSigned, kind `steer`), and
 * its payload must decode and name the run it was signed for. A refusal carries the message id the
 * payload claims (for the acknowledgement), '' when it does not decode.
 */
export function verifiedSteer(
  signed: SignedSteer,
  check: (fields: DispatchFields, signature: Uint8Array) => DispatchVerdict,
): { kind: 'accept'; payload: SteerPayload } | { kind: 'refuse'; reason: string; message: string; messageId: string } {
  let payload: SteerPayload | undefined;
  try {
    payload = fromBinary(SteerPayloadSchema, signed.steer);
  } catch {
    payload = undefined;
  }
  const messageId = payload?.messageId ?? '';
  const fields = { runId: signed.runId, linkId: signed.linkId, sessionEpoch: signed.sessionEpoch, issuedAtMs: signed.issuedAtMs, nonce: signed.nonce, payload: signed.steer };
  const verdict = check(fields, signed.signature);
  if (verdict.kind === 'refuse') return { kind: 'refuse', reason: verdict.reason, message: verdict.message, messageId };
  if (!payload) return { kind: 'refuse', reason: SignatureRefusal.Malformed, message: 'the steer payload does not decode', messageId };
  if (payload.runId !== signed.runId || !payload.messageId) return { kind: 'refuse', reason: SignatureRefusal.Malformed, message: 'the steer is not for the run it was signed for', messageId };
  return { kind: 'accept', payload };
}

/** Applies each steered message once; remembers the outcomes of the latest ones. */
export class SteerLedger {
  private readonly outcomes = new Map<string, Promise<SteerOutcome>>();

  /**
   * The outcome of message `messageId` of `runId`: `deliver`'s, run now if the message is new,
   * else the first one's (a resend, even while the first is still on its way to the CLI).
   */
  apply(runId: string, messageId: string, deliver: () => Promise<SteerOutcome>): Promise<SteerOutcome> {
    const key = `${runId}\n${messageId}`;
    const known = this.outcomes.get(key);
    if (known) return known;
    const outcome = deliver().catch((): SteerOutcome => ({ applied: false, reason: Reason.RunFinished }));
    this.outcomes.set(key, outcome);
    if (this.outcomes.size > LEDGER_SIZE) this.outcomes.delete(this.outcomes.keys().next().value!);
    return outcome;
  }
}

/** What `receiveSteer` needs of the supervisor. */
export interface SteerContext {
  /** Judges the signature (RunSupervisor.checkSigned, kind `steer`), recording its nonce when it passes. */
  check: (fields: DispatchFields, signature: Uint8Array) => DispatchVerdict;
  ledger: SteerLedger;
  /** The unfinished run `runId` here: whether its harness takes steers, its process (once started), its events. */
  target: (runId: string) => { steerable: boolean; process?: { steer(text: string): Promise<boolean> }; emit: (event: EventInit) => void } | undefined;
  ack: (ack: MessageInitShape<typeof SteerAckSchema>) => void;
  log: Logger;
}

/**
 * One SignedSteer: verified, then applied through the run's process once per message id (the
 * `steered` event goes out before the acknowledgement), and acknowledged either way — applied, or
 * why not (the signature's refusal, RUN_FINISHED, RUN_NOT_RUNNING, STEER_UNSUPPORTED).
 */
export function receiveSteer(signed: SignedSteer, ctx: SteerContext): void {
  const verified = verifiedSteer(signed, ctx.check);
  if (verified.kind === 'refuse') {
    ctx.log.warn({ runId: signed.runId, reason: verified.reason }, `refusing a steer: ${verified.message}`);
    ctx.ack({ runId: signed.runId, messageId: verified.messageId, applied: false, reason: verified.reason });
    return;
  }
  const { runId, messageId, text } = verified.payload;
  void ctx.ledger
    .apply(runId, messageId, async () => {
      const run = ctx.target(runId);
      if (!run) return { applied: false, reason: Reason.RunFinished };
      if (!run.steerable) return { applied: false, reason: Reason.SteerUnsupported };
      if (!run.process) return { applied: false, reason: Reason.RunNotRunning };
      if (!(await run.process.steer(text))) return { applied: false, reason: Reason.RunFinished };
      run.emit({ event: { case: 'steered', value: { messageId, text } } });
      return { applied: true };
    })
    .then((outcome) => {
      ctx.log.info({ runId, messageId, ...outcome }, 'steer received');
      ctx.ack({ runId, messageId, applied: outcome.applied, reason: outcome.applied ? '' : outcome.reason });
    });
}
