import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { consume } from '@lit/context';
import { MessageDelivery, ModelTier, type Thread, type ThreadMessage } from '../../gen/link/v1/run_pb.js';
import { LinkState, type Link } from '../../gen/link/v1/types_pb.js';
import type { User } from '../../gen/link/v1/user_service_pb.js';
import type { AgentChoice } from './link-agent-picker.js';
import { HARNESSES, machineName, unavailable } from './harnesses.js';
import { inlineCode } from './markdown.js';
import { lastChoice, rememberChoice, userContext } from './last-choice.js';
import { lockIcon } from './icons.js';
import './link-agent-picker.js';
import './link-repository-picker.js';
import './link-permission-mode.js';
import type { LinkPermissionMode, PermissionChoice } from './link-permission-mode.js';
import type { LocalRepository } from '../../gen/link/v1/sandbox_pb.js';

/** The badge that marks a thread running in a repository's own folder, without isolation. */
export const inPlaceBadge = html`<span class="in-place" data-testid="in-place-badge" title="Runs directly in the repository folder: no worktree, no isolation; the agent changes your checkout itself.">⚠ in place, no isolation</span>`;

export interface SendDetail extends AgentChoice {
  text: string;
  linkId: string;
  repository: string;
  branch: string;
  /** "in-place" when the user chose to run in the repository folder itself; '' for the default. */
  sandboxProvider: string;
  /** What the message may do without asking (and whether the user confirmed auto). */
  permission: PermissionChoice;
  /** During a run: into the running turn (NOW, where the harness takes it) or after it. */
  delivery: MessageDelivery;
  /** For a machine that is not online: how long the message may wait for it (0: the server's 24 h). */
  expiresInSeconds: number;
}

/** How long a message may wait for an offline machine: the composer's choices. */
export const EXPIRY_CHOICES: { label: string; seconds: number }[] = [
  { label: '1 hour', seconds: 3600 },
  { label: '8 hours', seconds: 8 * 3600 },
  { label: '24 hours', seconds: 24 * 3600 },
  { label: '3 days', seconds: 3 * 24 * 3600 },
];
/** The expiry a message for an offline machine gets unless the user picks another. */
export const DEFAULT_EXPIRY_SECONDS = 24 * 3600;

/**
 * Where a message is written and where it will run: the agent and model picker, the machine, and
 * (for a new thread) the repository and branch: a URL, or one the machine offers, picked from a
 * searchable list (which says how to add a workspace when it has none), optionally in place (marked
 * with a warning badge). After the thread's first message the harness,
 * machine, repository and branch are locked (a lock icon; the tooltip says a new thread is needed);
 * model and tier stay changeable. Sending is disabled, with the reason shown, while the agent cannot
 * run on the machine. A machine that is not online but has connected before takes messages: the
 * composer says "Runs when <machine> is back" and offers how long the message may wait (1 h, 8 h,
 * 24 h by default, 3 days); one that never connected cannot be sent to.
 *
 * A new thread starts with the user's last choice (agent, tier, model, machine: `last-choice.ts`),
 * unless that agent cannot run on the machine: then with the first agent that can (a machine with
 * only Shell starts with Shell). A thread opened again keeps the model and tier of its last message.
 *
 * Enter sends, Shift+Enter starts a new line; Enter while a run is in progress queues the message
 * (it runs after the run; the thread view shows it queued). When the thread's harness takes input
 * mid-turn (its capability `steerable`), a choice beside Send says "After this turn" (the default)
 * or "Send now".
 *
 * @fires link-send - detail: SendDetail
 */
@customElement('link-composer')
export class LinkComposer extends LitElement {
  /** The thread, once it has its first message (then its pins are locked). */
  @property({ attribute: false }) thread: Thread | undefined;
  @property({ attribute: false }) links: Link[] = [];
  /** The thread's newest message: its model and tier are the composer's when the thread opens. */
  @property({ attribute: false }) lastMessage: ThreadMessage | undefined;
  /** A message is on its way: Enter waits. */
  @property({ type: Boolean }) busy = false;
  /** A run of the thread is in progress: a message sent now is queued (or steered, when chosen). */
  @property({ type: Boolean }) running = false;

  @consume({ context: userContext, subscribe: true })
  @state()
  user: User | undefined;

