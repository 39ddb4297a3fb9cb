import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { MessageState, type ThreadMessage } from '../../gen/link/v1/run_pb.js';

/** What an edit asks for: the message and its new text. */
export interface QueuedEditDetail {
  messageId: string;
  text: string;
}

/**
 * A message that has not started: QUEUED (it runs after the thread's current run, or when its
 * machine is back), with Edit (in place: Save / Cancel) and Withdraw; or EXPIRED, said plainly (it
 * did not start in time and never ran). The thread view makes the calls and loads the thread again;
 * a message that started meanwhile then moves into the thread as its run's message.
 *
 * @fires link-queued-edit - detail: QueuedEditDetail
 * @fires link-queued-withdraw - detail: the message id
 */
@customElement('link-queued-message')
export class LinkQueuedMessage extends LitElement {
  @property({ attribute: false }) message!: ThreadMessage;
  /** The machine's name while it is offline ('' when online): the message then waits for it. */
  @property() waitingFor = '';
  /** An edit or withdrawal is on its way: the buttons wait. */
  @property({ type: Boolean }) pending = false;

  @state() private editing = false;
  @query('textarea') private textarea: HTMLTextAreaElement | undefined;

  static styles = css`
    :host { display: block; }
    .queued { border: 1px dashed var(--link-border, #98a2b3); border-radius: 12px; padding: 10px 14px; margin: 8px 0; background: var(--link-sunken, #f9fafb); }
    .queued.expired { border-style: solid; border-color: #fecdca; background: #fef3f2; }
    .body { white-space: pre-wrap; overflow-wrap: anywhere; color: var(--link-muted, #475467); }
    .state { font-size: 12px; color: var(--link-muted, #667085); margin-top: 6px; display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
    .tag { font-weight: 600; color: #b54708; }
    .expired .tag { color: #b42318; }
    .spacer { flex: 1; }
    button { font: inherit; font-size: 12px; border-radius: 8px; padding: 3px 10px; cursor: pointer; border: 1px solid var(--link-border, #d0d5dd); background: var(--link-surface, #fff); color: inherit; }
    button[disabled] { cursor: not-allowed; opacity: 0.6; }
    button:focus-visible, textarea:focus-visible { outline: 2px solid #2e90fa; outline-offset: 2px; }
    textarea { width: 100%; box-sizing: border-box; font: inherit; min-height: 56px; border: 1px solid var(--link-border, #d0d5dd); border-radius: 8px; padding: 6px; }
  `;

  private get expired(): boolean {
    return this.message.state === MessageState.EXPIRED;
  }

  private save(): void {
    const text = this.textarea?.value ?? '';
    if (!text.trim()) return;
    this.editing = false;
    if (text === this.message.text) return;
    this.dispatchEvent(new CustomEvent<QueuedEditDetail>('link-queued-edit', { detail: { messageId: this.message.id, text }, bubbles: true, composed: true }));
  }

  private withdraw(): void {
    this.dispatchEvent(new CustomEvent<string>('link-queued-withdraw', { detail: this.message.id, bubbles: true, composed: true }));
  }

  private onKey(event: KeyboardEvent): void {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.save();
    } else if (event.key === 'Escape') this.editing = false;
  }

  render() {
    const m = this.message;
    const expires = m.expiresAt ? timestampDate(m.expiresAt) : undefined;
    const at = (d: Date) => d.toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit' });
    if (this.expired) {
      return html`<div class="queued expired" data-testid="queued-message" data-state="expired">
        <div class="body">${m.text}</div>
        <div class="state"><span class="tag">Expired</span><span>It did not start before ${expires ? at(expires) : 'its expiry'}, so it never ran. Send it again if it still applies.</span></div>
      </div>`;
    }
    const why = this.waitingFor ? `runs when ${this.waitingFor} is back` : 'runs after the current run';
    return html`<div class="queued" data-testid="queued-message" data-state="queued">
      ${this.editing
        ? html`<textarea aria-label="Edit the queued message" .value=${m.text} @keydown=${(e: KeyboardEvent) => this.onKey(e)}></textarea>`
        : html`<div class="body">${m.text}</div>`}
      <div class="state">
        <span class="tag">Queued</span><span>${why}${expires ? html` · expires ${at(expires)}` : nothing}</span>
        <span class="spacer"></span>
        ${this.editing
          ? html`<button type="button" @click=${() => this.save()} ?disabled=${this.pending}>Save</button>
              <button type="button" @click=${() => (this.editing = false)}>Cancel</button>`
          : html`<button type="button" @click=${() => (this.editing = true)} ?disabled=${this.pending}>Edit</button>
              <button type="button" @click=${() => this.withdraw()} ?disabled=${this.pending}>Withdraw</button>`}
      </div>
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-queued-message': LinkQueuedMessage;
  }
}
