import { LitElement, css, html, nothing, type TemplateResult } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { consume } from '@lit/context';
import { ConnectError } from '@connectrpc/connect';
import { timestampDate, timestampMs } from '@bufbuild/protobuf/wkt';
import { InteractionState, RunState, RunStatus, type InteractionResolved, type Run, type RunEvent, type ToolCall, type ToolResult } from '../../gen/link/v1/run_pb.js';
import { apiContext, type ApiClients } from './api.js';
import { InteractionsController, interactionsContext, type InteractionStore } from './interactions.js';
import { harnessLabel } from './harnesses.js';
import { renderMarkdown, prettyJson } from './markdown.js';
import { explainDone, explainError, explainFailure, isEmptyError } from './failures.js';
import { formatElapsed, runPhase } from './run-progress.js';
import { RunFailure } from '../../common/reasons.js';
import { Backoff, sleep } from '../../common/backoff.js';
import { directoryContext, type LinkDirectory } from './link-directory.js';
import { INTERRUPTED_LABEL, interruptible, steeredMessage } from './run-turn.js';
import './link-changes.js';
import './link-interaction-card.js';
import { continuationLabel } from './link-usage-limits.js';

interface ToolView {
  call: ToolCall;
  result?: ToolResult;
}

/**
 * One run as it happens, from `ThreadService.WatchRun`: what is stored, then live. Events are kept
 * by seq, so reconnecting (or reloading the page) resumes from the last one seen without losing or
 * repeating any. Text is Markdown (rendered without ever parsing HTML), reasoning is collapsed, tool
 * calls are collapsible cards with their input and result. A running run has Stop (ends the run,
 * killing what is left) and, where its harness can, Interrupt (ends the turn, keeping the
 * conversation for the next message); messages steered into the turn show as the user's.
 *
 * @fires link-run-finished - the run reached its terminal event (detail: the run id)
 */
@customElement('link-run-view')
export class LinkRunView extends LitElement {
  @consume({ context: apiContext })
  clients!: ApiClients;

  @consume({ context: interactionsContext })
  interactions: InteractionStore | undefined;

  @consume({ context: directoryContext, subscribe: true })
  directory: LinkDirectory | undefined;

  @property({ attribute: false }) run!: Run;
  /** Events given up front (component tests); otherwise they are streamed. */
  @property({ attribute: false }) events: RunEvent[] | undefined;

  @state() private received: RunEvent[] = [];
  @state() private streamError: string | undefined;
  @state() private stopping = false;
  @state() private interrupting = false;
  /** The clock the elapsed time is shown by: ticks each second while the run is unfinished. */
  @state() private now = Date.now();
  private readonly mountedAt = Date.now();
  private ticker: ReturnType<typeof setInterval> | undefined;
  private abort: AbortController | undefined;
  private lastSeq = 0n;
  private readonly watchInteractions = new InteractionsController(this);