  @state() private choice: AgentChoice = { harness: 'claude-code', tier: ModelTier.SMART, model: '' };
  @state() private delivery = MessageDelivery.AFTER_TURN;
  @state() private expiresInSeconds = DEFAULT_EXPIRY_SECONDS;
  /** The thread (or '' for a new one) the choice was set up for; another one sets it up again. */
  private choiceFor: string | undefined;
  /** The user picked the agent for this machine themselves: no default replaces it. */
  private picked = false;
  @state() private linkId = '';
  @state() private repository = '';
  @state() private branch = '';
  @state() private inPlace = false;
  @query('textarea') private textarea!: HTMLTextAreaElement;
  @query('link-permission-mode') private permission!: LinkPermissionMode;

  static styles = css`
    :host { display: block; }
    form { background: var(--link-surface, #fff); border: 1px solid var(--link-border, #d0d5dd); border-radius: 12px; padding: 10px; box-shadow: 0 1px 2px rgba(16, 24, 40, 0.05); }
    textarea { width: 100%; box-sizing: border-box; border: 0; resize: vertical; min-height: 64px; font: inherit; outline: none; background: transparent; color: inherit; }
    .row { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-top: 6px; }
    .spacer { flex: 1; }
    select, input { font: inherit; font-size: 13px; border: 1px solid var(--link-border, #d0d5dd); border-radius: 8px; padding: 5px 8px; background: var(--link-surface, #fff); max-width: 100%; }
    select:disabled, input:disabled { background: var(--link-sunken, #f9fafb); color: var(--link-muted, #475467); }
    select:focus-visible, input:focus-visible, button:focus-visible, textarea:focus-visible { outline: 2px solid #2e90fa; outline-offset: 2px; }
    button.send { font: inherit; font-size: 14px; border-radius: 8px; padding: 6px 16px; cursor: pointer; border: 0; background: var(--link-primary, #1b1f24); color: var(--link-on-primary, #fff); }
    button.send[disabled] { background: #98a2b3; cursor: not-allowed; }
    .locked { font-size: 12px; color: var(--link-muted, #475467); display: inline-flex; gap: 4px; align-items: center; }
    .why { font-size: 12px; color: #b42318; margin-top: 6px; }
    .notice { font-size: 12px; color: #b54708; margin-top: 6px; }
    .waits { font-size: 12px; color: #7a4b00; margin-top: 6px; display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
    label { font-size: 12px; color: var(--link-muted, #475467); display: inline-flex; gap: 4px; align-items: center; }
    .in-place { font-size: 12px; color: #7a2e0e; background: #fef0c7; border: 1px solid #fdb022; border-radius: 999px; padding: 2px 8px; }
  `;

  willUpdate(): void {
    if (!this.running) this.delivery = MessageDelivery.AFTER_TURN;
    const thread = this.thread;
    if (thread?.harness) {
      // The pins are the thread's; the model and tier its last message's, when it opens.
      if (this.choiceFor !== thread.id) {
        this.choiceFor = thread.id;
        const last = this.lastMessage;
        this.choice = last ? { harness: thread.harness, tier: last.tier, model: last.model } : { ...this.choice, harness: thread.harness };
      }
      if (this.choice.harness !== thread.harness) this.choice = { ...this.choice, harness: thread.harness };
      this.linkId = thread.linkId;
      this.repository = thread.repository;
      this.branch = thread.branch;
      this.inPlace = thread.sandboxProvider === 'in-place';
      return;
    }
    if (this.choiceFor !== '') {
      this.choiceFor = '';
      this.picked = false;
      const last = lastChoice(this.user?.id);
      if (last) {
        this.choice = { harness: last.harness, tier: last.tier, model: last.model };
        if (last.linkId) this.linkId = last.linkId;
      }
    }
    if (!this.linkId || !this.links.some((l) => l.id === this.linkId)) {
      this.linkId = (this.links.find((l) => l.state === LinkState.ONLINE) ?? this.links[0])?.id ?? '';
    }
    // The first agent that can run on the machine, unless the user picked one for it.
    const link = this.link;
    if (!this.picked && link?.state === LinkState.ONLINE && unavailable(link, this.choice.harness)) {
      const runnable = HARNESSES.find((h) => !unavailable(link, h.name));
      if (runnable) this.choice = withHarness(this.choice, runnable.name);
    }
  }

