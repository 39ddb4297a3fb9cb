import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { LocalRepository } from '../../gen/link/v1/sandbox_pb.js';
import type { Link } from '../../gen/link/v1/types_pb.js';

/** The command that gives linkd a workspace on `link`, as its linkd advertised it, for ~/code. */
export function addWorkspaceCommand(link: Link | undefined): string {
  return (link?.capabilities?.workspaceAddCommand || 'linkd workspace add DIR').replace(/DIR$/, '~/code');
}

/**
 * The repositories a machine offers (those linkd found under the workspaces its owner gave it), in
 * a searchable list beside the composer's URL field. When the machine has no workspaces it says how
 * to add one, with the exact command to run on it.
 *
 * @fires link-repository - detail: LocalRepository (the one picked)
 */
@customElement('link-repository-picker')
export class LinkRepositoryPicker extends LitElement {
  @property({ attribute: false }) link: Link | undefined;
  @state() private open = false;
  @state() private query = '';

  static styles = css`
    :host { display: inline-block; position: relative; }
    button { font: inherit; font-size: 13px; border: 1px solid var(--link-border, #d0d5dd); border-radius: 8px; padding: 5px 8px; background: var(--link-surface, #fff); cursor: pointer; }
    .panel { position: absolute; z-index: 10; bottom: calc(100% + 4px); left: 0; width: min(420px, 90vw); background: var(--link-surface, #fff); border: 1px solid var(--link-border, #d0d5dd);
      border-radius: 10px; box-shadow: 0 8px 24px rgba(16, 24, 40, 0.12); padding: 8px; }
    input { font: inherit; font-size: 13px; width: 100%; box-sizing: border-box; border: 1px solid var(--link-border, #d0d5dd); border-radius: 6px; padding: 5px 8px; }
    ul { list-style: none; margin: 6px 0 0; padding: 0; max-height: 260px; overflow: auto; }
    li button { display: block; width: 100%; text-align: left; border: 0; border-radius: 6px; padding: 6px; }
    li button:hover, li button:focus-visible { background: var(--link-hover, #f2f4f7); outline: none; }
    .name { font-weight: 500; }
    .path, .hint, .empty { font-size: 12px; color: var(--link-muted, #475467); overflow-wrap: anywhere; }
    code { background: var(--link-hover, #f2f4f7); border-radius: 4px; padding: 1px 4px; user-select: all; }
  `;

  private get repositories(): LocalRepository[] {
    return this.link?.capabilities?.repositories ?? [];
  }

  private get hasWorkspaces(): boolean {
    return (this.link?.capabilities?.workspaces.length ?? 0) > 0;
  }

  private found(): LocalRepository[] {
    const words = this.query.toLowerCase().split(/\s+/).filter(Boolean);
    return this.repositories.filter((r) => words.every((w) => `${r.name} ${r.path} ${r.currentBranch}`.toLowerCase().includes(w)));
  }

  private pick(repository: LocalRepository): void {
    this.open = false;
    this.query = '';
    this.dispatchEvent(new CustomEvent<LocalRepository>('link-repository', { detail: repository, bubbles: true, composed: true }));
  }

  private hint() {
    const name = this.link?.name || this.link?.hostname || 'the machine';
    return html`<div class="hint" data-testid="no-workspaces">${name} offers no repositories yet. On it, run
      <code>${addWorkspaceCommand(this.link)}</code> (any folder with your git repositories), then pick one here.</div>`;
  }

  render() {
    const found = this.found();
    return html`<button type="button" aria-haspopup="listbox" aria-expanded=${this.open} @click=${() => (this.open = !this.open)}>On this machine ▾</button>
      ${this.open
        ? html`<div class="panel" role="dialog" aria-label="Repositories on ${this.link?.name ?? 'the machine'}"
              @keydown=${(e: KeyboardEvent) => e.key === 'Escape' && (this.open = false)}>
            ${!this.hasWorkspaces
              ? this.hint()
              : html`<input type="search" aria-label="Search repositories" placeholder="Search repositories…" .value=${this.query}
                    @input=${(e: Event) => (this.query = (e.target as HTMLInputElement).value)} />
                  <ul role="listbox" aria-label="Repositories">
                    ${found.map(
                      (r) => html`<li role="option" aria-selected="false"><button type="button" data-path=${r.path} @click=${() => this.pick(r)}>
                          <span class="name">${r.name}</span> <span class="path">${r.currentBranch ? `· ${r.currentBranch}` : ''}</span>
                          <div class="path">${r.path}</div></button></li>`,
                    )}
                  </ul>
                  ${found.length === 0 ? html`<div class="empty">${this.repositories.length === 0 ? 'No git repositories in its workspaces.' : 'No repository matches.'}</div>` : nothing}`}
          </div>`
        : nothing}`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-repository-picker': LinkRepositoryPicker;
  }
}
