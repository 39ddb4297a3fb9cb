import { LitElement, css, html, nothing, type TemplateResult } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { consume } from '@lit/context';
import { fromJsonString } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import {
  InteractionAnswerSchema,
  InteractionDecision,
  InteractionKind,
  InteractionScope,
  InteractionState,
  type Interaction,
  type InteractionAnswer,
  type InteractionResolved,
  type Question,
} from '../../gen/link/v1/run_pb.js';
import type { QuestionAnswer } from '../../gen/link/v1/run_pb.js';
import { errorMetadataOf, reasonOf } from '../../common/errors.js';
import { Reason } from '../../common/reasons.js';
import { describeRule } from '../../common/allow-rules.js';
import { apiContext, type ApiClients } from './api.js';
import { inlineCode, prettyJson } from './markdown.js';
import { InteractionsController, interactionsContext, type InteractionStore } from './interactions.js';
import { explain } from './errors.js';
import { diffAsChanges } from './unified-diff.js';
import { answerKeys } from './interaction-keys.js';
import './link-changes.js';

type CardState = 'pending' | 'answered' | 'withdrawn' | 'closed';

const STATES: Partial<Record<InteractionState, CardState>> = {
  [InteractionState.PENDING]: 'pending',
  [InteractionState.ANSWERED]: 'answered',
  [InteractionState.WITHDRAWN]: 'withdrawn',
  [InteractionState.CLOSED]: 'closed',
};

/**
 * One interaction of a run: a permission request (the tool, the command and its directory or the
 * diff of the edit; Approve, Deny, Always allow in this thread — keys `y` `n` `a` on the focused
 * card, or else on the newest pending one) or a question (its options, as radio buttons or check
 * boxes for a multiple choice, and free text). Once answered it shows the answer, who gave it and
 * when, and whether it reached the machine; an answer that lost to another (ALREADY_ANSWERED)
 * shows the winning one. An interaction Link allowed itself (`allowed_by`) is one compact line.
 *
 * Where it stands comes from, in order: the run's `interaction_resolved` event, the shared
 * `InteractionStore` (live, and with `delivered`), and this card's own answer.
 */
@customElement('link-interaction-card')
export class LinkInteractionCard extends LitElement {
  @consume({ context: apiContext })
  clients!: ApiClients;

  @consume({ context: interactionsContext })
  store: InteractionStore | undefined;

  @property({ attribute: false }) interaction!: Interaction;
  @property() runId = '';
  /** The run's `interaction_resolved` event for it, once there is one. */
  @property({ attribute: false }) resolved: InteractionResolved | undefined;
  /** When it was asked (its run event's time): the newest pending card takes the keys. */
  @property({ attribute: false }) askedAt: Date | undefined;
  /** The run ended: a card still pending can no longer be answered. */
  @property({ type: Boolean }) runEnded = false;

  @state() private answering = false;
  @state() private error: string | undefined;
  /** The answer this card gave, or the one that beat it. */
  @state() private given: InteractionAnswer | undefined;
  @state() private lostTo = false;
  /** Refused because the CLI withdrew it or the run ended first. */
  @state() private gone: CardState | undefined;
  @state() private message = '';
  @state() private choices = new Map<string, { selected: string[]; text: string }>();
  private readonly watch = new InteractionsController(this);

