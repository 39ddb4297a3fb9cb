/**
 * ThreadService's interaction RPCs: AnswerInteraction (a compare-and-set in Postgres: the first
 * answer wins on any replica), ListInteractions and WatchInteractions (a snapshot of the caller's
 * pending ones, then each change, on any replica). Every call is scoped to the caller: another
 * user's interaction is INTERACTION_NOT_FOUND, exactly like one that does not exist.
 */
import { create, toJsonString, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { HandlerContext } from '@connectrpc/connect';
import { Channel } from '../../common/channel.js';
import { checkLength, Code, linkError, Reason } from '../../common/errors.js';
import {
  InteractionAnswerSchema,
  InteractionDecision,
  InteractionKind,
  InteractionScope,
  type Interaction,
} from '../../gen/link/v1/run_pb.js';
import {
  InteractionRecordSchema,
  type AnswerInteractionRequest,
  type InteractionRecord,
  type ListInteractionsRequest,
  type WatchInteractionsResponseSchema,
} from '../../gen/link/v1/thread_service_pb.js';
import { callerUser } from '../auth.js';
import { interactionState, type InteractionChange, type InteractionEntry, type InteractionStore } from '../interactions/interaction-store.js';

/** Bounds from the API's comments (thread_service.proto, run.proto). */
const MAX_ANSWERS = 32;
const MAX_ANSWER_TEXT = 16 * 1024;
const MAX_SELECTED = 64;

/** What the RPCs read and write. */
export type InteractionRpcStore = Pick<InteractionStore, 'answer' | 'get' | 'list' | 'changedSince' | 'now' | 'onChange'>;

export class InteractionRpcs {
  constructor(private readonly interactions: InteractionRpcStore) {}

  /**
   * Answers a pending interaction. Refusals: INVALID_ARGUMENT INVALID_FIELD (the answer does not
   * fit what was asked), NOT_FOUND INTERACTION_NOT_FOUND, FAILED_PRECONDITION ALREADY_ANSWERED
   * (metadata `interaction-answer`: the winning InteractionAnswer as JSON), INTERACTION_WITHDRAWN,
   * RUN_FINISHED.
   */
  async answer(request: AnswerInteractionRequest, ctx: HandlerContext) {
    const user = callerUser(ctx);
    checkAnswerRequest(request);
    const { runId, interactionId } = request;
    const answer = create(InteractionAnswerSchema, {
      decision: request.decision,
      scope: request.scope === InteractionScope.UNSPECIFIED ? InteractionScope.ONCE : request.scope,
      answers: request.answers,
      message: request.message,
    });
    const outcome = await this.interactions.answer(
      { userId: user.id, runId, interactionId, answer, answeredBy: user.name, check: (asked) => checkAnswerFits(asked, request) },
      request.scope === InteractionScope.THREAD,
    );
    if ('answered' in outcome) return { interaction: interactionView(outcome.answered) };
    const ids = { run_id: runId, interaction_id: interactionId };
    switch (outcome.refused) {
      case 'not_found':
        throw linkError(Code.NotFound, Reason.InteractionNotFound, `no interaction ${interactionId} in run ${runId}`, ids);
      case 'already_answered':
        throw linkError(
          Code.FailedPrecondition,
          Reason.AlreadyAnswered,
          `already answered by ${outcome.winner.answeredBy || 'someone else'}`,
          { ...ids, 'interaction-answer': toJsonString(InteractionAnswerSchema, outcome.winner) },
        );
      case 'withdrawn':
        throw linkError(Code.FailedPrecondition, Reason.InteractionWithdrawn, 'the agent withdrew this request before it was answered', ids);
      case 'run_finished':
        throw linkError(Code.FailedPrecondition, Reason.RunFinished, 'the run has ended; there is nothing left to answer', ids);
    }
  }

  async list(request: ListInteractionsRequest, ctx: HandlerContext) {
    checkLength('thread_id', request.threadId, 64);
    checkLength('run_id', request.runId, 64);
    const entries = await this.interactions.list(callerUser(ctx).id, {
      includeResolved: request.includeResolved,
      threadId: request.threadId || undefined,
      runId: request.runId || undefined,
    });
    return { interactions: entries.map(interactionView) };
  }

  /**
   * The caller's pending interactions, then each one asked or changed, until cancelled. Changes
   * come from any replica through `interaction_changed`; after a LISTEN reconnect the ones changed
   * meanwhile are read again (a change may be shown twice, never missed).
   */
  async *watch(ctx: HandlerContext): AsyncGenerator<MessageInitShape<typeof WatchInteractionsResponseSchema>> {
    const user = callerUser(ctx);
    const changes = new Channel<InteractionChange | 'resync'>();
    const onAbort = () => changes.close();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    // Listen before reading, so nothing changed between the read and the first wait is missed.
    const stop = this.interactions.onChange(user.id, (change) => changes.push(change));
    try {
      let since = await this.interactions.now();
      const pending = await this.interactions.list(user.id);
      yield { change: { case: 'snapshot', value: { interactions: pending.map(interactionView) } } };
      for await (const change of changes) {
        if (change === 'resync') {
          const read = await this.interactions.changedSince(user.id, new Date(since.getTime() - RESYNC_MARGIN_MS));
          since = read.now;
          for (const entry of read.entries) yield { change: { case: 'changed', value: interactionView(entry) } };
          continue;
        }
        const entry = await this.interactions.get(user.id, change.runId, change.interactionId);
        if (entry) yield { change: { case: 'changed', value: interactionView(entry) } };
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      stop();
      changes.close();
    }
  }
}

/** Changes are stamped with their transaction's start: a resync reads a little further back than its last read. */
const RESYNC_MARGIN_MS = 10_000;

/** The checks of a request on its own, before any read. */
function checkAnswerRequest(request: AnswerInteractionRequest): void {
  checkLength('run_id', request.runId, 64, 1);
  checkLength('interaction_id', request.interactionId, 128, 1);
  checkLength('message', request.message, MAX_ANSWER_TEXT);
  if (request.answers.length > MAX_ANSWERS) {
    throw linkError(Code.InvalidArgument, Reason.InvalidField, `at most ${MAX_ANSWERS} answers`, { field: 'answers', max: String(MAX_ANSWERS) });
  }
  for (const answer of request.answers) {
    checkLength('answers.question_id', answer.questionId, 128);
    checkLength('answers.text', answer.text, MAX_ANSWER_TEXT);
    if (answer.selected.length > MAX_SELECTED) {
      throw linkError(Code.InvalidArgument, Reason.InvalidField, `at most ${MAX_SELECTED} selected options`, { field: 'answers.selected', max: String(MAX_SELECTED) });
    }
    for (const label of answer.selected) checkLength('answers.selected', label, 1024);
  }
  if (request.scope === InteractionScope.THREAD && request.decision !== InteractionDecision.ALLOW) {
    throw invalidAnswer('scope', '"always allow in this thread" (scope THREAD) goes only with ALLOW');
  }
}

/** The answer must be of the kind that was asked: a decision for a permission, answers for a question. */
function checkAnswerFits(asked: Interaction, request: AnswerInteractionRequest): void {
  if (asked.kind === InteractionKind.QUESTION) {
    if (request.answers.length === 0 || request.answers.every((a) => a.selected.length === 0 && !a.text)) {
      throw invalidAnswer('answers', 'a question is answered with at least one answer (an option or text)');
    }
    if (request.scope === InteractionScope.THREAD) throw invalidAnswer('scope', 'a question cannot be answered for the whole thread');
    return;
  }
  if (request.decision !== InteractionDecision.ALLOW && request.decision !== InteractionDecision.DENY) {
    throw invalidAnswer('decision', 'a permission request is answered with ALLOW or DENY');
  }
}

function invalidAnswer(field: string, message: string) {
  return linkError(Code.InvalidArgument, Reason.InvalidField, message, { field });
}

/** The API's view of an interaction. */
export function interactionView(entry: InteractionEntry): InteractionRecord {
  return create(InteractionRecordSchema, {
    runId: entry.runId,
    threadId: entry.threadId ?? '',
    linkId: entry.linkId,
    interaction: entry.interaction,
    state: interactionState(entry.state),
    answer: entry.answer,
    seq: entry.seq,
    askedAt: timestampFromDate(entry.createdAt),
    delivered: entry.deliveredAt !== null,
    deadline: entry.deadline ? timestampFromDate(entry.deadline) : undefined,
    threadTitle: entry.threadTitle,
    harness: entry.harness,
  });
}
