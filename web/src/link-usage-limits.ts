import { LitElement, css, html, nothing, type TemplateResult } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { consume } from '@lit/context';
import { ConnectError } from '@connectrpc/connect';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { RunState, UsageLimitStatus, type Run, type RunDone, type Thread } from '../../gen/link/v1/run_pb.js';
import type { Link } from '../../gen/link/v1/types_pb.js';
import { apiContext, type ApiClients } from './api.js';
import { harnessLabel, machineName } from './harnesses.js';

/**
 * Usage limits on the page: the picker's warning for a harness near or at its limit on the chosen
 * machine, the card of a run stopped at the limit (parked: "Paused at the usage limit — continues
 * at 14:05", with Cancel; or failed, with the reset), the label of a continuation run, and the
 * thread's "Continue after usage limits" toggle.
 */

/** A time of day ("14:05"), with the date when it is not today. */
export function clockTime(date: Date, now = new Date()): string {
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return date.toDateString() === now.toDateString() ? time : `${date.toLocaleDateString()} ${time}`;
}

/** The picker's warning for `harness` on `link`: near (WARNING) or at (REACHED, until its reset) its limit. */
export function limitWarning(link: Link | undefined, harness: string, now = new Date()): string | undefined {
  const limit = link?.usageLimits.find((l) => l.harness === harness);
  if (!limit) return undefined;
  const resetsAt = limit.resetsAt ? timestampDate(limit.resetsAt) : undefined;
  if (resetsAt && resetsAt.getTime() <= now.getTime()) return undefined;
  const name = harnessLabel(harness);
  const on = link ? ` on ${machineName(link)}` : '';
  if (limit.status === UsageLimitStatus.REACHED) {
    return `${name} is at its usage limit${on}${resetsAt ? ` until ${clockTime(resetsAt, now)}` : ''}: runs stop until it resets (or wait, with "Continue after usage limits").`;
  }
  if (limit.status === UsageLimitStatus.WARNING) {
    const used = limit.usedKnown ? ` (${Math.round(limit.usedPercent)} % used${limit.window ? ` of the ${limit.window} window` : ''})` : '';
    return `${name} is near its usage limit${on}${used}${resetsAt ? `; it resets at ${clockTime(resetsAt, now)}` : ''}.`;
  }
  return undefined;
}

/** The runs that continue `run` after a usage limit, in order (a continuation may park and be continued again). */
export function continuationsOf(run: Run, runs: readonly Run[]): Run[] {
  const chain: Run[] = [];
  for (let next = runs.find((r) => r.continuesRunId === run.id); next; next = runs.find((r) => r.continuesRunId === next!.id)) {
    if (chain.includes(next)) break;
    chain.push(next);
  }
  return chain;
}

/** The label of a continuation run, for its head. */
export function continuationLabel(run: Run): TemplateResult | typeof nothing {
  return run.continuesRunId ? html`<span class="continuation" data-testid="continuation" style="font-size: 11px; color: #175cd3; background: #eff8ff; border-radius: 999px; padding: 0 7px;">continued after the usage limit reset</span>` : nothing;
}

/**
 * The end of a run stopped at its usage limit. Parked (the thread opted in): when it continues, and
 * Cancel (the continuation is given up). Failed: when the limit resets, and how to make runs wait.
 */
@customElement('link-limit-card')
export class LinkLimitCard extends LitElement {
  @consume({ context: apiContext })
  clients: ApiClients | undefined;

  @property({ attribute: false }) run!: Run;
  @property({ attribute: false }) done: RunDone | undefined;
  /** When the thread's continuation starts (the reset plus the server's margin), when known. */
  @property({ attribute: false }) resumesAt: Date | undefined;

  @state() private cancelled = false;
  @state() private error: string | undefined;

