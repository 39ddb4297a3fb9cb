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
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { randomBytes, type KeyObject } from 'node:crypto';
import { signDispatch } from '../../common/dispatch.js';
import type { Logger } from '../../common/log.js';
import { InteractionAnswerPayloadSchema, type ConnectResponseSchema, type InteractionAnswerAck } from '../../gen/link/v1/link_service_pb.js';
import type { Store } from '../store/store.js';
import type { InteractionStore, UndeliveredAnswer } from './interaction-store.js';

type Outgoing = MessageInitShape<typeof ConnectResponseSchema>;

/** The session answers are sent on. */
export interface AnswerTarget {
  readonly linkId: string;
  /** The session's epoch (throws before it claimed presence). */
  epoch(): bigint;
  /** Welcomed and not ended. */
  readonly live: boolean;
  send(frame: Outgoing): void;
}

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

export class AnswerDelivery {
  /** Answers sent on this session (`run/interaction`): each goes out once per session. */
  private readonly sent = new Set<string>();
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly target: AnswerTarget,
    private readonly interactions: Pick<InteractionStore, 'undelivered' | 'markDelivered'>,
    private readonly store: Pick<Store, 'dispatchKey'>,
    private readonly log: Logger,
  ) {}

  /**
   * Sends every answer of the session's runs that the machine has not acknowledged and this
   * session has not sent yet. Calls are serialized, so a burst of notifications sends each once.
   */
  sendPending(): void {
    this.sending = this.sending.then(async () => {
      if (!this.target.live) return;
      try {
        const epoch = this.target.epoch();
        const due = (await this.interactions.undelivered(this.target.linkId, epoch)).filter((a) => !this.sent.has(key(a)));
        if (due.length === 0 || !this.target.live) return;
        const { privateKey } = await this.store.dispatchKey();
        for (const answer of due) {
          this.sent.add(key(answer));
          this.target.send(signedInteractionAnswer(answer, this.target.linkId, epoch, privateKey));
          this.log.info({ runId: answer.runId, interactionId: answer.interactionId }, 'answer sent to the machine');
        }
      } catch (error) {
        this.log.error({ err: error }, 'sending answers failed; they are sent again on the next session or notification');
      }
    });
  }

  /** The machine took an answer (or says it is moot): it is not sent again. */
  async acked(ack: InteractionAnswerAck): Promise<void> {
    if (!ack.applied) this.log.warn({ runId: ack.runId, interactionId: ack.interactionId, reason: ack.reason }, 'the machine could not apply an answer');
    if (await this.interactions.markDelivered(this.target.linkId, ack.runId, ack.interactionId)) {
      this.log.info({ runId: ack.runId, interactionId: ack.interactionId, applied: ack.applied }, 'answer delivered');
    }
  }
}

function key(answer: { runId: string; interactionId: string }): string {
  return `${answer.runId}/${answer.interactionId}`;
}
