import { LitElement, css, html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { consume } from '@lit/context';
import { CredentialsState, LinkState, type Link } from '../../gen/link/v1/types_pb.js';
import { DirectoryController, directoryContext, type LinkDirectory } from './link-directory.js';
import { harnessLabel, machineName } from './harnesses.js';
import { presenceLabel, presenceOf, presencePhrase, queuedLabel } from './presence.js';

/**
 * The header's machines: each with a green dot when online (violet when asleep), how many messages
 * wait for it, and its name (`machineName`: the given
 * name, told apart from a namesake); its button opens a popover with the hostname, what it can run
 * (CLIs, versions, logged in or not) and its running runs. The popover closes on a click outside,
 * Escape, or when a dialog opens. With no machine online it says so (the header's "Connect a
 * machine" is next to it).
 */
@customElement('link-machine-indicator')
export class LinkMachineIndicator extends LitElement {
  @consume({ context: directoryContext })
  directory!: LinkDirectory;

  @state() private open = '';
  private readonly links = new DirectoryController(this);
  private readonly onOutside = (event: Event) => {
    if (this.open && !event.composedPath().includes(this)) this.open = '';
  };
  private readonly onEscape = (event: KeyboardEvent) => {
    if (this.open && event.key === 'Escape') this.open = '';
  };

  connectedCallback(): void {
    super.connectedCallback();
    document.addEventListener('click', this.onOutside, true);
    document.addEventListener('keydown', this.onEscape);
  }

  disconnectedCallback(): void {
    super.disconnectedCallback();
    document.removeEventListener('click', this.onOutside, true);
    document.removeEventListener('keydown', this.onEscape);
  }

  static styles = css`
    :host { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
    .machine { position: relative; }
    button { font: inherit; font-size: 13px; border-radius: 999px; padding: 4px 10px; cursor: pointer; border: 1px solid var(--link-border, #d0d5dd); background: var(--link-surface, #fff); display: inline-flex; align-items: center; gap: 6px; }
    button:focus-visible { outline: 2px solid #2e90fa; outline-offset: 2px; }
    .dot { width: 8px; height: 8px; border-radius: 50%; background: #98a2b3; }
    .online .dot { background: #12b76a; box-shadow: 0 0 0 3px #d1fadf; }
    .asleep .dot { background: #7a5af8; box-shadow: 0 0 0 3px #ebe9fe; }
    .queued { font-size: 11px; color: #175cd3; }
    [role=dialog] { position: absolute; right: 0; top: calc(100% + 6px); z-index: 20; background: var(--link-surface, #fff); border: 1px solid var(--link-border, #d0d5dd); border-radius: 10px; box-shadow: 0 12px 32px rgba(16, 24, 40, 0.18); padding: 10px 12px; width: 280px; font-size: 13px; }
    ul { list-style: none; margin: 6px 0 0; padding: 0; }
    li { padding: 2px 0; }
    .muted { color: var(--link-muted, #667085); }
    .warn { color: #b54708; }
  `;

  willUpdate(): void {
    this.links.set(this.directory);
  }

  private details(link: Link) {
    const harnesses = link.capabilities?.harnesses ?? [];
    return html`<div role="dialog" aria-label="${machineName(link, this.directory.sorted())} details">
      <strong>${machineName(link, this.directory.sorted())}</strong> <span class="muted" data-testid="machine-hostname">${link.hostname}</span>
      <div class="muted" data-testid="machine-presence">${link.state === LinkState.ONLINE ? `online · ${link.runningRunIds.length} running` : presenceLabel(link)}${queuedLabel(link) ? ` · ${queuedLabel(link)}` : ''}</div>
      ${link.state === LinkState.ONLINE && link.dispatchKeyMissing
        ? html`<div class="warn" data-testid="not-paired">cannot run: not paired properly — pair again</div>`
        : nothing}
      <ul aria-label="What it can run">
        ${harnesses.map(
          (h) => html`<li>
            ${harnessLabel(h.name)}:
            ${!h.installed
              ? html`<span class="muted">not installed</span>`
              : html`${h.version || 'installed'}${h.credentials === CredentialsState.MISSING ? html` · <span class="warn">not logged in</span>` : h.credentials === CredentialsState.PRESENT ? ' · logged in' : ''}`}
          </li>`,
        )}
      </ul>
    </div>`;
  }

  render() {
    const links = this.directory?.sorted() ?? [];
    const anyOnline = links.some((l) => l.state === LinkState.ONLINE);
    return html`
      ${links.map((link) => {
        const online = link.state === LinkState.ONLINE;
        const presence = presenceOf(link);
        const queued = queuedLabel(link);
        const state = `${online ? (link.dispatchKeyMissing ? 'online, cannot run: not paired properly — pair again' : 'online') : presencePhrase(link)}${queued ? `, ${queued}` : ''}`;
        const name = machineName(link, links);
        return html`<span class="machine ${presence}" data-testid="machine-indicator" data-state=${presence}>
          <button aria-expanded=${this.open === link.id} aria-label="${name}, ${state}"
            title="${name}${link.hostname && link.hostname !== name ? ` on ${link.hostname}` : ''} (${state})"
            @click=${() => (this.open = this.open === link.id ? '' : link.id)}>
            <span class="dot" aria-hidden="true"></span>${name}${queued ? html` <span class="queued" data-testid="machine-queued">${queued}</span>` : nothing}
          </button>
          ${this.open === link.id ? this.details(link) : nothing}
        </span>`;
      })}
      ${anyOnline || !this.directory?.loaded ? nothing : html`<span class="muted" data-testid="none-online">No machine online</span>`}
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-machine-indicator': LinkMachineIndicator;
  }
}