  static styles = css`
    :host { display: block; margin: 8px 0; }
    section { border: 1px solid #fdb022; background: #fffcf5; border-radius: 10px; padding: 10px 12px; font-size: 14px; }
    section[data-state='answered'], section[data-state='withdrawn'], section[data-state='closed'] { border-color: #e3e6ea; background: #fff; }
    section:focus-visible, button:focus-visible, input:focus-visible { outline: 2px solid #2e90fa; outline-offset: 2px; }
    .head { display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }
    .head strong { overflow-wrap: anywhere; }
    .head strong code { font-family: ui-monospace, monospace; font-size: 13px; background: #f2f4f7; padding: 1px 5px; border-radius: 4px; }
    .tool { font-family: ui-monospace, monospace; font-size: 11px; border-radius: 4px; padding: 0 5px; background: #f2f4f7; color: #344054; }
    .needs { font-size: 11px; color: #93370d; background: #fef0c7; border-radius: 999px; padding: 0 7px; }
    .deadline { font-size: 11px; color: #7a4b00; }
    .description { color: #475467; font-size: 13px; margin: 4px 0; }
    pre { background: #0f1720; color: #e6edf3; border-radius: 8px; padding: 8px 12px; overflow-x: auto; font-size: 12.5px; margin: 6px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
    .cwd { font-size: 12px; color: #667085; overflow-wrap: anywhere; }
    .actions { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-top: 8px; }
    button { font: inherit; font-size: 13px; border-radius: 8px; padding: 5px 12px; cursor: pointer; border: 1px solid #d0d5dd; background: #fff; }
    button.approve { background: #1b1f24; color: #fff; border-color: #1b1f24; }
    button.deny { color: #b42318; border-color: #fda29b; }
    button[disabled] { opacity: 0.6; cursor: progress; }
    kbd { font-family: ui-monospace, monospace; font-size: 11px; border: 1px solid #d0d5dd; border-bottom-width: 2px; border-radius: 4px; padding: 0 4px; margin-left: 4px; background: #f9fafb; color: #344054; }
    button.approve kbd { background: #344054; color: #fff; border-color: #667085; }
    input[type='text'] { font: inherit; font-size: 13px; border: 1px solid #d0d5dd; border-radius: 8px; padding: 5px 8px; flex: 1; min-width: 12em; }
    fieldset { border: 0; padding: 0; margin: 8px 0; }
    legend { font-weight: 600; font-size: 13px; padding: 0; margin-bottom: 4px; }
    .option { display: flex; gap: 6px; align-items: baseline; font-size: 13px; margin: 3px 0; }
    .option small { color: #667085; }
    .answer { font-size: 13px; color: #344054; margin-top: 6px; }
    .answer .verdict { font-weight: 600; }
    .answer .verdict.allow { color: #027a48; }
    .answer .verdict.deny { color: #b42318; }
    .answer .who, .delivery { color: #667085; }
    .delivery.pending { color: #7a4b00; }
    .error { color: #912018; background: #fef3f2; border: 1px solid #fecdca; border-radius: 8px; padding: 6px 10px; margin-top: 6px; font-size: 13px; }
    .allowed { font-size: 13px; color: #475467; margin: 4px 0; overflow-wrap: anywhere; }
    .allowed code { font-size: 12px; background: #f2f4f7; padding: 1px 5px; border-radius: 4px; }
  `;

  willUpdate(): void {
    this.watch.set(this.store);
  }

  updated(): void {
    // After a reload, a card the store knows nothing of may have been answered meanwhile.
    if (this.store?.loaded && !this.record && !this.resolved) void this.store.loadRun(this.runId);
    if (this.isConnected && this.state === 'pending' && this.interaction.kind !== InteractionKind.QUESTION && !this.interaction.allowedBy) answerKeys.add(this);
    else answerKeys.delete(this);
  }

  disconnectedCallback(): void {
    super.disconnectedCallback();
    answerKeys.delete(this);
  }

  private get record() {
    return this.store?.get(this.runId, this.interaction.id);
  }

  /** Where it stands, from the run's event, the store, or this card's answer. */
  get state(): CardState {
    const fromEvent = this.resolved && STATES[this.resolved.state];
    if (fromEvent) return fromEvent;
    const fromStore = this.record && STATES[this.record.state];
    if (fromStore && fromStore !== 'pending') return fromStore;
    if (this.given) return 'answered';
    if (this.gone) return this.gone;
    return this.runEnded ? 'closed' : 'pending';
  }

  private get answer(): InteractionAnswer | undefined {
    return this.resolved?.answer ?? this.record?.answer ?? this.given;
  }

  /** The machine acknowledged the answer: the run's event says so, or the store does. */
  private get delivered(): boolean {
    return this.resolved?.state === InteractionState.ANSWERED || Boolean(this.record?.delivered);
  }

  /** Answers with a key: `y` approve, `n` deny, `a` always allow in this thread. */
  answerByKey(key: 'y' | 'n' | 'a'): void {
    if (key === 'y') void this.answerPermission(InteractionDecision.ALLOW, InteractionScope.ONCE);
    else if (key === 'n') void this.answerPermission(InteractionDecision.DENY, InteractionScope.ONCE);
    else if (this.interaction.suggestedRule) void this.answerPermission(InteractionDecision.ALLOW, InteractionScope.THREAD);
  }

  private answerPermission(decision: InteractionDecision, scope: InteractionScope): Promise<void> {
    return this.send({ decision, scope, message: this.message.trim() });
  }

  private answerQuestions(event: Event): Promise<void> {
    event.preventDefault();
    const answers = this.interaction.questions.map((q) => ({ questionId: q.id, selected: this.choices.get(q.id)?.selected ?? [], text: (this.choices.get(q.id)?.text ?? '').trim() }));
    return this.send({ answers: answers.filter((a) => a.selected.length || a.text) as QuestionAnswer[] });
  }