  static styles = css`
    :host { display: block; }
    .run { border-left: 3px solid var(--link-border, #d0d5dd); padding: 4px 0 4px 14px; margin: 8px 0 18px; }
    .run[data-status='running'] { border-color: #2e90fa; }
    .run[data-status='completed'] { border-color: #12b76a; }
    .run[data-status='failed'] { border-color: #f04438; }
    .run[data-status='cancelled'], .run[data-status='interrupted'] { border-color: #98a2b3; }
    .run[data-status='waiting'] { border-color: #fdb022; }
    .waiting { font-size: 11px; color: #93370d; background: #fef0c7; border-radius: 999px; padding: 0 7px; }
    .head { display: flex; gap: 8px; align-items: center; font-size: 12px; color: var(--link-muted, #667085); margin-bottom: 6px; }
    .head .spacer { flex: 1; }
    .text { font-size: 15px; overflow-wrap: anywhere; }
    .text p { margin: 6px 0; white-space: pre-wrap; }
    .text pre, .tool pre, .log { background: #0f1720; color: #e6edf3; border-radius: 8px; padding: 10px 12px; overflow-x: auto; font-size: 12.5px; margin: 6px 0; }
    .text code { background: var(--link-hover, #f2f4f7); padding: 1px 5px; border-radius: 4px; font-size: 13px; }
    .text pre code { background: none; padding: 0; }
    details { border: 1px solid var(--link-border, #e3e6ea); border-radius: 8px; margin: 6px 0; background: var(--link-surface, #fff); }
    summary { cursor: pointer; padding: 6px 10px; font-size: 13px; color: var(--link-muted, #344054); }
    summary:focus-visible, button:focus-visible { outline: 2px solid #2e90fa; outline-offset: 2px; }
    details > div { padding: 0 10px 8px; }
    .tool.error summary { color: #b42318; }
    .reasoning { color: var(--link-muted, #667085); font-style: italic; white-space: pre-wrap; }
    .file { font-size: 13px; color: var(--link-muted, #344054); margin: 3px 0; overflow-wrap: anywhere; }
    .file .kind { font-family: ui-monospace, monospace; font-size: 11px; border-radius: 4px; padding: 0 5px; background: #ecfdf3; color: #027a48; margin-right: 6px; }
    .error { background: #fef3f2; border: 1px solid #fecdca; color: #912018; border-radius: 8px; padding: 8px 12px; margin: 6px 0; font-size: 13px; }
    .usage { font-size: 12px; color: var(--link-muted, #667085); margin: 4px 0; }
    .done { font-size: 13px; margin-top: 6px; }
    .done.completed { color: #027a48; }
    .done.failed { color: #b42318; }
    .done.cancelled, .done.interrupted { color: var(--link-muted, #475467); }
    .steered { border: 1px solid var(--link-border, #d0d5dd); background: var(--link-hover, #f2f4f7); border-radius: 8px; padding: 6px 10px; margin: 6px 0 6px 24px; }
    .steered-who { font-size: 11px; color: var(--link-muted, #667085); }
    .steered-text { font-size: 14px; white-space: pre-wrap; overflow-wrap: anywhere; }
    .log { white-space: pre-wrap; }
    .log .stderr { color: #fda29b; }
    button { font: inherit; font-size: 12px; border-radius: 6px; padding: 3px 10px; cursor: pointer; border: 1px solid var(--link-border, #d0d5dd); background: var(--link-surface, #fff); }
    button.stop { border-color: #fda29b; color: #b42318; }
    .head button + button { margin-left: 6px; }
    .banner { font-size: 12px; color: #7a4b00; }
    .progress { display: flex; gap: 6px; align-items: center; font-size: 13px; color: var(--link-muted, #475467); margin: 6px 0; }
    .spinner { width: 10px; height: 10px; border: 2px solid var(--link-border, #d0d5dd); border-top-color: #2e90fa; border-radius: 50%; animation: spin 0.9s linear infinite; }
    @keyframes spin { to { transform: rotate(360deg); } }
    @media (prefers-reduced-motion: reduce) {
      .spinner { animation: none; border-color: #2e90fa; }
    }
  `;

  willUpdate(): void {
    this.watchInteractions.set(this.interactions);
  }

  /** An interaction of the run waits for the user: asked, not resolved in its events nor in the store. */
  private get waiting(): boolean {
    if (this.finished) return false;
    const resolved = new Set(this.all.flatMap((e) => (e.event.case === 'interactionResolved' ? [e.event.value.interactionId] : [])));
    return this.all.some((e) => {
      if (e.event.case !== 'interaction' || e.event.value.allowedBy || resolved.has(e.event.value.id)) return false;
      const record = this.interactions?.get(this.run.id, e.event.value.id);
      return !record || record.state === InteractionState.PENDING;
    });
  }

  connectedCallback(): void {
    super.connectedCallback();
    if (this.events) return;
    this.abort = new AbortController();
    void this.follow(this.abort.signal);
  }

  disconnectedCallback(): void {
    super.disconnectedCallback();
    this.abort?.abort();
    clearInterval(this.ticker);
    this.ticker = undefined;
  }