  private pick(choice: AgentChoice): void {
    this.choice = choice.harness === 'shell' ? { harness: 'shell', tier: ModelTier.UNSPECIFIED, model: '' } : choice;
    this.picked = true;
    this.remember();
  }

  private pickMachine(linkId: string): void {
    this.linkId = linkId;
    // A machine of its own: the default applies again if the agent cannot run there.
    this.picked = false;
    this.remember();
  }

  private remember(): void {
    rememberChoice(this.user?.id, { ...this.choice, linkId: this.linkId });
  }

  private get locked(): boolean {
    return Boolean(this.thread?.harness);
  }

  private get link(): Link | undefined {
    return this.links.find((l) => l.id === this.linkId);
  }

  /**
   * The machine is not online but has connected before (its capabilities are known): a message
   * waits for it. One that never connected has nothing to check the message against.
   */
  private get waitsForMachine(): boolean {
    const link = this.link;
    return !!link && link.state !== LinkState.ONLINE && (link.capabilities?.harnesses.length ?? 0) > 0;
  }

  /** The thread's harness takes a message into its running turn (the machine says `steerable`). */
  private get steerable(): boolean {
    return this.link?.capabilities?.harnesses.some((h) => h.name === this.choice.harness && h.steerable) ?? false;
  }

  /** Why sending is not possible now, or undefined. */
  private blocked(): string | undefined {
    if (this.links.length === 0) return 'Connect a machine first: the agent runs on it.';
    // A machine away is judged by what it had when it was last online.
    const link = this.waitsForMachine ? { ...this.link!, state: LinkState.ONLINE } : this.link;
    const problem = unavailable(link, this.choice.harness, this.locked);
    if (problem) return `${problem.reason}. ${problem.fix}`;
    if (this.repository && !this.branch && !this.inPlace) return 'Name a branch for the repository.';
    return undefined;
  }

  focus(): void {
    this.textarea?.focus();
  }

  private async send(event?: Event): Promise<void> {
    event?.preventDefault();
    const text = this.textarea.value;
    if (!text.trim() || this.blocked() || this.busy) return;
    const permission = await this.permission.settle();
    if (!permission) return;
    if (!this.locked) this.remember();
    this.dispatchEvent(
      new CustomEvent<SendDetail>('link-send', {
        detail: {
          ...(this.choice.harness === 'shell' ? { ...this.choice, tier: ModelTier.UNSPECIFIED, model: '' } : this.choice),
          text,
          linkId: this.linkId,
          repository: this.repository.trim(),
          branch: this.local && this.inPlace ? '' : this.branch.trim(),
          sandboxProvider: this.local && this.inPlace ? 'in-place' : '',
          permission,
          delivery: this.running && this.steerable ? this.delivery : MessageDelivery.AFTER_TURN,
          expiresInSeconds: this.waitsForMachine ? this.expiresInSeconds : 0,
        },
        bubbles: true,
        composed: true,
      }),
    );
  }

  /** Whether the repository is one on the machine (a path), not a URL. */
  private get local(): boolean {
    return this.repository.trim().startsWith('/');
  }

  private pickRepository(repository: LocalRepository): void {
    this.repository = repository.path;
    if (!this.branch) this.branch = `link/${Math.random().toString(36).slice(2, 8)}`;
  }

  /** Called by the thread view once the message was accepted. */
  clear(): void {
    this.textarea.value = '';
  }

