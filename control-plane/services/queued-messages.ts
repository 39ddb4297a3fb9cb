/**
 * ThreadService's calls on messages that have not started (`UpdateQueuedMessage`,
 * `WithdrawMessage`: compare-and-sets on 'queued' in `threads/message-queue.ts`), and how a stored
 * message reads in the API (`messageView`) for every call that returns one.
 */
import { create, fromJson } from '@bufbuild/protobuf';
import { timestampFromDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import type { HandlerContext } from '@connectrpc/connect';
import { checkLength, Code, linkError, Reason } from '../../common/errors.js';
import { MessageDelivery, MessageState, ThreadMessageSchema, type ThreadMessage } from '../../gen/link/v1/run_pb.js';
import type { UpdateQueuedMessageRequest, WithdrawMessageRequest } from '../../gen/link/v1/thread_service_pb.js';
import { CapabilitiesSchema, type Capabilities } from '../../gen/link/v1/types_pb.js';
import { callerUser } from '../auth.js';
import { permissionMode } from '../interactions/permission-mode.js';
import type { RunRecord } from '../runs/run-record.js';
import type { MessageDeliveryName, MessageQueue, MessageRecord, MessageStateName, QueuedChangeRefusal } from '../threads/message-queue.js';

/** The two calls, on the caller's own messages only (another user's is MESSAGE_NOT_FOUND). */
export class QueuedMessageRpcs {
  constructor(private readonly queue: Pick<MessageQueue, 'updateText' | 'withdraw'>) {}

  /** New text (1 byte to 256 KiB; the upper bound is the request validator's) for a message still queued. */
  async update(request: UpdateQueuedMessageRequest, ctx: HandlerContext): Promise<{ message: ThreadMessage }> {
    checkLength('message_id', request.messageId, 64, 1);
    if (!request.text) throw linkError(Code.InvalidArgument, Reason.InvalidField, 'text must not be empty', { field: 'text' });
    const changed = await this.queue.updateText(callerUser(ctx).id, request.messageId, request.text);
    return { message: queuedChange(changed, request.messageId) };
  }

  /** Withdraws a message still queued: it never runs. */
  async withdraw(request: WithdrawMessageRequest, ctx: HandlerContext): Promise<{ message: ThreadMessage }> {
    checkLength('message_id', request.messageId, 64, 1);
    const withdrawn = await this.queue.withdraw(callerUser(ctx).id, request.messageId);
    return { message: queuedChange(withdrawn, request.messageId) };
  }
}

/** The message an edit or a withdrawal left, or its refusal: MESSAGE_NOT_FOUND, MESSAGE_STARTED. */
function queuedChange(outcome: MessageRecord | QueuedChangeRefusal, messageId: string): ThreadMessage {
  if (outcome === 'not_found') throw linkError(Code.NotFound, Reason.MessageNotFound, `no message ${messageId}`, { message_id: messageId });
  if (outcome === 'started') {
    throw linkError(Code.FailedPrecondition, Reason.MessageStarted, 'the message is no longer queued (it started, was withdrawn or expired)', { message_id: messageId });
  }
  return messageView(outcome);
}

/** A stored message in the API; its permission mode is its run's when it has one. */
export function messageView(message: MessageRecord, run?: RunRecord): ThreadMessage {
  return create(ThreadMessageSchema, {
    id: message.id,
    threadId: message.threadId,
    text: message.text,
    runId: message.runId ?? '',
    model: message.model,
    tier: message.tier,
    createdAt: timestampFromDate(message.createdAt),
    permissionMode: permissionMode(run?.permissionMode ?? message.permissionMode),
    state: messageState(message.state),
    delivery: message.delivery === 'now' ? MessageDelivery.NOW : MessageDelivery.AFTER_TURN,
    expiresAt: optionalTimestamp(message.expiresAt),
    updatedAt: timestampFromDate(message.updatedAt),
  });
}

function messageState(state: MessageStateName): MessageState {
  switch (state) {
    case 'queued':
      return MessageState.QUEUED;
    case 'sent':
      return MessageState.SENT;
    case 'steering':
      return MessageState.STEERING;
    case 'steered':
      return MessageState.STEERED;
    case 'withdrawn':
      return MessageState.WITHDRAWN;
    case 'expired':
      return MessageState.EXPIRED;
  }
}

/** SendMessage's delivery as stored (UNSPECIFIED is AFTER_TURN). */
export function deliveryName(delivery: MessageDelivery): MessageDeliveryName {
  return delivery === MessageDelivery.NOW ? 'now' : 'after_turn';
}

/** A timestamp, or none for a null date. */
export function optionalTimestamp(date: Date | null | undefined): Timestamp | undefined {
  return date ? timestampFromDate(date) : undefined;
}

/** The capabilities an offline link had at its last session (protobuf JSON on its row), if any. */
export function lastKnownCapabilities(json: unknown): Capabilities | undefined {
  if (!json) return undefined;
  try {
    return fromJson(CapabilitiesSchema, json as never, { ignoreUnknownFields: true });
  } catch {
    return undefined;
  }
}
