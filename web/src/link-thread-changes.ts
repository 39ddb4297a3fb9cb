import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { consume } from '@lit/context';
import { Task } from '@lit/task';
import type { Thread } from '../../gen/link/v1/run_pb.js';
import type { PushSandboxResponse } from '../../gen/link/v1/sandbox_service_pb.js';
import { apiContext, type ApiClients } from './api.js';
import { explain } from './errors.js';
import './link-changes.js';

type Pending = 'commit' | 'push' | 'discard' | 'delete';

/**
 * A thread's whole change in its git sandbox (committed or not, since the sandbox's first run),
 * asked of the machine with `SandboxService.GetSandboxChanges`, and what to do with it: commit
 * (the message starts as the thread's first message), push the branch (then a link opens a pull
 * request on the remote's host), discard uncommitted changes, delete the worktree. Discard and
 * delete ask first. Every action is disabled while a run is in progress (the machine refuses
 * them then too).
 *
 * @fires link-sandbox-deleted - the worktree was deleted (detail: the sandbox id)
 */
@customElement('link-thread-changes')
export class LinkThreadChanges extends LitElement {
  @consume({ context: apiContext })
  clients!: ApiClients;

  @property({ attribute: false }) thread: Thread | undefined;
  /** The thread's first message: the commit message to start with. */
  @property() firstMessage = '';
  /** A run is in progress in the thread. */
  @property({ type: Boolean }) busy = false;
  /** Changes whenever a run of the thread starts or ends, to ask the machine again. */
  @property() revision = '';

  @state() private message: string | undefined;
  @state() private pending: Pending | undefined;
  @state() private confirming: 'discard' | 'delete' | undefined;
  @state() private error: string | undefined;
  @state() private done: string | undefined;
  @state() private pushed: PushSandboxResponse | undefined;

  private readonly changes = new Task(this, {
    task: async ([sandboxId], { signal }) => (sandboxId ? (await this.clients.sandboxes.getSandboxChanges({ sandboxId }, { signal })).changes : undefined),
    args: () => [this.thread?.sandboxId, this.revision, this.busy] as const,
  });

  static styles = css`
    :host { display: block; min-width: 0; }
    .actions { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 6px 0 4px; }
    textarea { box-sizing: border-box; width: 100%; min-height: 54px; font: inherit; font-size: 13px; padding: 6px 8px; border: 1px solid var(--link-border, #d0d5dd); border-radius: 8px; resize: vertical; }
    label { font-size: 12px; color: var(--link-muted, #475467); display: block; margin: 6px 0 2px; }
    button { font: inherit; font-size: 13px; border-radius: 6px; padding: 4px 12px; cursor: pointer; border: 1px solid var(--link-border, #d0d5dd); background: var(--link-surface, #fff); }
    button.primary { background: var(--link-primary, #1b1f24); color: var(--link-on-primary, #fff); border-color: var(--link-primary, #1b1f24); }
    button.danger { border-color: #fda29b; color: #b42318; }
    button:disabled { opacity: 0.55; cursor: default; }
    button:focus-visible, textarea:focus-visible, a:focus-visible { outline: 2px solid #2e90fa; outline-offset: 2px; }
    .confirm { background: #fef3f2; border: 1px solid #fecdca; border-radius: 8px; padding: 8px 10px; font-size: 13px; color: #912018; display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
    .error { background: #fef3f2; border: 1px solid #fecdca; color: #912018; border-radius: 8px; padding: 6px 10px; font-size: 13px; margin: 6px 0; }
    .done { font-size: 13px; color: #027a48; margin: 4px 0; overflow-wrap: anywhere; }
    .hint { font-size: 12px; color: var(--link-muted, #667085); }
    .loading { font-size: 13px; color: var(--link-muted, #667085); }
    a { color: #175cd3; overflow-wrap: anywhere; }
  `;

  willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('thread')) {
      this.pushed = undefined;
      this.done = undefined;
    }
  }

  private async act(kind: Pending, call: () => Promise<string>): Promise<void> {
    this.pending = kind;
    this.error = undefined;
    this.done = undefined;
    this.confirming = undefined;
    try {
      this.done = await call();
      if (kind !== 'delete') void this.changes.run();
    } catch (error) {
      this.error = explain(error);
    } finally {
      this.pending = undefined;
    }
  }

  private commit(): Promise<void> {
    const sandboxId = this.thread!.sandboxId;
    const message = this.message ?? this.firstMessage;
    return this.act('commit', async () => {
      const { commit, summary } = await this.clients.sandboxes.commitSandbox({ sandboxId, message });
      this.message = undefined;
      return `Committed ${commit.slice(0, 12)}: ${summary}`;
    });
  }

  private push(): Promise<void> {
    const sandboxId = this.thread!.sandboxId;
    return this.act('push', async () => {
      this.pushed = await this.clients.sandboxes.pushSandbox({ sandboxId });
      return `Pushed ${this.pushed.branch} to ${this.pushed.remoteUrl}.`;
    });
  }

  private discard(): Promise<void> {
    const sandboxId = this.thread!.sandboxId;
    return this.act('discard', async () => {
      await this.clients.sandboxes.discardSandboxChanges({ sandboxId });
      return 'Uncommitted changes discarded.';
    });
  }

  private delete(): Promise<void> {
    const sandboxId = this.thread!.sandboxId;
    return this.act('delete', async () => {
      await this.clients.sandboxes.deleteSandbox({ sandboxId });
      this.dispatchEvent(new CustomEvent('link-sandbox-deleted', { detail: sandboxId, bubbles: true, composed: true }));
      return 'The worktree was deleted. The next message makes it again from the branch.';
    });
  }

  render() {
    if (!this.thread?.sandboxId || !this.thread.repository) return nothing;
    const blocked = this.busy || this.pending !== undefined;
    const message = this.message ?? this.firstMessage;
    return html`
      <section aria-label="The thread's changes" data-testid="thread-changes">
        ${this.changes.render({
          pending: () => html`<div class="loading" role="status">Asking the machine what changed…</div>`,
          complete: (changes) => html`<link-changes heading="What this thread changed" .changes=${changes}></link-changes>`,
          error: (error) => html`<div class="error" role="alert">${explain(error)}</div>`,
        })}
        <label for="message">Commit message</label>
        <textarea id="message" .value=${message} @input=${(e: Event) => (this.message = (e.target as HTMLTextAreaElement).value)}></textarea>
        <div class="actions">
          <button class="primary" data-action="commit" ?disabled=${blocked || !message.trim()} @click=${() => void this.commit()}>${this.pending === 'commit' ? 'Committing…' : 'Commit'}</button>
          <button data-action="push" ?disabled=${blocked} @click=${() => void this.push()}>${this.pending === 'push' ? 'Pushing…' : `Push ${this.thread.branch}`}</button>
          <button class="danger" data-action="discard" ?disabled=${blocked} @click=${() => (this.confirming = 'discard')}>Discard…</button>
          <button class="danger" data-action="delete" ?disabled=${blocked} @click=${() => (this.confirming = 'delete')}>Delete worktree…</button>
          ${this.busy ? html`<span class="hint">A run is in progress; these wait until it ends.</span>` : nothing}
        </div>
        ${this.confirming
          ? html`<div class="confirm" role="alertdialog" aria-label="Confirm" data-testid="confirm">
              ${this.confirming === 'discard'
                ? 'Throw away every uncommitted change and untracked file in this worktree? This cannot be undone.'
                : 'Delete this worktree from the machine? Uncommitted work in it is lost; commits stay on the branch.'}
              <button class="danger" data-action="confirm" @click=${() => void (this.confirming === 'discard' ? this.discard() : this.delete())}>
                ${this.confirming === 'discard' ? 'Discard changes' : 'Delete worktree'}
              </button>
              <button data-action="cancel" @click=${() => (this.confirming = undefined)}>Keep</button>
            </div>`
          : nothing}
        ${this.error ? html`<div class="error" role="alert" data-testid="action-error">${this.error}</div>` : nothing}
        ${this.done ? html`<div class="done" role="status" data-testid="action-done">${this.done}</div>` : nothing}
        ${this.pushed?.pullRequestUrl && /^https:\/\//.test(this.pushed.pullRequestUrl)
          ? html`<div class="done"><a href=${this.pushed.pullRequestUrl} target="_blank" rel="noopener noreferrer" data-testid="pull-request">Open a pull request for ${this.pushed.branch}</a></div>`
          : nothing}
      </section>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-thread-changes': LinkThreadChanges;
  }
}
