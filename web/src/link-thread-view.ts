import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { consume } from '@lit/context';
import { Task } from '@lit/task';
import { keyed } from 'lit/directives/keyed.js';
import { repeat } from 'lit/directives/repeat.js';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { MessageState, RunState, type Run, type Thread, type ThreadMessage } from '../../gen/link/v1/run_pb.js';
import { LinkState } from '../../gen/link/v1/types_pb.js';
import { presenceOf, presencePhrase, queuedLabel } from './presence.js';
import { apiContext, type ApiClients } from './api.js';
import { DirectoryController, directoryContext, type LinkDirectory } from './link-directory.js';
import { threadDirectoryContext, type ThreadDirectory } from './thread-directory.js';
import { inPlaceBadge, type LinkComposer, type SendDetail } from './link-composer.js';
import { explain } from './errors.js';
import { tierLabel } from './harnesses.js';
import './link-composer.js';
import type { LinkRunView } from './link-run-view.js';
import './link-run-view.js';
import './link-thread-changes.js';
import { continuationsOf } from './link-usage-limits.js';
import type { QueuedEditDetail } from './link-queued-message.js';
import './link-queued-message.js';
import { machineName } from './harnesses.js';

const UNFINISHED = new Set([RunState.QUEUED, RunState.DISPATCHED, RunState.RUNNING, RunState.WAITING]);

/**
 * One thread: its messages, each followed by its run as it happens, and the composer. With no
 * thread id it is a new thread: the first message creates it (and pins it). A banner says when the
 * thread's machine is offline (messages then wait for it; a run queued for it says "waiting for
 * <machine>"). Messages that have not started (sent during a run, or waiting behind one) show
 * after the runs as queued (`<link-queued-message>`, with Edit and Withdraw) and move into the
 * thread as their run's message when they start; an expired one says so; withdrawn ones are not shown.
 * Messages, runs and the thread's panels are keyed by id: a run's view (which holds the events it
 * followed) is never reused for another run, when the thread changes or switches.
 *
 * @fires link-thread-changed - the thread was created or a run started or ended (detail: thread id)
 */
@customElement('link-thread-view')
export class LinkThreadView extends LitElement {
  @consume({ context: apiContext })
  clients!: ApiClients;

  @consume({ context: directoryContext })
  directory!: LinkDirectory;

  /** The live thread list: a change to this thread made elsewhere (another tab, linkctl) loads it again. */
  @consume({ context: threadDirectoryContext })
  threadDirectory: ThreadDirectory | undefined;

  @property() threadId = '';

  @state() private thread: Thread | undefined;
  @state() private messages: ThreadMessage[] = [];
  @state() private runs: Run[] = [];
  @state() private error: string | undefined;
  @state() private sending = false;
  /** The queued message an edit or withdrawal is on its way for. */
  @state() private changing = '';
  @query('link-composer') private composer!: LinkComposer;
  private readonly links = new DirectoryController(this);
  private readonly liveThreads = new DirectoryController(this);
  /** The live list's version of the thread that was last loaded for (so one change loads once). */
  private loadedFor = '';
  /** The open thread, once the live list had it (so its leaving the list means it was deleted). */
  private seenLive = '';

  static styles = css`
    :host { display: flex; flex-direction: column; min-height: 0; height: 100%; }
    .scroll { flex: 1; overflow-y: auto; padding: 20px 24px; }
    .inner { max-width: 860px; margin: 0 auto; }
    .composer { padding: 12px 24px 18px; border-top: 1px solid var(--link-border, #eaecf0); background: var(--link-sunken, #f6f7f9); }
    .composer > * { max-width: 860px; margin: 0 auto; }
    .message { background: var(--link-surface, #fff); border: 1px solid var(--link-border, #e3e6ea); border-radius: 12px; padding: 10px 14px; margin: 12px 0 6px; }
    .message .body { white-space: pre-wrap; overflow-wrap: anywhere; }
    .top { padding: 12px 24px 0; }
    .top > * { max-width: 860px; margin: 0 auto; }
    .meta { font-size: 12px; color: var(--link-muted, #667085); margin-top: 4px; }
    .banner { background: #fff6e5; border: 1px solid #f5d08a; color: #7a4b00; padding: 10px 14px; border-radius: 10px; margin-bottom: 12px; font-size: 14px; }
    .error { background: #fef3f2; border: 1px solid #fecdca; color: #912018; border-radius: 10px; padding: 10px 14px; margin: 8px 0; font-size: 14px; }
    .intro { color: var(--link-muted, #475467); text-align: center; margin-top: 12vh; }
    .intro h2 { color: var(--link-text, #1b1f24); font-size: 20px; margin-bottom: 6px; }
    h2.title { font-size: 16px; margin: 0 0 4px; overflow-wrap: anywhere; }
    .waiting { font-size: 12px; color: #7a4b00; margin: 2px 0 8px; }
    .in-place { font-size: 12px; font-weight: 500; color: #7a2e0e; background: #fef0c7; border: 1px solid #fdb022; border-radius: 999px; padding: 2px 8px; vertical-align: middle; }
  `;

