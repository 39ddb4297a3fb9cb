/**
 * One run's interactions on the machine: what the CLI asks, what Link answers itself, and the
 * user's answers coming back from the control plane.
 *
 *   adapter ─ask(request)─▶ InteractionBroker ─┬─ AUTO mode or a thread rule ─▶ allow at once
 *                                              │   (an `interaction` event with `allowed_by`)
 *                                              └─ else ─▶ `interaction` event ─▶ … the user …
 *   session ─SignedInteractionAnswer─▶ answer(id) ─▶ `interaction_resolved` event ─▶ the adapter's ask resolves
 *
 * Answers are applied exactly once: an id answered before is acknowledged again and changes
 * nothing (the control plane re-sends until it has the acknowledgement). An "always allow in this
 * thread" answer adds its rule for the rest of the run, so an identical request is not asked again;
 * the control plane stores it for the thread's next runs (RunPayload.allow_rules). While anything
 * is pending, the run's idle timeout is held (`onWaiting`).
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { describeRule, matchingRule, suggestRule, type AllowRuleShape } from '../../common/allow-rules.js';
import { Reason } from '../../common/reasons.js';
import {
  AllowRuleSchema,
  InteractionAnswerSchema,
  InteractionDecision,
  InteractionKind,
  InteractionScope,
  InteractionState,
  type InteractionResolvedSchema,
  PermissionMode,
  type AllowRule,
  type InteractionAnswer,
} from '../../gen/link/v1/run_pb.js';
import type { InteractionChannel, InteractionInit, InteractionReply } from '../harnesses/harness.js';
import type { EventInit } from './outbox.js';

export interface InteractionBrokerOptions {
  mode: PermissionMode;
  /** The thread's "always allow" rules at dispatch. */
  rules: readonly AllowRule[];
  emit: (event: EventInit) => void;
  /** Called with true when the first request starts waiting, false when none is left. */
  onWaiting?: (waiting: boolean) => void;
}

/** What `answer` did: applied now, applied before (a resend), or cannot be applied (the reason). */
export type AnswerOutcome = { applied: true } | { applied: false; reason: string };

interface Pending {
  request: InteractionInit;
  resolve: (reply: InteractionReply) => void;
}

export class InteractionBroker implements InteractionChannel {
  private readonly pending = new Map<string, Pending>();
  /** Ids that were asked and ended, with how they ended: answers to them are acknowledged, never applied twice. */
  private readonly ended = new Map<string, InteractionState>();
  private readonly rules: AllowRuleShape[];
  private closed = false;

  constructor(private readonly options: InteractionBrokerOptions) {
    this.rules = options.rules.map((r) => ({ tool: r.tool, commandPrefix: r.commandPrefix }));
  }

  get waiting(): boolean {
    return this.pending.size > 0;
  }

  ask(request: InteractionInit): Promise<InteractionReply> {
    if (this.closed) return Promise.resolve({ kind: 'closed' });
    const suggestedRule = create(AllowRuleSchema, request.suggestedRule ?? suggestRule(request.tool ?? '', request.command ?? ''));
    const asked: InteractionInit = { ...request, suggestedRule };
    const allowedBy = this.allowedBy(asked);
    if (allowedBy) {
      this.options.emit({ event: { case: 'interaction', value: { ...asked, allowedBy } } });
      this.ended.set(request.id, InteractionState.ANSWERED);
      return Promise.resolve({ kind: 'answer', answer: create(InteractionAnswerSchema, { decision: InteractionDecision.ALLOW, scope: InteractionScope.ONCE }), allowedBy });
    }
    if (this.pending.has(request.id) || this.ended.has(request.id)) {
      // A CLI never asks twice under one id; if one did, the second is not shown as a new card.
      return Promise.resolve({ kind: 'closed' });
    }
    this.options.emit({ event: { case: 'interaction', value: asked } });
    return new Promise<InteractionReply>((resolve) => {
      this.pending.set(request.id, { request: asked, resolve });
      if (this.pending.size === 1) this.options.onWaiting?.(true);
    });
  }

  /** Why Link allows a permission request itself: the AUTO mode, or a rule of the thread. */
  private allowedBy(request: InteractionInit): string | undefined {
    if (request.kind !== InteractionKind.PERMISSION) return undefined;
    if (this.options.mode === PermissionMode.AUTO) return 'permission mode auto';
    const rule = matchingRule(this.rules, request.tool ?? '', request.command ?? '');
    return rule ? `thread rule: ${describeRule(rule)}` : undefined;
  }

  /** The user's answer, from the control plane. Safe to call again with the same id. */
  answer(id: string, answer: InteractionAnswer): AnswerOutcome {
    const pending = this.pending.get(id);
    if (!pending) {
      const ended = this.ended.get(id);
      if (ended === InteractionState.ANSWERED) return { applied: true };
      if (ended === InteractionState.WITHDRAWN) return { applied: false, reason: Reason.InteractionWithdrawn };
      return { applied: false, reason: this.closed ? Reason.RunFinished : Reason.InteractionNotFound };
    }
    if (answer.decision === InteractionDecision.ALLOW && answer.scope === InteractionScope.THREAD && pending.request.suggestedRule) {
      const rule = pending.request.suggestedRule;
      this.rules.push({ tool: rule.tool ?? '', commandPrefix: rule.commandPrefix ?? '' });
    }
    this.end(id, InteractionState.ANSWERED, answer);
    pending.resolve({ kind: 'answer', answer });
    return { applied: true };
  }

  withdraw(id: string): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.end(id, InteractionState.WITHDRAWN);
    pending.resolve({ kind: 'withdrawn' });
  }

  /** The run is ending: every pending request is closed (before the run's `done`), and no new one is asked. */
  closeAll(): void {
    this.closed = true;
    for (const [id, pending] of [...this.pending]) {
      this.end(id, InteractionState.CLOSED);
      pending.resolve({ kind: 'closed' });
    }
  }

  private end(id: string, state: InteractionState, answer?: InteractionAnswer): void {
    this.pending.delete(id);
    this.ended.set(id, state);
    const resolved: MessageInitShape<typeof InteractionResolvedSchema> = { interactionId: id, state, answer };
    this.options.emit({ event: { case: 'interactionResolved', value: resolved } });
    if (this.pending.size === 0) this.options.onWaiting?.(false);
  }
}
