import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { CredentialsState, LinkState, SandboxProviderKind, type HarnessCapability, type Link } from '../../gen/link/v1/types_pb.js';

const HARNESS_LABELS: Record<string, string> = {
  'claude-code': 'Claude Code',
  codex: 'Codex',
  gemini: 'Gemini CLI',
  shell: 'Shell',
};

/**
 * One machine: online or offline, hostname, since when, and what it can run.
 *
 * @csspart card - the card's box; carries data-state="online" or "offline"
 */
@customElement('link-machine-card')
export class LinkMachineCard extends LitElement {
  @property({ attribute: false }) link!: Link;

  static styles = css`
    :host { display: block; }
    .card { background: #fff; border: 1px solid #e3e6ea; border-radius: 10px; padding: 14px 16px; }
    .top { display: flex; align-items: center; gap: 10px; }
    .dot { width: 10px; height: 10px; border-radius: 50%; background: #98a2b3; flex: none; }
    .online .dot { background: #12b76a; box-shadow: 0 0 0 3px #d1fadf; }
    .name { font-weight: 600; }
    .meta { color: #667085; font-size: 13px; }
    .status { margin-left: auto; font-size: 13px; color: #475467; }
    .online .status { color: #027a48; }
    ul { list-style: none; display: flex; flex-wrap: wrap; gap: 6px; padding: 0; margin: 12px 0 0; }
    li { font-size: 12px; border: 1px solid #e3e6ea; border-radius: 999px; padding: 2px 9px; color: #344054; }
    li.missing { color: #98a2b3; border-style: dashed; }
    li.warn { border-color: #f5d08a; background: #fffaeb; }
  `;

  render() {
    const link = this.link;
    const online = link.state === LinkState.ONLINE;
    const since = online && link.connectedAt ? timestampDate(link.connectedAt) : undefined;
    const seen = !online && link.lastSeenAt ? timestampDate(link.lastSeenAt) : undefined;
    const harnesses = link.capabilities?.harnesses ?? [];
    const providers = (link.capabilities?.sandboxProviders ?? []).filter((p) => p.available);
    return html`
      <div class="card ${online ? 'online' : 'offline'}" part="card" data-state=${online ? 'online' : 'offline'} data-link-id=${link.id}>
        <div class="top">
          <span class="dot" aria-hidden="true"></span>
          <span class="name">${link.name || link.hostname}</span>
          ${link.hostname && link.hostname !== link.name ? html`<span class="meta">${link.hostname}</span>` : nothing}
          <span class="meta">${[link.os, link.arch].filter(Boolean).join(' · ')}</span>
          <span class="status" data-testid="link-status">
            ${online ? `Online since ${since?.toLocaleTimeString() ?? ''}` : seen ? `Offline · last seen ${relative(seen)}` : 'Offline · never connected'}
          </span>
        </div>
        ${harnesses.length > 0 ? html`<ul aria-label="What it can run">${harnesses.map((h) => this.harness(h))}</ul>` : nothing}
        ${providers.length > 0
          ? html`<ul aria-label="Sandboxes">${providers.map((p) => html`<li>${SandboxProviderKind[p.kind].toLowerCase()}</li>`)}</ul>`
          : nothing}
      </div>
    `;
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
