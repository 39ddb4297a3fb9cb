/**
 * The user's answers on their way to the machine, per session: each answered interaction of a run
 * the session holds is sent as a signed `SignedInteractionAnswer`, once per session, until the
 * machine's `InteractionAnswerAck` marks it delivered. Nothing is lost in between: the answer waits
 * in Postgres, so a new session (after a reconnect, or on another replica after this one died)
 * sends it again after its Welcome, and a LISTEN reconnect makes every live session look again.
 *
 *   AnswerInteraction ─▶ interactions row 'answered' ─NOTIFY interaction_answer─▶ the hub holding the link
 *     ─▶ AnswerDelivery.sendPending ─▶ sign ('answer') ─▶ SignedInteractionAnswer ─▶ linkd
 *   linkd ─InteractionAnswerAck─▶ AnswerDelivery.acked ─▶ delivered_at (NOTIFY interaction_changed)
 *
 * The machine applies an answer at most once (it knows which requests it has answered), so a
 * resend on a new session is harmless; within one session each answer goes out once.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { randomBytes, type KeyObject } from 'node:crypto';
import { signDispatch } from '../../common/dispatch.js';
import type { Logger } from '../../common/log.js';
import { InteractionAnswerPayloadSchema, type InteractionAnswerAck } from '../../gen/link/v1/link_service_pb.js';
import { SignedDelivery, type DeliveryTarget, type Outgoing } from '../sessions/signed-delivery.js';
import type { Store } from '../store/store.js';
import type { InteractionStore, UndeliveredAnswer } from './interaction-store.js';

/** The SignedInteractionAnswer frame for `answer`, signed with `privateKey` for session `epoch` of `linkId`. */
export function signedInteractionAnswer(answer: UndeliveredAnswer, linkId: string, epoch: bigint, privateKey: KeyObject): Outgoing {
  const payload = toBinary(
    InteractionAnswerPayloadSchema,
    create(InteractionAnswerPayloadSchema, { runId: answer.runId, interactionId: answer.interactionId, answer: answer.answer }),
  );
  const fields = { runId: answer.runId, linkId, sessionEpoch: epoch, issuedAtMs: BigInt(Date.now()), nonce: randomBytes(16), payload };
  const signed = { answer: payload, runId: answer.runId, linkId, sessionEpoch: epoch, issuedAtMs: fields.issuedAtMs, nonce: fields.nonce };
  return { frame: { case: 'interactionAnswer', value: { ...signed, signature: signDispatch(fields, privateKey, 'answer') } } };
}

export class AnswerDelivery extends SignedDelivery<UndeliveredAnswer> {
  constructor(
    target: DeliveryTarget,
    private readonly interactions: Pick<InteractionStore, 'undelivered' | 'markDelivered'>,
    store: Pick<Store, 'dispatchKey'>,
    private readonly logger: Logger,
  ) {
    super(
      target,
      {
        name: 'answer',
        undelivered: (linkId, epoch) => interactions.undelivered(linkId, epoch),
        key: (answer) => `${answer.runId}/${answer.interactionId}`,
        frame: signedInteractionAnswer,
        fields: (answer) => ({ runId: answer.runId, interactionId: answer.interactionId }),
      },
      store,
      logger,
    );
  }

  /** The machine took an answer (or says it is moot): it is not sent again. */
  async acked(ack: InteractionAnswerAck): Promise<void> {
    if (!ack.applied) this.logger.warn({ runId: ack.runId, interactionId: ack.interactionId, reason: ack.reason }, 'the machine could not apply an answer');
    if (await this.interactions.markDelivered(this.target.linkId, ack.runId, ack.interactionId)) {
      this.logger.info({ runId: ack.runId, interactionId: ack.interactionId, applied: ack.applied }, 'answer delivered');
    }
  }
}