  static styles = css`
    :host { display: block; }
    .card { border: 1px solid #fedf89; background: #fffaeb; color: #93370d; border-radius: 8px; padding: 8px 12px; margin: 6px 0; font-size: 13px; display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
    .card.failed { border-color: #fecdca; background: #fef3f2; color: #912018; }
    .card.cancelled { border-color: var(--link-border, #d0d5dd); background: var(--link-sunken, #f9fafb); color: var(--link-muted, #475467); }
    .words { font-size: 12px; opacity: 0.85; flex-basis: 100%; }
    .spacer { flex: 1; }
    button { font: inherit; font-size: 12px; border-radius: 6px; padding: 3px 10px; cursor: pointer; border: 1px solid currentColor; background: transparent; color: inherit; }
    button:focus-visible { outline: 2px solid #2e90fa; outline-offset: 2px; }
  `;

  private get resetsAt(): Date | undefined {
    const at = this.run.limitResetsAt ?? this.done?.limitResetsAt;
    return at ? timestampDate(at) : undefined;
  }

  private async cancel(): Promise<void> {
    try {
      await this.clients?.threads.cancelRun({ runId: this.run.id });
      this.cancelled = true;
      this.dispatchEvent(new CustomEvent('link-run-finished', { detail: this.run.id, bubbles: true, composed: true }));
    } catch (error) {
      this.error = ConnectError.from(error).rawMessage;
    }
  }

  render() {
    const resets = this.resetsAt;
    const words = this.done?.message || this.run.failureMessage;
    const said = words ? html`<div class="words" data-testid="limit-words">${words}</div>` : nothing;
    if (this.cancelled || this.run.state === RunState.CANCELLED) {
      return html`<div class="card cancelled" data-kind="done" data-testid="limit-card">Stopped at the usage limit; it will not continue.</div>`;
    }
    if (this.run.state === RunState.PARKED_LIMIT) {
      const at = this.resumesAt ?? resets;
      return html`<div class="card" data-kind="done" data-testid="limit-card" role="status">
        <span>Paused at the usage limit${at ? html` — continues at <strong>${clockTime(at)}</strong>` : ' — continues when it resets'}</span>
        <span class="spacer"></span>
        <button @click=${() => void this.cancel()}>Cancel</button>
        ${this.error ? html`<div class="words" role="alert">${this.error}</div>` : nothing}
        ${said}
      </div>`;
    }
    return html`<div class="card failed" data-kind="done" data-testid="limit-card">
      <span>Failed — ${harnessLabel(this.run.harness)} reached its usage limit${resets ? html`; it resets at <strong>${clockTime(resets)}</strong>` : ''}.
        Turn on “Continue after usage limits” for this thread to have runs wait for the reset.</span>
      ${said}
    </div>`;
  }
}

/**
 * The thread's "Continue after usage limits" switch (UpdateThread.resume_after_limit).
 *
 * @fires link-thread-updated - detail: the updated Thread
 */
@customElement('link-limit-toggle')
export class LinkLimitToggle extends LitElement {
  @consume({ context: apiContext })
  clients: ApiClients | undefined;

  @property({ attribute: false }) thread!: Thread;

  @state() private saving = false;
  @state() private error: string | undefined;

  static styles = css`
    :host { display: inline-flex; align-items: center; gap: 6px; font-size: 12px; color: var(--link-muted, #475467); }
    input { margin: 0; }
    .error { color: #b42318; }
  `;

  private async set(on: boolean): Promise<void> {
    this.saving = true;
    this.error = undefined;
    try {
      const { thread } = await this.clients!.threads.updateThread({ threadId: this.thread.id, resumeAfterLimit: on });
      if (thread) {
        this.thread = thread;
        this.dispatchEvent(new CustomEvent('link-thread-updated', { detail: thread, bubbles: true, composed: true }));
      }
    } catch (error) {
      this.error = ConnectError.from(error).rawMessage;
    } finally {
      this.saving = false;
    }
  }

  render() {
    return html`<label title="When the agent hits its usage limit, pause the run and continue it after the limit resets">
        <input type="checkbox" data-testid="resume-after-limit" .checked=${this.thread.resumeAfterLimit} ?disabled=${this.saving}
          @change=${(e: Event) => void this.set((e.target as HTMLInputElement).checked)} />
        Continue after usage limits
      </label>
      ${this.error ? html`<span class="error" role="alert">${this.error}</span>` : nothing}`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-limit-card': LinkLimitCard;
    'link-limit-toggle': LinkLimitToggle;
  }
}
