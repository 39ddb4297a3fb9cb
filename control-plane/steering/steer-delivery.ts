/**
 * Steered messages on their way into the running turn, per session: each 'steering' message of a
 * run the session holds is sent as a signed `SignedSteer`, once per session, until the machine's
 * `SteerAck`. The message waits in Postgres meanwhile, so a new session (after a reconnect, or on
 * another replica) sends it again after its Welcome, and a LISTEN reconnect makes every live
 * session look again (sessions/signed-delivery.ts, like the answers to interactions).
 *
 *   SendMessage NOW ─▶ message 'steering' ─NOTIFY run_steer─▶ the hub holding the link
 *     ─▶ SteerDelivery.sendPending ─▶ sign ('steer') ─▶ SignedSteer ─▶ linkd
 *   linkd ─SteerAck─▶ SteerDelivery.acked ─▶ steer_acked_at (not applied: back to 'queued')
 *
 * The machine applies a message at most once (it remembers the message ids it took), so a resend
 * on a new session is harmless; within one session each message goes out once.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { randomBytes, type KeyObject } from 'node:crypto';
import { signDispatch } from '../../common/dispatch.js';
import type { Logger } from '../../common/log.js';
import { SteerPayloadSchema, type SteerAck } from '../../gen/link/v1/link_service_pb.js';
import { SignedDelivery, type DeliveryTarget, type Outgoing } from '../sessions/signed-delivery.js';
import type { Store } from '../store/store.js';
import type { SteerStore, UndeliveredSteer } from './steer-store.js';

/** The SignedSteer frame for `steer`, signed with `privateKey` for session `epoch` of `linkId`. */
export function signedSteer(steer: UndeliveredSteer, linkId: string, epoch: bigint, privateKey: KeyObject): Outgoing {
  const payload = toBinary(SteerPayloadSchema, create(SteerPayloadSchema, { runId: steer.runId, messageId: steer.messageId, text: steer.text }));
  const fields = { runId: steer.runId, linkId, sessionEpoch: epoch, issuedAtMs: BigInt(Date.now()), nonce: randomBytes(16), payload };
  const signed = { steer: payload, runId: steer.runId, linkId, sessionEpoch: epoch, issuedAtMs: fields.issuedAtMs, nonce: fields.nonce };
  return { frame: { case: 'steer', value: { ...signed, signature: signDispatch(fields, privateKey, 'steer') } } };
}

export class SteerDelivery extends SignedDelivery<UndeliveredSteer> {
  constructor(
    target: DeliveryTarget,
    private readonly steers: Pick<SteerStore, 'undelivered' | 'acked'>,
    store: Pick<Store, 'dispatchKey'>,
    private readonly logger: Logger,
  ) {
    super(
      target,
      {
        name: 'steered message',
        undelivered: (linkId, epoch) => steers.undelivered(linkId, epoch),
        key: (steer) => `${steer.runId}/${steer.messageId}`,
        frame: signedSteer,
        fields: (steer) => ({ runId: steer.runId, messageId: steer.messageId }),
      },
      store,
      logger,
    );
  }

  /** The machine took a message into the turn, or says it cannot (then it waits for the turn's end). */
  async acked(ack: SteerAck): Promise<void> {
    if (!ack.applied) this.logger.info({ runId: ack.runId, messageId: ack.messageId, reason: ack.reason }, 'the machine did not take a steered message; it runs after the turn');
    if (await this.steers.acked(this.target.linkId, ack.runId, ack.messageId, ack.applied)) {
      this.logger.info({ runId: ack.runId, messageId: ack.messageId, applied: ack.applied }, 'steered message acknowledged');
    }
  }
}