  private resize: ResizeObserver | undefined;
  private pinnedToBottom = true;

  /** Follows the conversation as it grows, unless the reader scrolled up. */
  firstUpdated(): void {
    const scroll = this.renderRoot.querySelector<HTMLElement>('.scroll')!;
    const inner = this.renderRoot.querySelector<HTMLElement>('.inner')!;
    scroll.addEventListener('scroll', () => (this.pinnedToBottom = scroll.scrollHeight - scroll.scrollTop - scroll.clientHeight < 80), { passive: true });
    this.resize = new ResizeObserver(() => {
      if (this.pinnedToBottom) scroll.scrollTop = scroll.scrollHeight;
    });
    this.resize.observe(inner);
  }

  disconnectedCallback(): void {
    super.disconnectedCallback();
    this.resize?.disconnect();
  }

  willUpdate(changed: Map<string, unknown>): void {
    this.links.set(this.directory);
    this.liveThreads.set(this.threadDirectory);
    if (changed.has('threadId')) this.error = undefined;
  }

  /** The thread changed elsewhere (a message, a run's state, a new title): load it again, once per change. */
  updated(): void {
    const live = this.threadId ? this.threadDirectory?.get(this.threadId) : undefined;
    if (!live && this.thread?.id === this.threadId && this.seenLive === this.threadId) {
      // Deleted elsewhere (another tab, linkctl): back to a new thread.
      this.seenLive = '';
      window.location.hash = '#/';
      return;
    }
    if (!live || !this.thread || this.thread.id !== live.id) return;
    this.seenLive = live.id;
    const version = `${live.title}|${live.updatedAt?.seconds}.${live.updatedAt?.nanos}|${live.lastRunState}|${live.queuedMessages}`;
    const shown = `${this.thread.title}|${this.thread.updatedAt?.seconds}.${this.thread.updatedAt?.nanos}|${this.thread.lastRunState}|${this.thread.queuedMessages}`;
    if (version === shown || version === this.loadedFor) return;
    this.loadedFor = version;
    void this.load();
  }

  /**
   * The thread, loaded whenever `threadId` changes (and again after a send or a finished run). A new
   * load aborts the one in flight, and only the latest one's answer is shown: switching threads
   * quickly never shows the thread switched away from.
   */
  private readonly loader = new Task(this, {
    args: () => [this.threadId] as const,
    task: ([threadId], { signal }) => (threadId ? this.clients.threads.getThread({ threadId }, { signal }) : Promise.resolve(undefined)),
    onComplete: (loaded) => {
      this.error = undefined;
      this.thread = loaded?.thread;
      this.messages = loaded?.messages ?? [];
      this.runs = loaded?.runs ?? [];
    },
    onError: (error) => (this.error = explain(error)),
  });

  /** Puts the focus in the message box (the page's `c` and `i` shortcuts). */
  focusComposer(): void {
    this.composer?.focus();
  }

  /** Stops the thread's unfinished run, if it has one (the page's `s` shortcut). */
  stopRun(): void {
    const running = this.runs.find((r) => UNFINISHED.has(r.state));
    const view = running && this.renderRoot.querySelector<LinkRunView>(`link-run-view[data-run-id="${running.id}"]`);
    void view?.stop();
  }

  private async load(): Promise<void> {
    await this.loader.run().catch(() => undefined);
  }

  private async send(detail: SendDetail): Promise<void> {
    this.sending = true;
    this.error = undefined;
    try {
      let threadId = this.threadId;
      const first = !this.thread?.harness;
      if (!threadId) threadId = (await this.clients.threads.createThread({})).thread!.id;
      await this.clients.threads.sendMessage({
        threadId,
        text: detail.text,
        model: detail.model,
        tier: detail.tier,
        permissionMode: detail.permission.mode,
        confirmAuto: detail.permission.confirmAuto,
        delivery: detail.delivery,
        expiresInSeconds: detail.expiresInSeconds,
        ...(first ? { harness: detail.harness, linkId: detail.linkId, repository: detail.repository, branch: detail.branch, sandboxProvider: detail.sandboxProvider } : {}),
      });
      this.composer.clear();
      if (threadId !== this.threadId) this.threadId = threadId;
      else await this.load();
      this.changed();
    } catch (error) {
      this.error = explain(error);
    } finally {
      this.sending = false;
    }
  }

  /** Edits or withdraws a queued message, then loads the thread again (it may have started meanwhile: MESSAGE_STARTED says so). */
  private async changeQueued(messageId: string, change: () => Promise<unknown>): Promise<void> {
    this.changing = messageId;
    this.error = undefined;
    try {
      await change();
    } catch (error) {
      this.error = explain(error);
    } finally {
      this.changing = '';
      await this.load();
    }
  }

