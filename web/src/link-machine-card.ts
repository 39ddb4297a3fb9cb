import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { consume } from '@lit/context';
import { Task } from '@lit/task';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { SandboxState, type Sandbox } from '../../gen/link/v1/sandbox_pb.js';
import { addWorkspaceCommand } from './link-repository-picker.js';
import { apiContext, type ApiClients } from './api.js';
import { explain } from './errors.js';
import { NOT_PAIRED_FIX } from './harnesses.js';
import { inlineCode } from './markdown.js';
import { presenceLabel, presenceOf, queuedLabel } from './presence.js';
import { CredentialsState, LinkState, SandboxProviderKind, type HarnessCapability, type Link } from '../../gen/link/v1/types_pb.js';

const HARNESS_LABELS: Record<string, string> = {
  'claude-code': 'Claude Code',
  codex: 'Codex',
  gemini: 'Gemini CLI',
  shell: 'Shell',
};

/**
 * One machine: online, asleep (it said it was going to sleep) or offline, since when, how many
 * messages wait for it, hostname, what it can run, its sandboxes (with delete), and rename,
 * disconnect and revoke (each destructive action asks for confirmation).
 *
 * @csspart card - the card's box; carries data-state="online", "asleep" or "offline"
 */
@customElement('link-machine-card')
export class LinkMachineCard extends LitElement {
  @consume({ context: apiContext })
  clients!: ApiClients;

  @property({ attribute: false }) link!: Link;

  @state() private sandboxes: Sandbox[] = [];
  @state() private confirming: '' | 'disconnect' | 'revoke' | string = '';
  @state() private renaming = false;
  @state() private error: string | undefined;

  /** The machine's sandboxes, loaded for each link id shown; a newer load aborts an older one, whose answer is dropped. */
  private readonly sandboxLoader = new Task(this, {
    args: () => [this.link.id] as const,
    task: ([linkId], { signal }) => this.clients.sandboxes.listSandboxes({ linkId, measure: this.link.state === LinkState.ONLINE }, { signal }),
    onComplete: ({ sandboxes }) => (this.sandboxes = sandboxes),
    onError: (error) => (this.error = explain(error)),
  });

  private async loadSandboxes(): Promise<void> {
    await this.sandboxLoader.run().catch(() => undefined);
  }

  private async act(what: () => Promise<unknown>): Promise<void> {
    this.error = undefined;
    try {
      await what();
    } catch (error) {
      this.error = explain(error);
    }
    this.confirming = '';
  }

  private actions() {
    const link = this.link;
    const confirm = (what: string, label: string, run: () => Promise<unknown>, warning: string) =>
      this.confirming === what
        ? html`<span class="confirm" role="group" aria-label="Confirm ${label}">${warning}
            <button class="danger" @click=${() => this.act(run)}>${label}</button>
            <button @click=${() => (this.confirming = '')}>Cancel</button></span>`
        : html`<button @click=${() => (this.confirming = what)}>${label}…</button>`;
    return html`<div class="actions">
      ${this.renaming
        ? html`<form @submit=${(e: Event) => {
            e.preventDefault();
            const name = (new FormData(e.target as HTMLFormElement).get('name') as string).trim();
            void this.act(() => this.clients.links.renameLink({ linkId: link.id, name })).then(() => (this.renaming = false));
          }}><input name="name" aria-label="New name" .value=${link.name} @keydown=${(e: KeyboardEvent) => e.key === 'Escape' && (this.renaming = false)} />
            <button type="submit">Save</button></form>`
        : html`<button @click=${() => (this.renaming = true)}>Rename</button>`}
      ${link.state === LinkState.ONLINE
        ? confirm('disconnect', 'Disconnect', () => this.clients.links.disconnectLink({ linkId: link.id }), 'linkd on it stops; start it again to come back.')
        : nothing}
      ${confirm('revoke', 'Revoke', () => this.clients.links.revokeLink({ linkId: link.id }), 'Its token stops working for good; pair it again to use it.')}
    </div>`;
  }

