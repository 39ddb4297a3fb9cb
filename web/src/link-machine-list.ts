import { LitElement, css, html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { consume } from '@lit/context';
import type { Link } from '../../gen/link/v1/types_pb.js';
import { LinkState } from '../../gen/link/v1/types_pb.js';
import { apiContext, type ApiClients } from './api.js';
import './link-machine-card.js';

/**
 * The user's machines, live from `LinkService.WatchLinks`: a snapshot, then every change. When the
 * stream breaks it says so and resumes with capped, jittered backoff (a fresh snapshot each time).
 *
 * @csspart banner - the "reconnecting" notice
 * @fires link-connect-machine - the user asked to connect a machine (from the empty state)
 */
@customElement('link-machine-list')
export class LinkMachineList extends LitElement {
  @consume({ context: apiContext })
  clients!: ApiClients;

  @state() private links = new Map<string, Link>();
  @state() private loaded = false;
  @state() private streamError: string | undefined;

  private abort: AbortController | undefined;

  static styles = css`
    :host { display: block; }
    h2 { font-size: 15px; font-weight: 600; color: #344054; margin: 0 0 12px; }
    .grid { display: grid; gap: 12px; }
    .banner { background: #fff6e5; border: 1px solid #f5d08a; color: #7a4b00; padding: 8px 12px; border-radius: 8px; margin-bottom: 12px; font-size: 13px; }
    .empty { background: #fff; border: 1px dashed #c9ced6; border-radius: 10px; padding: 28px; text-align: center; color: #475467; }
    .empty h3 { margin: 0 0 6px; font-size: 16px; color: #1b1f24; }
    code { background: #f2f4f7; padding: 2px 6px; border-radius: 4px; font-size: 13px; }
    .loading { color: #667085; }
    .empty button { font: inherit; font-size: 14px; border-radius: 8px; padding: 8px 14px; cursor: pointer; border: 0; background: #1b1f24; color: #fff; }
  `;

  connectedCallback(): void {
    super.connectedCallback();
    this.abort = new AbortController();
    void this.follow(this.abort.signal);
  }

  disconnectedCallback(): void {
    super.disconnectedCallback();
    this.abort?.abort();
  }

  private async follow(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      try {
        for await (const response of this.clients.links.watchLinks({}, { signal })) {
          const event = response.event;
          if (event.case === 'snapshot') {
            this.links = new Map(event.value.links.map((link) => [link.id, link]));
            this.loaded = true;
            this.streamError = undefined;
            attempt = 0;
          } else if (event.case === 'changed') {
            this.links = new Map(this.links).set(event.value.id, event.value);
          } else if (event.case === 'removedLinkId') {
            const next = new Map(this.links);
            next.delete(event.value);
            this.links = next;
          }
        }
      } catch (error) {
        if (signal.aborted) return;
        this.streamError = (error as Error).message;
      }
      const delay = Math.random() * Math.min(15_000, 500 * 2 ** attempt++);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  render() {
    const links = [...this.links.values()].sort(
      (a, b) => Number(b.state === LinkState.ONLINE) - Number(a.state === LinkState.ONLINE) || a.name.localeCompare(b.name),
    );
    return html`
      ${this.streamError
        ? html`<div class="banner" part="banner" role="status">Lost contact with the control plane (${this.streamError}); reconnecting…</div>`
        : nothing}
      <h2>Machines</h2>
      ${!this.loaded
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
          : html`<div class="grid">${links.map((link) => html`<link-machine-card .link=${link}></link-machine-card>`)}</div>`}
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-machine-list': LinkMachineList;
  }
}
