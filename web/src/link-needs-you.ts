import { LitElement, css, html, nothing } from 'lit';
import { customElement } from 'lit/decorators.js';
import { consume } from '@lit/context';
import { InteractionsController, interactionsContext, type InteractionStore } from './interactions.js';

/**
 * The header's count of interactions waiting for the user across all threads and machines, a link
 * to the thread of the oldest one. Renders nothing when none waits.
 */
@customElement('link-needs-you')
export class LinkNeedsYou extends LitElement {
  @consume({ context: interactionsContext })
  store: InteractionStore | undefined;
  private readonly watch = new InteractionsController(this);

  static styles = css`
    :host { display: contents; }
    a { font-size: 13px; font-weight: 600; color: #fff; background: #f79009; border-radius: 999px; padding: 3px 10px; text-decoration: none; white-space: nowrap; }
    a:focus-visible { outline: 2px solid #2e90fa; outline-offset: 2px; }
  `;

  willUpdate(): void {
    this.watch.set(this.store);
  }

  render() {
    const pending = this.store?.pending() ?? [];
    if (pending.length === 0) return nothing;
    const oldest = pending[0];
    const title = pending.length === 1 ? `${oldest.threadTitle || 'A thread'} waits for your answer` : `${pending.length} requests wait for your answer; the oldest in ${oldest.threadTitle || 'a thread'}`;
    return html`<a href="#/threads/${oldest.threadId}" data-testid="needs-you-count" data-count=${pending.length} title=${title}>${pending.length} need${pending.length === 1 ? 's' : ''} you</a>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-needs-you': LinkNeedsYou;
  }
}