  private async send(answer: { decision?: InteractionDecision; scope?: InteractionScope; message?: string; answers?: QuestionAnswer[] }): Promise<void> {
    if (this.answering || this.state !== 'pending') return;
    this.answering = true;
    this.error = undefined;
    try {
      const { interaction } = await this.clients.threads.answerInteraction({ runId: this.runId, interactionId: this.interaction.id, ...answer });
      this.given = interaction?.answer;
      if (interaction) this.store?.put(interaction);
    } catch (error) {
      const reason = reasonOf(error);
      if (reason === Reason.AlreadyAnswered) {
        const winner = errorMetadataOf(error)['interaction-answer'];
        this.given = winner ? fromJsonString(InteractionAnswerSchema, winner, { ignoreUnknownFields: true }) : undefined;
        this.lostTo = true;
        if (!this.given) this.error = explain(error);
      } else if (reason === Reason.InteractionWithdrawn) {
        this.gone = 'withdrawn';
      } else if (reason === Reason.RunFinished) {
        this.gone = 'closed';
      } else {
        this.error = explain(error);
      }
    } finally {
      this.answering = false;
    }
  }

  render() {
    const i = this.interaction;
    if (i.allowedBy) {
      return html`<div class="allowed" data-kind="allowed" data-interaction-id=${i.id}>
        ✓ <code>${i.command || i.title || i.tool}</code> — allowed by ${i.allowedBy}
      </div>`;
    }
    const state = this.state;
    const question = i.kind === InteractionKind.QUESTION;
    const label = question ? 'Question' : 'Permission request';
    return html`
      <section tabindex="0" role="group" aria-label=${`${label}: ${i.title || i.tool}`} data-kind="interaction" data-state=${state}
        data-interaction-id=${i.id} data-delivered=${this.delivered ? 'true' : 'false'}>
        <div class="head">
          <strong data-testid="title">${inlineCode(i.title || (question ? 'The agent asks' : `Use ${i.tool}?`))}</strong>
          ${i.tool && !question ? html`<span class="tool">${i.tool}</span>` : nothing}
          ${state === 'pending' ? html`<span class="needs">needs you</span>` : nothing}
          ${state === 'pending' && this.record?.deadline
            ? html`<span class="deadline" data-testid="deadline">denied at ${timestampDate(this.record.deadline).toLocaleTimeString()} if not answered</span>`
            : nothing}
        </div>
        ${i.description && i.description !== i.title.replaceAll('`', '') && i.description !== i.title ? html`<div class="description">${i.description}</div>` : nothing}
        ${question ? nothing : this.request(i)}
        ${state === 'pending' ? (question ? this.questionForm(i.questions) : this.permissionActions()) : this.outcome(state)}
        ${this.error ? html`<div class="error" role="alert">${this.error}</div>` : nothing}
      </section>
    `;
  }

  /** What the agent wants to do: the command and its directory, or the edit's diff, or its input. */
  private request(i: Interaction): TemplateResult {
    if (i.command) {
      return html`<pre data-testid="command">$ ${i.command}</pre>${i.cwd ? html`<div class="cwd">in ${i.cwd}</div>` : nothing}`;
    }
    if (i.diff) return html`<link-changes heading="The edit" .changes=${diffAsChanges(i.diff, i.paths)}></link-changes>`;
    return html`${i.paths.length ? html`<div class="cwd">${i.paths.join(', ')}</div>` : nothing}
      ${i.inputJson && i.inputJson !== '{}' ? html`<pre>${prettyJson(i.inputJson)}</pre>` : nothing}`;
  }

  private permissionActions(): TemplateResult {
    const rule = this.interaction.suggestedRule;
    const busy = this.answering;
    return html`
      <div class="actions">
        <button class="approve" ?disabled=${busy} @click=${() => this.answerPermission(InteractionDecision.ALLOW, InteractionScope.ONCE)}>Approve<kbd aria-hidden="true">y</kbd></button>
        <button class="deny" ?disabled=${busy} @click=${() => this.answerPermission(InteractionDecision.DENY, InteractionScope.ONCE)}>Deny<kbd aria-hidden="true">n</kbd></button>
        ${rule
          ? html`<button class="always" ?disabled=${busy} title=${`Allow ${describeRule(rule)} from now on in this thread, without asking`}
              @click=${() => this.answerPermission(InteractionDecision.ALLOW, InteractionScope.THREAD)}>Always allow in this thread<kbd aria-hidden="true">a</kbd></button>`
          : nothing}
        <input type="text" aria-label="Message to the agent (optional)" placeholder="message to the agent (optional)" .value=${this.message}
          @input=${(e: Event) => (this.message = (e.target as HTMLInputElement).value)} />
      </div>
    `;
  }

  private questionForm(questions: Question[]): TemplateResult {
    const answered = questions.some((q) => (this.choices.get(q.id)?.selected.length ?? 0) > 0 || this.choices.get(q.id)?.text.trim());
    return html`
      <form @submit=${(e: Event) => this.answerQuestions(e)}>
        ${questions.map((q) => {
          const choice = this.choices.get(q.id) ?? { selected: [], text: '' };
          const current = () => this.choices.get(q.id) ?? { selected: [], text: '' };
          const set = (next: Partial<typeof choice>) => (this.choices = new Map(this.choices).set(q.id, { ...current(), ...next }));
          return html`<fieldset data-question-id=${q.id}>
            <legend>${q.header ? `${q.header}: ` : ''}${q.text}</legend>
            ${q.options.map(
              (o) => html`<label class="option">
                <input type=${q.multiSelect ? 'checkbox' : 'radio'} name=${`q-${q.id}`} .checked=${choice.selected.includes(o.label)}
                  @change=${(e: Event) => {
                    const on = (e.target as HTMLInputElement).checked;
                    const others = q.multiSelect ? current().selected.filter((s) => s !== o.label) : [];
                    set({ selected: on ? [...others, o.label] : others });
                  }} />
                <span>${o.label}${o.description ? html` <small>${o.description}</small>` : nothing}</span>
              </label>`,
            )}
            <input type="text" aria-label=${`Your own answer to: ${q.text}`} placeholder=${q.options.length ? 'or in your own words' : 'your answer'} .value=${choice.text}
              @input=${(e: Event) => set({ text: (e.target as HTMLInputElement).value })} />
          </fieldset>`;
        })}
        <div class="actions"><button class="approve" type="submit" ?disabled=${this.answering || !answered}>Answer</button></div>
      </form>
    `;
  }

  private outcome(state: CardState): TemplateResult {
    if (state === 'withdrawn') return html`<div class="answer" data-testid="outcome">Withdrawn: the agent no longer asks.</div>`;
    if (state === 'closed') return html`<div class="answer" data-testid="outcome">Not answered: the run ended first.</div>`;
    const answer = this.answer;
    if (!answer) return html`<div class="answer" data-testid="outcome">Answered.</div>`;
    const when = answer.answeredAt ? timestampDate(answer.answeredAt).toLocaleTimeString() : '';
    const who = answer.timedOut ? 'by the approval timeout' : answer.answeredBy ? `by ${answer.answeredBy}` : '';
    return html`<div class="answer" data-testid="outcome">
      ${this.lostTo ? html`<div>Someone answered first; this is the answer the agent got:</div>` : nothing}
      ${this.interaction.kind === InteractionKind.QUESTION ? this.answers(answer) : this.verdict(answer)}
      <span class="who">${who}${when ? ` at ${when}` : ''}</span>
      ${answer.message ? html`<div>“${answer.message}”</div>` : nothing}
      <div class="delivery ${this.delivered ? '' : 'pending'}" data-testid="delivery">${this.delivered ? 'Reached the machine.' : 'On its way to the machine…'}</div>
    </div>`;
  }

  private verdict(answer: InteractionAnswer): TemplateResult {
    const rule = this.interaction.suggestedRule;
    if (answer.decision === InteractionDecision.DENY) return html`<span class="verdict deny">Denied</span>`;
    if (answer.scope === InteractionScope.THREAD) {
      return html`<span class="verdict allow">Always allowed in this thread</span>${rule ? ` (${describeRule(rule)})` : ''}`;
    }
    return html`<span class="verdict allow">Approved</span>`;
  }

  private answers(answer: InteractionAnswer): TemplateResult {
    const byId = new Map(this.interaction.questions.map((q) => [q.id, q]));
    return html`${answer.answers.map((a) => {
      const q = byId.get(a.questionId);
      const said = [...a.selected, ...(a.text ? [a.text] : [])].join(', ');
      return html`<div><span class="verdict">${q?.header || q?.text || a.questionId}:</span> ${said}</div>`;
    })}`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-interaction-card': LinkInteractionCard;
  }
}