  updated(): void {
    if (this.finished) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    } else if (!this.ticker && this.isConnected) {
      this.ticker = setInterval(() => (this.now = Date.now()), 1000);
    }
  }

  private get all(): RunEvent[] {
    return this.events ?? this.received;
  }

  private get finished(): RunEvent | undefined {
    return this.all.find((e) => e.event.case === 'done');
  }

  private async follow(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(300, 10_000);
    while (!signal.aborted && !this.finished) {
      try {
        // Batched: a busy run's events come a batch per response, and the view renders once per batch.
        for await (const { events } of this.clients.threads.watchRun({ runId: this.run.id, afterSeq: this.lastSeq, batched: true }, { signal })) {
          const fresh = events.filter((event) => event.seq > this.lastSeq);
          if (fresh.length === 0) continue;
          this.lastSeq = fresh[fresh.length - 1].seq;
          this.received = [...this.received, ...fresh];
          this.streamError = undefined;
          backoff.reset();
          if (fresh.some((event) => event.event.case === 'done')) {
            this.dispatchEvent(new CustomEvent('link-run-finished', { detail: this.run.id, bubbles: true, composed: true }));
          }
        }
      } catch (error) {
        if (signal.aborted) return;
        this.streamError = ConnectError.from(error).rawMessage;
      }
      if (this.finished) return;
      await sleep(backoff.next(), signal).catch(() => undefined);
    }
  }

  /** Asks the server to cancel the run (the Stop button, and the page's `s` shortcut). */
  async stop(): Promise<void> {
    if (this.finished || this.stopping) return;
    this.stopping = true;
    try {
      await this.clients.threads.cancelRun({ runId: this.run.id });
    } catch (error) {
      this.streamError = ConnectError.from(error).rawMessage;
      this.stopping = false;
    }
  }

  /** Asks the server to end the run's turn through the CLI's own interrupt (the Interrupt button). */
  async interrupt(): Promise<void> {
    if (this.finished || this.interrupting || this.stopping) return;
    this.interrupting = true;
    try {
      await this.clients.threads.interruptRun({ runId: this.run.id });
    } catch (error) {
      this.streamError = ConnectError.from(error).rawMessage;
      this.interrupting = false;
    }
  }

  render() {
    const events = this.all;
    const done = this.finished;
    const waiting = this.waiting;
    const status = done?.event.case === 'done' ? RunStatus[done.event.value.status].toLowerCase() : waiting ? 'waiting' : this.run.state === RunState.QUEUED ? 'queued' : 'running';
    const started = events.find((e) => e.event.case === 'started');
    const model = started?.event.case === 'started' ? started.event.value.model : this.run.model;
    return html`
      <section class="run" data-status=${status} data-run-id=${this.run.id} aria-label="Run" aria-busy=${done ? 'false' : 'true'}>
        <div class="head">
          <span>${harnessLabel(this.run.harness)}${model ? ` · ${model}` : ''}</span>${continuationLabel(this.run)}
          ${waiting ? html`<span class="waiting" data-testid="run-waiting">waiting for you</span>` : nothing}
          <span class="spacer"></span>
          ${this.streamError ? html`<span class="banner" role="status">reconnecting… (${this.streamError})</span>` : nothing}
          ${done || this.run.state === RunState.QUEUED || !interruptible(this.directory?.get(this.run.linkId), this.run.harness)
            ? nothing
            : html`<button class="interrupt" title="End this turn; the conversation is kept, and your next message continues it" ?disabled=${this.interrupting || this.stopping}
                @click=${() => this.interrupt()}>${this.interrupting ? 'Interrupting…' : 'Interrupt'}</button>`}
          ${done
            ? nothing
            : html`<button class="stop" title="Stop the run and kill whatever it left running" ?disabled=${this.stopping} @click=${() => this.stop()}>${this.stopping ? 'Stopping…' : 'Stop'}</button>`}
        </div>
        ${this.body(events)}
        ${done ? nothing : this.progress(events)}
      </section>
    `;
  }

  /**
   * What the unfinished run is doing now, with a spinner (still under prefers-reduced-motion) and
   * the time since it was queued: waiting for the machine, starting the CLI, waiting for the model,
   * running a tool, or waiting for the user's answer.
   */
  private progress(events: RunEvent[]) {
    const since = this.run.createdAt ? timestampMs(this.run.createdAt) : this.mountedAt;
    const seconds = Math.max(0, Math.floor((this.now - since) / 1000));
    return html`<div class="progress" role="status" data-testid="run-progress">
      <span class="spinner" aria-hidden="true"></span>
      <span data-testid="run-phase">${runPhase(this.run, events)}</span>
      <span class="elapsed" data-testid="run-elapsed">· ${formatElapsed(seconds)}</span>
    </div>`;
  }

  /** Events in order; consecutive log lines are one block, a tool's result goes into its call's card. */
  private body(events: RunEvent[]): TemplateResult[] {
    const out: TemplateResult[] = [];
    const tools = new Map<string, ToolView>();
    const end = events.find((e) => e.event.case === 'done');
    const stopped = end?.event.case === 'done' && (end.event.value.status === RunStatus.CANCELLED || end.event.value.status === RunStatus.INTERRUPTED);
    for (const e of events) if (e.event.case === 'toolResult') tools.set(e.event.value.id, { ...(tools.get(e.event.value.id) ?? ({} as ToolView)), result: e.event.value });
    const resolved = new Map<string, InteractionResolved>();
    for (const e of events) if (e.event.case === 'interactionResolved') resolved.set(e.event.value.interactionId, e.event.value);
    const ended = Boolean(this.finished);
    let text = '';
    let logs: { text: string; stderr: boolean }[] = [];
    const flush = () => {
      if (text) out.push(html`<div class="text" data-kind="text">${renderMarkdown(text)}</div>`);
      if (logs.length) {
        out.push(html`<pre class="log" data-kind="log">${logs.map((l) => html`<span class=${l.stderr ? 'stderr' : ''}>${l.text}\n</span>`)}</pre>`);
      }
      text = '';
      logs = [];
    };
    for (const e of events) {
      const ev = e.event;
      if (ev.case === 'text') {
        if (logs.length) flush();
        text += ev.value.text;
        continue;
      }
      if (ev.case === 'log') {
        if (text) flush();
        logs.push({ text: ev.value.text, stderr: ev.value.stream === 2 });
        continue;
      }
      flush();
      switch (ev.case) {
        case 'reasoning':
          out.push(html`<details data-kind="reasoning"><summary>Thinking</summary><div class="reasoning">${ev.value.text}</div></details>`);
          break;
        case 'toolCall': {
          const result = tools.get(ev.value.id)?.result;
          out.push(html`<details class="tool ${result?.isError ? 'error' : ''}" data-kind="tool">
            <summary>${ev.value.name}${result ? (result.isError ? ' · failed' : ' · done') : ' · running…'}</summary>
            <div>
              <div class="usage">Input</div>
              <pre>${prettyJson(ev.value.inputJson)}</pre>
              ${result ? html`<div class="usage">Result</div><pre>${result.output || '(no output)'}</pre>` : nothing}
            </div>
          </details>`);
          break;
        }
        case 'fileChange':
          out.push(html`<div class="file" data-kind="file"><span class="kind">${ev.value.kind}</span>${ev.value.path}</div>`);
          break;
        case 'interaction':
          out.push(html`<link-interaction-card .interaction=${ev.value} .runId=${this.run.id} .resolved=${resolved.get(ev.value.id)}
            .askedAt=${e.at ? timestampDate(e.at) : undefined} ?runEnded=${ended}></link-interaction-card>`);
          break;
        case 'steered':
          out.push(steeredMessage(ev.value));
          break;
        case 'changes':
          out.push(html`<link-changes data-kind="changes" heading="What this run changed" .changes=${ev.value}></link-changes>`);
          break;
        case 'usage': {
          const v = ev.value;
          const cost = v.costKnown ? ` · $${v.costUsd.toFixed(4)}` : '';
          out.push(html`<div class="usage" data-kind="usage">${v.inputTokens} tokens in · ${v.outputTokens} out${cost}</div>`);
          break;
        }
        case 'error':
          if (stopped && isEmptyError(ev.value.code, ev.value.message)) break;
          out.push(html`<div class="error" data-kind="error" role="alert">${explainError(ev.value.code, ev.value.message)}</div>`);
          break;
        case 'done': {
          const v = ev.value;
          if (v.failureReason === RunFailure.UsageLimit && v.status !== RunStatus.CANCELLED) { out.push(html`<link-limit-card .run=${this.run} .done=${v}></link-limit-card>`); break; }
          const byUser = !v.failureReason || v.failureReason === RunFailure.Cancelled;
          const label =
            v.status === RunStatus.COMPLETED ? 'Done' : v.status === RunStatus.INTERRUPTED ? INTERRUPTED_LABEL : v.status === RunStatus.CANCELLED ? (byUser ? 'Stopped by you' : 'Stopped') : 'Failed';
          const why = v.status === RunStatus.FAILED ? explainDone(v.failureReason, events) : v.status === RunStatus.CANCELLED && !byUser ? explainFailure(v.failureReason) : '';
          out.push(html`<div class="done ${RunStatus[v.status].toLowerCase()}" data-kind="done">
            ${label}${v.status === RunStatus.FAILED && v.exitCode > 0 ? ` (exit ${v.exitCode})` : ''}${why ? html` — ${why}` : nothing}
          </div>`);
          break;
        }
        default:
          break;
      }
    }
    flush();
    return out;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-run-view': LinkRunView;
  }
}