  private sandboxList() {
    if (this.sandboxes.length === 0) return nothing;
    return html`<table aria-label="Sandboxes on ${this.link.name}">
      <thead><tr><th>Repository</th><th>Branch</th><th>Thread</th><th>Provider</th><th>State</th><th>Size</th><th>Last used</th><th></th></tr></thead>
      <tbody>
        ${this.sandboxes.map(
          (s) => html`<tr data-sandbox-id=${s.id} data-state=${SandboxState[s.state].toLowerCase()}>
            <td title=${s.repository || s.path}>${repositoryName(s.repository)}</td>
            <td>${s.branch || (s.provider === 'in-place' ? '(its checkout)' : '-')}</td>
            <td>${s.lastThreadId
              ? html`<a href="#/threads/${s.lastThreadId}">${s.lastThreadTitle || 'Untitled thread'}</a>${s.threadCount > 1 ? ` +${s.threadCount - 1}` : ''}`
              : '-'}</td>
            <td>${s.provider === 'in-place' ? html`<span class="warn-badge" title="Runs in the repository folder itself, no isolation">in place</span>` : s.provider}</td>
            <td>${s.state === SandboxState.FAILED
              ? html`<span class="failed" data-testid="sandbox-failed">failed:</span> <div class="why">${s.error}</div>`
              : s.state === SandboxState.READY ? 'ready' : 'not made yet'}</td>
            <td>${size(s.sizeBytes)}</td>
            <td>${s.lastUsedAt ? relative(timestampDate(s.lastUsedAt)) : ''}</td>
            <td>${this.confirming === s.id
              ? html`<button class="danger" @click=${() => this.act(() => this.clients.sandboxes.deleteSandbox({ sandboxId: s.id })).then(() => this.loadSandboxes())}>Delete</button>
                  <button @click=${() => (this.confirming = '')}>Cancel</button>`
              : html`<button aria-label="Delete sandbox ${s.branch || s.id}" @click=${() => (this.confirming = s.id)}>Delete…</button>`}</td>
          </tr>`,
        )}
      </tbody>
    </table>`;
  }

  static styles = css`
    :host { display: block; }
    .card { background: var(--link-surface, #fff); border: 1px solid var(--link-border, #e3e6ea); border-radius: 10px; padding: 14px 16px; }
    .top { display: flex; align-items: center; gap: 10px; }
    .dot { width: 10px; height: 10px; border-radius: 50%; background: #98a2b3; flex: none; }
    .online .dot { background: #12b76a; box-shadow: 0 0 0 3px #d1fadf; }
    .name { font-weight: 600; }
    .meta { color: var(--link-muted, #667085); font-size: 13px; }
    .status { margin-left: auto; font-size: 13px; color: var(--link-muted, #475467); }
    .online .status { color: #027a48; }
    .asleep .dot { background: #7a5af8; box-shadow: 0 0 0 3px #ebe9fe; }
    .asleep .status { color: #5925dc; }
    .queued { font-size: 12px; border-radius: 999px; padding: 1px 8px; background: #eff8ff; border: 1px solid #b2ddff; color: #175cd3; }
    ul { list-style: none; display: flex; flex-wrap: wrap; gap: 6px; padding: 0; margin: 12px 0 0; }
    li { font-size: 12px; border: 1px solid var(--link-border, #e3e6ea); border-radius: 999px; padding: 2px 9px; color: var(--link-muted, #344054); }
    li.missing { color: #98a2b3; border-style: dashed; }
    li.warn { border-color: #f5d08a; background: #fffaeb; }
    .actions { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 12px; align-items: center; }
    .actions form { display: inline-flex; gap: 6px; }
    button { font: inherit; font-size: 12px; border-radius: 6px; padding: 3px 10px; cursor: pointer; border: 1px solid var(--link-border, #d0d5dd); background: var(--link-surface, #fff); }
    button:focus-visible, input:focus-visible { outline: 2px solid #2e90fa; outline-offset: 2px; }
    button.danger { border-color: #fda29b; color: #b42318; }
    .confirm { font-size: 12px; color: #7a4b00; display: inline-flex; gap: 6px; align-items: center; flex-wrap: wrap; }
    input { font: inherit; font-size: 13px; padding: 3px 8px; border: 1px solid var(--link-border, #d0d5dd); border-radius: 6px; }
    table { width: 100%; border-collapse: collapse; margin-top: 12px; font-size: 13px; }
    th { text-align: left; font-weight: 500; color: var(--link-muted, #667085); font-size: 12px; border-bottom: 1px solid var(--link-border, #eaecf0); padding: 4px 6px; }
    td { padding: 4px 6px; border-bottom: 1px solid #f2f4f7; vertical-align: top; overflow-wrap: anywhere; }
    .failed { color: #b42318; font-weight: 500; }
    .why { color: #b42318; font-size: 12px; max-width: 320px; }
    .warn-badge { font-size: 12px; color: #7a2e0e; background: #fef0c7; border: 1px solid #fdb022; border-radius: 999px; padding: 1px 7px; }
    .workspaces { font-size: 13px; color: var(--link-muted, #475467); margin-top: 10px; overflow-wrap: anywhere; }
    code { background: var(--link-hover, #f2f4f7); border-radius: 4px; padding: 1px 4px; user-select: all; }
    a { color: #175cd3; }
    .error { color: #b42318; font-size: 13px; margin-top: 8px; }
    .unpaired { color: #b42318; font-size: 13px; margin-top: 8px; }
    .unpaired .fix { color: var(--link-muted, #475467); }
  `;

