import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { ModelTier } from '../../gen/link/v1/run_pb.js';
import type { Link } from '../../gen/link/v1/types_pb.js';
import { lockIcon } from './icons.js';
import { credentialsWarning, HARNESSES, harnessLabel, machineName, tierLabel, TIERS, unavailable } from './harnesses.js';
import { inlineCode } from './markdown.js';
import { limitWarning } from './link-usage-limits.js';

export interface AgentChoice {
  harness: string;
  tier: ModelTier;
  /** An explicit model name; wins over the tier. */
  model: string;
}

/**
 * The agent and model picker: one popover with a section per harness (Claude Code, Codex, Gemini
 * CLI, Shell), each with the tiers Fast / Smart / Thinking, and an explicit model field (Shell has
 * neither: it runs commands). Sections run on the user's machine and say so ("on <machine name>"). A section whose CLI is missing or whose machine
 * is offline is shown disabled with the reason and the fix. When the harness is locked (the thread's
 * first message chose it), the other sections are disabled and say a new thread is needed; the tier
 * and model stay changeable.
 *
 * Keyboard: the button opens it; arrow keys move between choices, Enter or Space picks, Escape closes.
 *
 * @fires link-pick - detail: the new AgentChoice
 */
@customElement('link-agent-picker')
export class LinkAgentPicker extends LitElement {
  @property({ attribute: false }) value: AgentChoice = { harness: 'claude-code', tier: ModelTier.SMART, model: '' };
  /** The machine the thread runs (or will run) on. */
  @property({ attribute: false }) link: Link | undefined;
  /** The harness is pinned by the thread's first message. */
  @property({ type: Boolean }) locked = false;

  @state() private open = false;
  @query('[role=dialog]') private panel!: HTMLElement;
  @query('button.trigger') private trigger!: HTMLButtonElement;

  static styles = css`
    :host { position: relative; display: inline-block; }
    button { font: inherit; font-size: 13px; border-radius: 8px; padding: 5px 10px; cursor: pointer; border: 1px solid var(--link-border, #d0d5dd); background: var(--link-surface, #fff); color: var(--link-text, #1b1f24); }
    button:focus-visible, input:focus-visible { outline: 2px solid #2e90fa; outline-offset: 2px; }
    button[disabled] { cursor: not-allowed; color: #98a2b3; background: var(--link-sunken, #f9fafb); }
    .trigger { display: inline-flex; align-items: center; gap: 6px; }
    [role=dialog] { position: absolute; bottom: calc(100% + 6px); left: 0; z-index: 10; width: min(420px, 92vw); max-height: 70vh; overflow: auto; background: var(--link-surface, #fff); border: 1px solid var(--link-border, #d0d5dd); border-radius: 12px; box-shadow: 0 12px 32px rgba(16, 24, 40, 0.18); padding: 8px; }
    section { border-radius: 10px; padding: 8px 10px; }
    section.local { background: var(--link-hover, #f5faff); }
    section[aria-disabled='true'] { background: var(--link-sunken, #f9fafb); }
    h3 { margin: 0; font-size: 14px; display: flex; gap: 8px; align-items: baseline; }
    .where { font-size: 12px; font-weight: 400; color: #175cd3; }
    .tiers { display: flex; gap: 6px; margin-top: 6px; flex-wrap: wrap; }
    .tiers button[aria-checked='true'] { background: var(--link-primary, #1b1f24); color: var(--link-on-primary, #fff); border-color: var(--link-primary, #1b1f24); }
    .why { font-size: 12px; color: #b42318; margin-top: 4px; }
    .fix { font-size: 12px; color: var(--link-muted, #475467); }
    .warn { font-size: 12px; color: #b54708; margin-top: 4px; }
    .model { display: flex; gap: 6px; align-items: center; padding: 8px 10px 4px; border-top: 1px solid var(--link-border, #eaecf0); margin-top: 6px; font-size: 12px; color: var(--link-muted, #475467); }
    @media (max-width: 600px) {
      [role=dialog] { position: fixed; left: 8px; right: 8px; bottom: 96px; width: auto; box-sizing: border-box; }
    }
    .model input { flex: 1; min-width: 0; font: inherit; font-size: 13px; padding: 4px 8px; border: 1px solid var(--link-border, #d0d5dd); border-radius: 6px; }
    .lock { font-size: 12px; }
  `;

  private label(): string {
    // Shell runs commands: no model, no tier.
    if (this.value.harness === 'shell') return harnessLabel('shell');
    const tier = this.value.model || tierLabel(this.value.tier) || 'default model';
    return `${harnessLabel(this.value.harness)} · ${tier}`;
  }

