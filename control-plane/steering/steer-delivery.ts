/**
 * Steered messages on their way into the running turn, per session: each 'steering' message of a
 * run the session holds is sent as a signed `SignedSteer`, once per session, until the machine's
 * `SteerAck`. The message waits in Postgres meanwhile, so a new session (after a reconnect, or on
 * another replica) sends it again after its Welcome, and a LISTEN reconnect makes every live
 * session look again (modelled on interactions/answer-delivery.ts).
 *
 *   SendMessage NOW ─▶ message 'steering' ─NOTIFY run_steer─▶ the hub holding the link
 *     ─▶ SteerDelivery.sendPending ─▶ sign ('steer') ─▶ SignedSteer ─▶ linkd
 *   linkd ─SteerAck─▶ SteerDelivery.acked ─▶ steer_acked_at (not applied: back to 'queued')
 *
 * The machine applies a message at most once (it remembers the message ids it took), so a resend
 * on a new session is harmless; within one session each message goes out once.
 */
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { randomBytes, type KeyObject } from 'node:crypto';
import { signDispatch } from '../../common/dispatch.js';
import type { Logger } from '../../common/log.js';
import { SteerPayloadSchema, type ConnectResponseSchema, type SteerAck } from '../../gen/link/v1/link_service_pb.js';
import type { AnswerTarget } from '../interactions/answer-delivery.js';
import type { Store } from '../store/store.js';
import type { SteerStore, UndeliveredSteer } from './steer-store.js';

type Outgoing = MessageInitShape<typeof ConnectResponseSchema>;

/** The SignedSteer frame for `steer`, signed with `privateKey` for session `epoch` of `linkId`. */
export function signedSteer(steer: UndeliveredSteer, linkId: string, epoch: bigint, privateKey: KeyObject): Outgoing {
  const payload = toBinary(SteerPayloadSchema, create(SteerPayloadSchema, { runId: steer.runId, messageId: steer.messageId, text: steer.text }));
  const fields = { runId: steer.runId, linkId, sessionEpoch: epoch, issuedAtMs: BigInt(Date.now()), nonce: randomBytes(16), payload };
  const signed = { steer: payload, runId: steer.runId, linkId, sessionEpoch: epoch, issuedAtMs: fields.issuedAtMs, nonce: fields.nonce };
  return { frame: { case: 'steer', value: { ...signed, signature: signDispatch(fields, privateKey, 'steer') } } };
}

export class SteerDelivery {
  /** Messages sent on this session (`run/message`): each goes out once per session. */
  private readonly sent = new Set<string>();
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly target: AnswerTarget,
    private readonly steers: Pick<SteerStore, 'undelivered' | 'acked'>,
    private readonly store: Pick<Store, 'dispatchKey'>,
    private readonly log: Logger,
  ) {}

  /**
   * Sends every steered message of the session's runs that the machine has not acknowledged and
   * this session has not sent yet. Calls are serialized, so a burst of notifications sends each once.
   */
  sendPending(): void {
    this.sending = this.sending.then(async () => {
      if (!this.target.live) return;
      try {
        const epoch = this.target.epoch();
        const due = (await this.steers.undelivered(this.target.linkId, epoch)).filter((s) => !this.sent.has(key(s)));
        if (due.length === 0 || !this.target.live) return;
        const { privateKey } = await this.store.dispatchKey();
        for (const steer of due) {
          this.sent.add(key(steer));
          this.target.send(signedSteer(steer, this.target.linkId, epoch, privateKey));
          this.log.info({ runId: steer.runId, messageId: steer.messageId }, 'steered message sent to the machine');
        }
      } catch (error) {
        this.log.error({ err: error }, 'sending steered messages failed; they are sent again on the next session or notification');
      }
    });
  }

  /** The machine took a message into the turn, or says it cannot (then it waits for the turn's end). */
  async acked(ack: SteerAck): Promise<void> {
    if (!ack.applied) this.log.info({ runId: ack.runId, messageId: ack.messageId, reason: ack.reason }, 'the machine did not take a steered message; it runs after the turn');
    if (await this.steers.acked(this.target.linkId, ack.runId, ack.messageId, ack.applied)) {
      this.log.info({ runId: ack.runId, messageId: ack.messageId, applied: ack.applied }, 'steered message acknowledged');
    }
  }
}

function key(steer: { runId: string; messageId: string }): string {
  return `${steer.runId}/${steer.messageId}`;
}