  private changed(): void {
    this.dispatchEvent(new CustomEvent('link-thread-changed', { detail: this.threadId, bubbles: true, composed: true }));
  }

  render() {
    const link = this.thread?.linkId ? this.directory?.get(this.thread.linkId) : undefined;
    const offline = this.thread?.linkId && this.directory?.loaded && link?.state !== LinkState.ONLINE;
    const running = this.runs.some((r) => UNFINISHED.has(r.state));
    const runsById = new Map(this.runs.map((r) => [r.id, r]));
    const machine = link ? machineName(link) : 'the machine';
    const started = this.messages.filter((m) => m.runId && m.state !== MessageState.EXPIRED);
    const waiting = this.messages.filter((m) => m.state === MessageState.QUEUED || m.state === MessageState.EXPIRED);
    return html`
      ${offline
        ? html`<div class="top"><div class="banner" role="status" data-testid="offline-banner">
            ${link && presenceOf(link) === 'asleep'
              ? html`<strong>${link.name} is ${presencePhrase(link)}.</strong> Messages wait for it and run when it wakes up${queuedLabel(link) ? ` (${queuedLabel(link)})` : ''}.`
              : html`<strong>${link?.name || 'This thread\'s machine'} is offline.</strong> Messages wait for it and run when it is back
            (start linkd on it: <code>linkd start</code>, or check its network).`}
          </div></div>`
        : nothing}
      <div class="scroll">
        <div class="inner">
          ${this.thread ? html`<h2 class="title">${this.thread.title || 'Untitled thread'}${this.thread.sandboxProvider === 'in-place' ? html` ${inPlaceBadge}` : nothing}</h2>` : nothing}
          ${this.thread?.id ? keyed(this.thread.id, html`<link-limit-toggle .thread=${this.thread} @link-thread-updated=${(e: CustomEvent<Thread>) => (this.thread = e.detail)}></link-limit-toggle>`) : nothing}
          ${!this.threadId
            ? html`<div class="intro"><h2>Start a thread</h2><p>Pick an agent and a machine, then say what you want done. It runs on your machine; you watch it here.</p></div>`
            : nothing}
          ${repeat(started, (m) => m.id, (m) => {
            // A message steered into a run shows in that run's stream (its `steered` event), not as a run of its own.
            if (m.state === MessageState.STEERED) return nothing;
            const steering = m.state === MessageState.STEERING;
            const run = steering ? undefined : runsById.get(m.runId);
            return html`
              <div class="message" data-testid="message"><div class="body">${m.text}</div>
                <div class="meta">${m.createdAt ? timestampDate(m.createdAt).toLocaleTimeString() : ''}${this.thread?.harness === 'shell' ? '' : m.model ? ` · ${m.model}` : m.tier ? ` · ${tierLabel(m.tier)}` : ''}${steering ? ' · going into the running turn…' : ''}</div>
              </div>
              ${run && offline && run.state === RunState.QUEUED ? html`<div class="waiting" data-testid="waiting-for-machine">waiting for ${machine}</div>` : nothing}
              ${repeat(run ? [run, ...continuationsOf(run, this.runs)] : [], (r) => r.id, (r) => html`<link-run-view data-run-id=${r.id} .run=${r} @link-run-finished=${() => void this.load().then(() => this.changed())}></link-run-view>`)}
            `;
          })}
          ${repeat(
            waiting,
            (m) => m.id,
            (m) => html`<link-queued-message .message=${m} waitingFor=${offline ? machine : ''} ?pending=${this.changing === m.id}
              @link-queued-edit=${(e: CustomEvent<QueuedEditDetail>) => void this.changeQueued(m.id, () => this.clients.threads.updateQueuedMessage(e.detail))}
              @link-queued-withdraw=${() => void this.changeQueued(m.id, () => this.clients.threads.withdrawMessage({ messageId: m.id }))}></link-queued-message>`,
          )}
          ${this.thread?.repository && this.thread.sandboxId
            ? keyed(this.thread.id, html`<link-thread-changes .thread=${this.thread} .firstMessage=${this.messages[0]?.text ?? ''} ?busy=${running}
                .revision=${this.runs.map((r) => `${r.id}:${r.state}`).join(',')}></link-thread-changes>`)
            : nothing}
          ${this.error ? html`<div class="error" role="alert" data-testid="thread-error">${this.error}</div>` : nothing}
        </div>
      </div>
      <div class="composer">
        <link-composer .thread=${this.thread} .lastMessage=${this.messages.at(-1)} .links=${this.directory?.sorted() ?? []} ?busy=${this.sending} ?running=${running}
          @link-send=${(e: CustomEvent<SendDetail>) => void this.send(e.detail)}></link-composer>
      </div>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-thread-view': LinkThreadView;
  }
}
