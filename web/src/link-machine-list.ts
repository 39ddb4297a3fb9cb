import { LitElement, css, html, nothing } from 'lit';
import { customElement } from 'lit/decorators.js';
import { consume } from '@lit/context';
import { repeat } from 'lit/directives/repeat.js';
import { DirectoryController, directoryContext, type LinkDirectory } from './link-directory.js';
import './link-machine-card.js';

/**
 * The machines page: every machine of the user's, live (from the shared LinkDirectory), with what
 * it can run, its sandboxes, and rename, disconnect and revoke.
 *
 * @csspart banner - the "reconnecting" notice
 * @fires link-connect-machine - the user asked to connect a machine (from the empty state)
 */
@customElement('link-machine-list')
export class LinkMachineList extends LitElement {
  @consume({ context: directoryContext })
  directory!: LinkDirectory;

  private readonly watch = new DirectoryController(this);

  static styles = css`
    :host { display: block; }
    h2 { font-size: 15px; font-weight: 600; color: var(--link-muted, #344054); margin: 0 0 12px; }
    .grid { display: grid; gap: 12px; }
    .banner { background: #fff6e5; border: 1px solid #f5d08a; color: #7a4b00; padding: 8px 12px; border-radius: 8px; margin-bottom: 12px; font-size: 13px; }
    .empty { background: var(--link-surface, #fff); border: 1px dashed #c9ced6; border-radius: 10px; padding: 28px; text-align: center; color: var(--link-muted, #475467); }
    .empty h3 { margin: 0 0 6px; font-size: 16px; color: var(--link-text, #1b1f24); }
    code { background: var(--link-hover, #f2f4f7); padding: 2px 6px; border-radius: 4px; font-size: 13px; }
    .loading { color: var(--link-muted, #667085); }
    .empty button { font: inherit; font-size: 14px; border-radius: 8px; padding: 8px 14px; cursor: pointer; border: 0; background: var(--link-primary, #1b1f24); color: var(--link-on-primary, #fff); }
  `;

  willUpdate(): void {
    this.watch.set(this.directory);
  }

  render() {
    const directory = this.directory;
    const links = directory?.sorted() ?? [];
    return html`
      ${directory?.streamError
        ? html`<div class="banner" part="banner" role="status">Lost contact with the control plane (${directory.streamError}); reconnecting…</div>`
        : nothing}
      <h2>Machines</h2>
      ${!directory?.loaded
        ? html`<p class="loading">Loading your machines…</p>`
        : links.length === 0
          ? html`<div class="empty" data-testid="empty-state">
              <h3>No machine connected yet</h3>
              <p>Link runs Claude Code, Codex, Gemini CLI or a shell on your own machines. Install <code>linkd</code> on one,
                pair it with a one-time code, and it shows up here as soon as it connects.</p>
              <button @click=${() => this.dispatchEvent(new CustomEvent('link-connect-machine', { bubbles: true, composed: true }))}>
                Connect a machine
              </button>
            </div>`
          : html`<div class="grid">${repeat(links, (link) => link.id, (link) => html`<link-machine-card .link=${link}></link-machine-card>`)}</div>`}
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-machine-list': LinkMachineList;
  }
}
