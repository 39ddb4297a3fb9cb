import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { consume } from '@lit/context';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { RunState, type Thread } from '../../gen/link/v1/run_pb.js';
import { apiContext, type ApiClients } from './api.js';
import { explain } from './errors.js';
import { harnessLabel } from './harnesses.js';
import { InteractionsController, interactionsContext, type InteractionStore } from './interactions.js';
import './link-needs-you-badge.js';
import { DirectoryController } from './link-directory.js';
import { threadDirectoryContext, type ThreadDirectory } from './thread-directory.js';

const STATE_LABELS: Partial<Record<RunState, string>> = {
  [RunState.QUEUED]: 'running',
  [RunState.DISPATCHED]: 'running',
  [RunState.RUNNING]: 'running',
  [RunState.COMPLETED]: 'done',
  [RunState.FAILED]: 'failed',
  [RunState.CANCELLED]: 'stopped',
  [RunState.INTERRUPTED]: 'interrupted',
  [RunState.WAITING]: 'waiting for you',
};

/** The badge's style of each label. */
const STATE_CLASSES: Record<string, string> = { 'waiting for you': 'waiting' };

/** When a thread was last active: the time today, else the day and time. */
export function formatWhen(date: Date, now = new Date()): string {
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (date.toDateString() === now.toDateString()) return time;
  return `${date.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}`;
}

/**
 * The sidebar: the user's threads live from the thread directory (`WatchThreads`), most recently
 * active first, each with its agent, machine, last activity and its newest run's state — so two
 * threads of the same title can be told apart. A search box filters titles; "Archived" shows the
 * archived ones instead. Each thread's menu renames it (in place: Enter saves, Escape cancels),
 * archives or restores it, or deletes it (after asking; refused with the reason while a run is in
 * progress). Deleting the open thread goes back to a new thread.
 */
@customElement('link-thread-list')
export class LinkThreadList extends LitElement {
  @consume({ context: apiContext })
  clients!: ApiClients;

  @consume({ context: interactionsContext })
  interactions: InteractionStore | undefined;
  private readonly watchInteractions = new InteractionsController(this);

  @consume({ context: threadDirectoryContext })
  directory!: ThreadDirectory;

  @property() selected = '';

  @state() private query = '';
  @state() private archived = false;
  /** The thread whose menu is open, being renamed, or asked about before deleting. */
  @state() private menu = '';
  @state() private renaming = '';
  @state() private confirmingDelete = '';
  @state() private error: string | undefined;
  @query('input.rename') private renameInput: HTMLInputElement | null | undefined;
  private readonly watched = new DirectoryController(this);

  static styles = css`
    :host { display: block; }
    .tools { display: flex; gap: 6px; margin-bottom: 8px; }
    input[type=search], input.rename { flex: 1; min-width: 0; font: inherit; font-size: 13px; border: 1px solid var(--link-border, #d0d5dd); border-radius: 8px; padding: 5px 8px; background: var(--link-surface, #fff); color: inherit; }
    button { font: inherit; font-size: 12px; border-radius: 8px; padding: 4px 8px; cursor: pointer; border: 1px solid var(--link-border, #d0d5dd); background: var(--link-surface, #fff); color: inherit; }
    button[aria-pressed='true'] { background: var(--link-selected, #e4e7ec); }
    nav { display: flex; flex-direction: column; gap: 2px; }
    .item { position: relative; display: flex; align-items: stretch; border-radius: 8px; }
    .item:hover { background: var(--link-hover, #eef0f3); }
    .item[aria-current='page'] { background: var(--link-selected, #e4e7ec); }
    a { flex: 1; min-width: 0; display: block; padding: 8px 10px; border-radius: 8px; color: inherit; text-decoration: none; }
    a:focus-visible, button:focus-visible, input:focus-visible { outline: 2px solid #2e90fa; outline-offset: 1px; }
    .item > button.more { border: 0; background: none; padding: 0 8px; font-size: 16px; color: var(--link-muted, #667085); }
    .title { font-size: 14px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .meta { font-size: 12px; color: var(--link-muted, #667085); display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
    .state { border-radius: 999px; padding: 0 7px; font-size: 11px; }
    .state.running { background: #eff8ff; color: #175cd3; }
    .state.waiting { background: #fffaeb; color: #b54708; }
    .state.done { background: #ecfdf3; color: #027a48; }
    .state.failed { background: #fef3f2; color: #b42318; }
    .state.stopped { background: var(--link-hover, #f2f4f7); color: var(--link-muted, #475467); }
    [role=menu] { position: absolute; right: 4px; top: calc(100% - 4px); z-index: 5; display: flex; flex-direction: column; gap: 2px; padding: 4px; background: var(--link-surface, #fff); border: 1px solid var(--link-border, #d0d5dd); border-radius: 8px; box-shadow: 0 8px 20px rgba(16, 24, 40, 0.16); }
    [role=menu] button { border: 0; text-align: left; }
    .confirm { font-size: 12px; padding: 6px 10px; display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
    button.danger { color: #b42318; border-color: #fda29b; }
    .rename-row { display: flex; gap: 4px; padding: 6px; flex: 1; }
    .empty, .error { font-size: 13px; color: var(--link-muted, #667085); padding: 8px 10px; }
    .error { color: #b42318; }
  `;

  connectedCallback(): void {
    super.connectedCallback();
    document.addEventListener('click', this.onOutside);
  }

  disconnectedCallback(): void {
    super.disconnectedCallback();
    document.removeEventListener('click', this.onOutside);
  }

  private readonly onOutside = (event: MouseEvent) => {
    if (this.menu && !event.composedPath().includes(this)) this.menu = '';
  };

  willUpdate(): void {
    this.watched.set(this.directory);
    this.watchInteractions.set(this.interactions);
  }