  render() {
    const link = this.link;
    const online = link.state === LinkState.ONLINE;
    const presence = presenceOf(link);
    const queued = queuedLabel(link);
    const harnesses = link.capabilities?.harnesses ?? [];
    const providers = (link.capabilities?.sandboxProviders ?? []).filter((p) => p.available);
    return html`
      <div class="card ${presence}" part="card" data-state=${presence} data-link-id=${link.id}>
        <div class="top">
          <span class="dot" aria-hidden="true"></span>
          <span class="name">${link.name || link.hostname}</span>
          ${link.hostname && link.hostname !== link.name ? html`<span class="meta">${link.hostname}</span>` : nothing}
          <span class="meta">${[link.os, link.arch].filter(Boolean).join(' · ')}</span>
          ${queued ? html`<span class="queued" data-testid="link-queued" title="Messages waiting for this machine">${queued}</span>` : nothing}
          <span class="status" data-testid="link-status">${presenceLabel(link)}</span>
        </div>
        ${online && link.dispatchKeyMissing
          ? html`<div class="unpaired" role="status" data-testid="not-paired">Cannot run: not paired properly — pair again. <span class="fix">${inlineCode(NOT_PAIRED_FIX)}</span></div>`
          : nothing}
        ${harnesses.length > 0 ? html`<ul aria-label="What it can run">${harnesses.map((h) => this.harness(h))}</ul>` : nothing}
        ${providers.length > 0
          ? html`<ul aria-label="Sandbox kinds">${providers.map((p) => html`<li>${SandboxProviderKind[p.kind].toLowerCase()}</li>`)}</ul>`
          : nothing}
        ${online ? this.workspaces() : nothing} ${this.sandboxList()} ${this.actions()}
        ${this.error ? html`<div class="error" role="alert">${this.error}</div>` : nothing}
      </div>
    `;
  }

  /** The folders linkd may work in on the machine, or how to add one. */
  private workspaces() {
    const capabilities = this.link.capabilities;
    const workspaces = capabilities?.workspaces ?? [];
    if (workspaces.length === 0) {
      return html`<div class="workspaces" data-testid="no-workspaces">No workspaces: to work on its repositories, run
        <code>${addWorkspaceCommand(this.link)}</code> on it.</div>`;
    }
    const count = capabilities?.repositories.length ?? 0;
    return html`<div class="workspaces" data-testid="workspaces">Workspaces: ${workspaces.join(', ')} ·
      ${count}${capabilities?.repositoriesTruncated ? '+' : ''} git ${count === 1 ? 'repository' : 'repositories'}</div>`;
  }

  private harness(h: HarnessCapability) {
    const label = HARNESS_LABELS[h.name] ?? h.name;
    if (!h.installed) return html`<li class="missing" title=${h.detail}>${label}: not installed</li>`;
    const loggedOut = h.credentials === CredentialsState.MISSING;
    return html`<li class=${loggedOut ? 'warn' : ''} title=${h.detail || h.executable}>
      ${label} ${h.version}${loggedOut ? ' · not logged in' : ''}
    </li>`;
  }
}

/** A repository's short name: a local folder's name, or a URL's last part without ".git". */
function repositoryName(repository: string): string {
  if (!repository) return 'scratch';
  return repository.replace(/\/+$/, '').split(/[/:]/).at(-1)!.replace(/\.git$/, '') || repository;
}

function size(bytes: bigint): string {
  const n = Number(bytes);
  if (n === 0) return 'not measured';
  if (n < 1024 * 1024) return `${Math.ceil(n / 1024)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(1)} GB`;
}

function relative(date: Date): string {
  const seconds = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000));
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return date.toLocaleDateString();
}

declare global {
  interface HTMLElementTagNameMap {
    'link-machine-card': LinkMachineCard;
  }
}