  private onKey(event: KeyboardEvent): void {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) void this.send(event);
  }

  render() {
    const blocked = this.blocked();
    const lockTip = 'Locked by the thread\'s first message. Start a new thread to change it.';
    return html`
      <form @submit=${(e: Event) => void this.send(e)} aria-label="Send a message">
        <textarea aria-label="Message" placeholder="Ask the agent to do something…" @keydown=${(e: KeyboardEvent) => this.onKey(e)}></textarea>
        <div class="row">
          <link-agent-picker .value=${this.choice} .link=${this.link} ?locked=${this.locked}
            @link-pick=${(e: CustomEvent<AgentChoice>) => this.pick(e.detail)}></link-agent-picker>
          ${this.locked
            ? html`<span class="locked" title=${lockTip} data-testid="pins-locked" aria-label=${`Machine ${this.link ? machineName(this.link) : ''}, locked. ${lockTip}`}>
                ${lockIcon} ${this.link ? machineName(this.link) : 'machine'}${this.branch ? ` · ${this.branch}` : ''}
              </span>`
            : html`<label>Machine
                  <select aria-label="Machine" @change=${(e: Event) => this.pickMachine((e.target as HTMLSelectElement).value)}>
                    ${this.links.map(
                      (l) => html`<option value=${l.id} ?selected=${l.id === this.linkId}>${machineName(l, this.links)}${l.state === LinkState.ONLINE ? '' : ' (offline)'}</option>`,
                    )}
                  </select>
                </label>
                <input aria-label="Repository (optional)" placeholder="repository URL (optional)" size="22" .value=${this.repository}
                  @input=${(e: Event) => (this.repository = (e.target as HTMLInputElement).value)} />
                <link-repository-picker .link=${this.link} @link-repository=${(e: CustomEvent<LocalRepository>) => this.pickRepository(e.detail)}></link-repository-picker>
                <input aria-label="Branch" placeholder="branch" size="12" .value=${this.inPlace && this.local ? '' : this.branch} ?disabled=${this.inPlace && this.local}
                  @input=${(e: Event) => (this.branch = (e.target as HTMLInputElement).value)} />
                ${this.local
                  ? html`<label title="No worktree: the agent works in your checkout itself"><input type="checkbox" aria-label="Run in place" .checked=${this.inPlace}
                      @change=${(e: Event) => (this.inPlace = (e.target as HTMLInputElement).checked)} />in place</label>`
                  : nothing}`}
          ${this.inPlace && (this.locked || this.local) ? inPlaceBadge : nothing}
          <link-permission-mode .sandboxProvider=${this.thread?.sandboxProvider ?? ''}></link-permission-mode>
          <span class="spacer"></span>
          ${this.running && this.steerable && !blocked
            ? html`<select aria-label="When" data-testid="delivery" @change=${(e: Event) => (this.delivery = Number((e.target as HTMLSelectElement).value))}>
                <option value=${MessageDelivery.AFTER_TURN} ?selected=${this.delivery !== MessageDelivery.NOW}>After this turn</option>
                <option value=${MessageDelivery.NOW} ?selected=${this.delivery === MessageDelivery.NOW}>Send now</option>
              </select>`
            : nothing}
          <button class="send" type="submit" ?disabled=${!!blocked || this.busy} title=${blocked ?? (this.running ? 'Queue it: it runs after the current run (Enter)' : 'Send (Enter)')}>Send</button>
        </div>
        ${blocked ? html`<div class="why" role="status" data-testid="send-blocked">${inlineCode(blocked)}</div>` : nothing}
        ${this.running && !blocked && !this.steerable
          ? html`<div class="notice" role="status" data-testid="send-notice">A run is in progress: a message sent now waits and runs after it.</div>`
          : nothing}
        ${this.waitsForMachine && !blocked
          ? html`<div class="waits" role="status" data-testid="send-waits">
              <span>Runs when ${machineName(this.link!)} is back.</span>
              <label>It waits up to
                <select aria-label="Expires after" @change=${(e: Event) => (this.expiresInSeconds = Number((e.target as HTMLSelectElement).value))}>
                  ${EXPIRY_CHOICES.map((c) => html`<option value=${c.seconds} ?selected=${c.seconds === this.expiresInSeconds}>${c.label}</option>`)}
                </select>
              </label>
            </div>`
          : nothing}
      </form>
    `;
  }
}

/** The choice with another agent: Shell has no tiers or models; an agent coming from Shell gets Smart. */
function withHarness(choice: AgentChoice, harness: string): AgentChoice {
  if (harness === 'shell') return { harness, tier: ModelTier.UNSPECIFIED, model: '' };
  return { harness, tier: choice.tier === ModelTier.UNSPECIFIED ? ModelTier.SMART : choice.tier, model: choice.harness === 'shell' ? '' : choice.model };
}

declare global {
  interface HTMLElementTagNameMap {
    'link-composer': LinkComposer;
  }
}
