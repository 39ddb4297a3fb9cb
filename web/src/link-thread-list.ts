import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { consume } from '@lit/context';
import { Task } from '@lit/task';
import { RunState, type Thread } from '../../gen/link/v1/run_pb.js';
import { apiContext, type ApiClients } from './api.js';
import { explain } from './errors.js';
import { harnessLabel } from './harnesses.js';

const STATE_LABELS: Partial<Record<RunState, string>> = {
  [RunState.QUEUED]: 'running',
  [RunState.DISPATCHED]: 'running',
  [RunState.RUNNING]: 'running',
  [RunState.WAITING]: 'needs you',
  [RunState.COMPLETED]: 'done',
  [RunState.FAILED]: 'failed',
  [RunState.CANCELLED]: 'stopped',
};

/**
 * The sidebar: the user's threads, newest first, each with the state of its latest run. Reloads
 * when `version` changes (the app bumps it when a thread changes).
 */
@customElement('link-thread-list')
export class LinkThreadList extends LitElement {
  @consume({ context: apiContext })
  clients!: ApiClients;

  @property() selected = '';
  @property({ type: Number }) version = 0;

  @state() private threads: Thread[] = [];
  @state() private error: string | undefined;

  static styles = css`
    :host { display: block; }
    nav { display: flex; flex-direction: column; gap: 2px; }
    a { display: block; padding: 8px 10px; border-radius: 8px; color: inherit; text-decoration: none; }
    a:hover { background: #eef0f3; }
    a[aria-current='page'] { background: #e4e7ec; }
    a:focus-visible { outline: 2px solid #2e90fa; outline-offset: 1px; }
    .title { font-size: 14px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .meta { font-size: 12px; color: #667085; display: flex; gap: 6px; align-items: center; }
    .state { border-radius: 999px; padding: 0 7px; font-size: 11px; }
    .state.running { background: #eff8ff; color: #175cd3; }
    .state.done { background: #ecfdf3; color: #027a48; }
    .state.failed { background: #fef3f2; color: #b42318; }
    .state.stopped { background: #f2f4f7; color: #475467; }
    .empty, .error { font-size: 13px; color: #667085; padding: 8px 10px; }
  `;

  /** The threads, loaded again whenever `version` changes; a newer load aborts an older one, whose answer is dropped. */
  private readonly loader = new Task(this, {
    args: () => [this.version] as const,
    task: (_version, { signal }) => this.clients.threads.listThreads({}, { signal }),
    onComplete: ({ threads }) => {
      this.threads = threads;
      this.error = undefined;
    },
    onError: (error) => (this.error = explain(error)),
  });

  render() {
    return html`
      <nav aria-label="Threads">
        ${this.threads.map((t) => {
          const state = STATE_LABELS[t.lastRunState];
          return html`<a href="#/threads/${t.id}" aria-current=${t.id === this.selected ? 'page' : 'false'} data-thread-id=${t.id}>
            <div class="title">${t.title || 'Untitled thread'}</div>
            <div class="meta">
              ${t.harness ? html`<span>${harnessLabel(t.harness)}</span>` : nothing}
              ${state ? html`<span class="state ${state}" data-testid="thread-state">${state}</span>` : nothing}
            </div>
          </a>`;
        })}
        ${this.threads.length === 0 && !this.error ? html`<div class="empty">No threads yet.</div>` : nothing}
        ${this.error ? html`<div class="error" role="alert">${this.error}</div>` : nothing}
      </nav>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-thread-list': LinkThreadList;
  }
}
