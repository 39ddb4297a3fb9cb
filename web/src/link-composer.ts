import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { ModelTier, type Thread } from '../../gen/link/v1/run_pb.js';
import { LinkState, type Link } from '../../gen/link/v1/types_pb.js';
import type { AgentChoice } from './link-agent-picker.js';
import { unavailable } from './harnesses.js';
import { lockIcon } from './icons.js';
import './link-agent-picker.js';

export interface SendDetail extends AgentChoice {
  text: string;
  linkId: string;
  repository: string;
  branch: string;
}

/**
 * Where a message is written and where it will run: the agent and model picker, the machine, and
 * (for a new thread) the repository and branch. After the thread's first message the harness,
 * machine, repository and branch are locked (a lock icon; the tooltip says a new thread is needed);
 * model and tier stay changeable. Sending is disabled, with the reason shown, while the machine is
 * offline or the agent cannot run there.
 *
 * Enter sends, Shift+Enter starts a new line.
 *
 * @fires link-send - detail: SendDetail
 */
@customElement('link-composer')
export class LinkComposer extends LitElement {
  /** The thread, once it has its first message (then its pins are locked). */
  @property({ attribute: false }) thread: Thread | undefined;
  @property({ attribute: false }) links: Link[] = [];
  @property({ type: Boolean }) busy = false;

  @state() private choice: AgentChoice = { harness: 'claude-code', tier: ModelTier.SMART, model: '' };
  @state() private linkId = '';
  @state() private repository = '';
  @state() private branch = '';
  @query('textarea') private textarea!: HTMLTextAreaElement;

  static styles = css`
    :host { display: block; }
    form { background: #fff; border: 1px solid #d0d5dd; border-radius: 12px; padding: 10px; box-shadow: 0 1px 2px rgba(16, 24, 40, 0.05); }
    textarea { width: 100%; box-sizing: border-box; border: 0; resize: vertical; min-height: 64px; font: inherit; outline: none; }
    .row { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-top: 6px; }
    .spacer { flex: 1; }
    select, input { font: inherit; font-size: 13px; border: 1px solid #d0d5dd; border-radius: 8px; padding: 5px 8px; background: #fff; max-width: 100%; }
    select:disabled, input:disabled { background: #f9fafb; color: #475467; }
    select:focus-visible, input:focus-visible, button:focus-visible, textarea:focus-visible { outline: 2px solid #2e90fa; outline-offset: 2px; }
    button.send { font: inherit; font-size: 14px; border-radius: 8px; padding: 6px 16px; cursor: pointer; border: 0; background: #1b1f24; color: #fff; }
    button.send[disabled] { background: #98a2b3; cursor: not-allowed; }
    .locked { font-size: 12px; color: #475467; display: inline-flex; gap: 4px; align-items: center; }
    .why { font-size: 12px; color: #b42318; margin-top: 6px; }
    label { font-size: 12px; color: #475467; display: inline-flex; gap: 4px; align-items: center; }
  `;

  willUpdate(): void {
    const thread = this.thread;
    if (thread?.harness) {
      // The pins are the thread's.
      if (this.choice.harness !== thread.harness) this.choice = { ...this.choice, harness: thread.harness };
      this.linkId = thread.linkId;
      this.repository = thread.repository;
      this.branch = thread.branch;
    } else if (!this.linkId || !this.links.some((l) => l.id === this.linkId)) {
      this.linkId = (this.links.find((l) => l.state === LinkState.ONLINE) ?? this.links[0])?.id ?? '';
    }
  }

  private get locked(): boolean {
    return Boolean(this.thread?.harness);
  }

  private get link(): Link | undefined {
    return this.links.find((l) => l.id === this.linkId);
  }

  /** Why sending is not possible now, or undefined. */
  private blocked(): string | undefined {
    if (this.links.length === 0) return 'Connect a machine first: the agent runs on it.';
    const problem = unavailable(this.link, this.choice.harness);
    if (problem) return `${problem.reason}. ${problem.fix}`;
    if (this.repository && !this.branch) return 'Name a branch for the repository.';
    return undefined;
  }

  focus(): void {
    this.textarea?.focus();
  }

  private send(event?: Event): void {
    event?.preventDefault();
    const text = this.textarea.value;
    if (!text.trim() || this.blocked() || this.busy) return;
    this.dispatchEvent(
      new CustomEvent<SendDetail>('link-send', {
        detail: { ...this.choice, text, linkId: this.linkId, repository: this.repository.trim(), branch: this.branch.trim() },
        bubbles: true,
        composed: true,
      }),
    );
  }

  /** Called by the thread view once the message was accepted. */
  clear(): void {
    this.textarea.value = '';
  }

  private onKey(event: KeyboardEvent): void {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) this.send(event);
  }

  render() {
    const blocked = this.blocked();
    const lockTip = 'Locked by the thread\'s first message. Start a new thread to change it.';
    return html`
      <form @submit=${(e: Event) => this.send(e)} aria-label="Send a message">
        <textarea aria-label="Message" placeholder="Ask the agent to do something…" @keydown=${(e: KeyboardEvent) => this.onKey(e)}></textarea>
        <div class="row">
          <link-agent-picker .value=${this.choice} .link=${this.link} ?locked=${this.locked}
            @link-pick=${(e: CustomEvent<AgentChoice>) => (this.choice = e.detail)}></link-agent-picker>
          ${this.locked
            ? html`<span class="locked" title=${lockTip} data-testid="pins-locked" aria-label=${`Machine ${this.link?.name ?? ''}, locked. ${lockTip}`}>
                ${lockIcon} ${this.link?.name || this.link?.hostname || 'machine'}${this.branch ? ` · ${this.branch}` : ''}
              </span>`
            : html`<label>Machine
                  <select aria-label="Machine" @change=${(e: Event) => (this.linkId = (e.target as HTMLSelectElement).value)}>
                    ${this.links.map(
                      (l) => html`<option value=${l.id} ?selected=${l.id === this.linkId}>${l.name || l.hostname}${l.state === LinkState.ONLINE ? '' : ' (offline)'}</option>`,
                    )}
                  </select>
                </label>
                <input aria-label="Repository (optional)" placeholder="repository (optional)" size="22" .value=${this.repository}
                  @input=${(e: Event) => (this.repository = (e.target as HTMLInputElement).value)} />
                <input aria-label="Branch" placeholder="branch" size="12" .value=${this.branch}
                  @input=${(e: Event) => (this.branch = (e.target as HTMLInputElement).value)} />`}
          <span class="spacer"></span>
          <button class="send" type="submit" ?disabled=${!!blocked || this.busy} title=${blocked ?? 'Send (Enter)'}>Send</button>
        </div>
        ${blocked ? html`<div class="why" role="status" data-testid="send-blocked">${blocked}</div>` : nothing}
      </form>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-composer': LinkComposer;
  }
}
