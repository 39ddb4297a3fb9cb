import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';

/**
 * "Needs you": how many interactions of a thread wait for the user, on the thread in the sidebar.
 * Renders nothing at zero.
 *
 * @csspart badge - the badge
 */
@customElement('link-needs-you-badge')
export class LinkNeedsYouBadge extends LitElement {
  @property({ type: Number }) count = 0;

  static styles = css`
    :host { display: contents; }
    span { font-size: 11px; font-weight: 600; border-radius: 999px; padding: 0 7px; background: #f79009; color: #fff; white-space: nowrap; }
  `;

  render() {
    if (this.count <= 0) return nothing;
    return html`<span part="badge" data-testid="needs-you" aria-label=${`needs you: ${this.count} waiting for an answer`}>needs you${this.count > 1 ? ` · ${this.count}` : ''}</span>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-needs-you-badge': LinkNeedsYouBadge;
  }
}