  private toggle(open = !this.open): void {
    this.open = open;
    if (open) void this.updateComplete.then(() => this.options()[0]?.focus());
    else this.trigger?.focus();
  }

  private options(): HTMLButtonElement[] {
    const all = [...(this.panel?.querySelectorAll<HTMLButtonElement>('.tiers button:not([disabled])') ?? [])];
    const checked = all.findIndex((b) => b.getAttribute('aria-checked') === 'true');
    return checked > 0 ? [...all.slice(checked), ...all.slice(0, checked)] : all;
  }

  private pick(harness: string, tier: ModelTier): void {
    this.value = { harness, tier, model: this.value.model };
    this.emit();
    this.toggle(false);
  }

  private emit(): void {
    this.dispatchEvent(new CustomEvent<AgentChoice>('link-pick', { detail: this.value, bubbles: true, composed: true }));
  }

  private onKey(event: KeyboardEvent): void {
    if (event.key === 'Escape') {
      event.stopPropagation();
      this.toggle(false);
      return;
    }
    if (!['ArrowDown', 'ArrowUp', 'ArrowRight', 'ArrowLeft'].includes(event.key)) return;
    if ((event.target as HTMLElement).tagName === 'INPUT') return;
    const all = [...this.panel.querySelectorAll<HTMLButtonElement>('.tiers button:not([disabled])')];
    const at = all.indexOf(this.shadowRoot!.activeElement as HTMLButtonElement);
    const step = event.key === 'ArrowDown' || event.key === 'ArrowRight' ? 1 : -1;
    all[(at + step + all.length) % all.length]?.focus();
    event.preventDefault();
  }

  render() {
    const where = this.link ? machineName(this.link) : 'your machine';
    return html`
      <button class="trigger" aria-haspopup="dialog" aria-expanded=${this.open} @click=${() => this.toggle()} data-testid="agent-picker">
        ${this.locked ? html`<span class="lock" data-testid="lock-icon" title="Locked by the thread's first message">${lockIcon}</span>` : nothing}${this.label()} <span aria-hidden="true">▾</span>
      </button>
      ${this.open
        ? html`<div role="dialog" aria-label="Choose the agent and model" @keydown=${(e: KeyboardEvent) => this.onKey(e)}>
            ${HARNESSES.map((h) => {
              const blocked = this.locked && h.name !== this.value.harness
                ? { reason: `This thread runs ${harnessLabel(this.value.harness)}`, fix: 'Start a new thread to use another agent.' }
                : unavailable(this.link, h.name, this.locked);
              const warning = blocked ? undefined : credentialsWarning(this.link, h.name);
              const tiers = h.name === 'shell' ? [] : TIERS;
              return html`<section class="local" aria-disabled=${blocked ? 'true' : 'false'} data-harness=${h.name} aria-label=${h.label}>
                <h3>${h.label} <span class="where">on ${where}</span></h3>
                ${blocked ? html`<div class="why" data-testid="disabled-reason">${blocked.reason}</div><div class="fix">${inlineCode(blocked.fix)}</div>` : nothing}
                ${warning ? html`<div class="warn">${inlineCode(warning)}</div>` : nothing}
                ${blocked ? nothing : ((limit) => (limit ? html`<div class="warn" data-testid="usage-limit">${limit}</div>` : nothing))(limitWarning(this.link, h.name))}
                <div class="tiers" role="radiogroup" aria-label="${h.label} model">
                  ${tiers.length === 0
                    ? html`<button role="radio" aria-checked=${this.value.harness === h.name} ?disabled=${!!blocked} @click=${() => this.pick(h.name, ModelTier.UNSPECIFIED)}>
                        Run commands
                      </button>`
                    : tiers.map(
                        (t) => html`<button role="radio" aria-checked=${this.value.harness === h.name && this.value.tier === t.tier && !this.value.model}
                          ?disabled=${!!blocked} @click=${() => this.pick(h.name, t.tier)}>${t.label}</button>`,
                      )}
                </div>
              </section>`;
            })}
            ${this.value.harness === 'shell'
              ? nothing
              : html`<label class="model">Explicit model
              <input type="text" placeholder="e.g. claude-opus-4-8" .value=${this.value.model} aria-label="Explicit model name"
                @change=${(e: Event) => {
                  this.value = { ...this.value, model: (e.target as HTMLInputElement).value.trim() };
                  this.emit();
                }}
                @keydown=${(e: KeyboardEvent) => e.key === 'Enter' && this.toggle(false)} />
            </label>`}
          </div>`
        : nothing}
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-agent-picker': LinkAgentPicker;
  }
}