  /** Focuses the search box (the `/` shortcut). */
  focusSearch(): void {
    this.renderRoot.querySelector<HTMLInputElement>('input[type=search]')?.focus();
  }

  /** The threads as listed now, for next/previous thread. */
  get listed(): Thread[] {
    return this.directory?.sorted({ archived: this.archived, query: this.query }) ?? [];
  }

  private async patch(threadId: string, patch: { title?: string; archived?: boolean }): Promise<void> {
    this.error = undefined;
    try {
      const { thread } = await this.clients.threads.updateThread({ threadId, ...patch });
      if (thread) this.directory.put(thread);
    } catch (error) {
      this.error = explain(error);
    }
  }

  private onRenameKey(event: KeyboardEvent, threadId: string): void {
    if (event.key === 'Enter') void this.rename(threadId);
    if (event.key === 'Escape') {
      event.stopPropagation();
      this.renaming = '';
    }
  }

  private archive(thread: Thread): void {
    this.menu = '';
    void this.patch(thread.id, { archived: !thread.archived });
  }

  private askDelete(threadId: string): void {
    this.menu = '';
    this.confirmingDelete = threadId;
  }

  private async rename(threadId: string): Promise<void> {
    const title = this.renameInput?.value.trim() ?? '';
    this.renaming = '';
    if (!title || title === this.directory.get(threadId)?.title) return;
    await this.patch(threadId, { title });
  }

  private async delete(threadId: string): Promise<void> {
    this.confirmingDelete = '';
    this.error = undefined;
    try {
      await this.clients.threads.deleteThread({ threadId });
      this.directory.remove(threadId);
      if (threadId === this.selected) window.location.hash = '#/';
    } catch (error) {
      this.error = explain(error);
    }
  }

  private item(t: Thread, needsYou = 0) {
    const state = STATE_LABELS[t.lastRunState];
    const title = t.title || 'Untitled thread';
    if (this.renaming === t.id) {
      return html`<div class="item" data-thread-id=${t.id}><div class="rename-row">
        <input class="rename" aria-label="New title" .value=${t.title} maxlength="200" @keydown=${(e: KeyboardEvent) => this.onRenameKey(e, t.id)} />
        <button @click=${() => void this.rename(t.id)}>Save</button>
      </div></div>`;
    }
    return html`<div class="item" aria-current=${t.id === this.selected ? 'page' : 'false'} data-thread-id=${t.id}>
        <a href="#/threads/${t.id}" aria-current=${t.id === this.selected ? 'page' : 'false'}>
          <div class="title">${title}</div>
          <div class="meta">
            ${t.harness ? html`<span>${harnessLabel(t.harness)}</span>` : nothing}
            ${t.linkName ? html`<span data-testid="thread-machine">on ${t.linkName}</span>` : nothing}
            ${t.updatedAt ? html`<time data-testid="thread-time" datetime=${timestampDate(t.updatedAt).toISOString()}>${formatWhen(timestampDate(t.updatedAt))}</time>` : nothing}
            ${state ? html`<span class="state ${STATE_CLASSES[state] ?? state}" data-testid="thread-state">${state}</span>` : nothing}
            <link-needs-you-badge .count=${needsYou}></link-needs-you-badge>
          </div>
        </a>
        <button class="more" aria-label="Actions for ${title}" aria-haspopup="menu" aria-expanded=${this.menu === t.id}
          @click=${() => (this.menu = this.menu === t.id ? '' : t.id)}>⋯</button>
        ${this.menu === t.id
          ? html`<div role="menu" aria-label="Thread actions" @keydown=${(e: KeyboardEvent) => e.key === 'Escape' && (this.menu = '')}>
              <button role="menuitem" @click=${() => this.startRename(t.id)}>Rename</button>
              <button role="menuitem" @click=${() => this.archive(t)}>${t.archived ? 'Restore' : 'Archive'}</button>
              <button role="menuitem" class="danger" @click=${() => this.askDelete(t.id)}>Delete…</button>
            </div>`
          : nothing}
      </div>
      ${this.confirmingDelete === t.id
        ? html`<div class="confirm" role="group" aria-label="Confirm delete">Delete "${title}" with its messages and runs?
            <button class="danger" @click=${() => void this.delete(t.id)}>Delete</button>
            <button @click=${() => (this.confirmingDelete = '')}>Cancel</button></div>`
        : nothing}`;
  }

  private startRename(threadId: string): void {
    this.menu = '';
    this.renaming = threadId;
    void this.updateComplete.then(() => {
      this.renameInput?.focus();
      this.renameInput?.select();
    });
  }

  render() {
    const threads = this.listed;
    const loaded = this.directory?.loaded ?? false;
    const needsYou = this.interactions?.pendingByThread();
    return html`
      <div class="tools">
        <input type="search" aria-label="Search threads" placeholder="Search threads" .value=${this.query}
          @input=${(e: Event) => (this.query = (e.target as HTMLInputElement).value)} />
        <button aria-pressed=${this.archived} title="Show archived threads" @click=${() => (this.archived = !this.archived)}>Archived</button>
      </div>
      <nav aria-label="Threads">
        ${threads.map((t) => this.item(t, needsYou?.get(t.id) ?? 0))}
        ${loaded && threads.length === 0
          ? html`<div class="empty">${this.query ? 'No thread matches.' : this.archived ? 'No archived threads.' : 'No threads yet.'}</div>`
          : nothing}
        ${this.directory?.streamError ? html`<div class="error" role="status">Reconnecting… (${this.directory.streamError})</div>` : nothing}
        ${this.error ? html`<div class="error" role="alert" data-testid="thread-list-error">${this.error}</div>` : nothing}
      </nav>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-thread-list': LinkThreadList;
  }
}
