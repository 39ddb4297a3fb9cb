import { LitElement, css, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { provide } from '@lit/context';
import { apiContext, defaultClients, type ApiClients } from './api.js';
import './link-machine-list.js';

/**
 * The page: a header and the user's machines. Provides the API clients to every element below it.
 */
@customElement('link-app')
export class LinkApp extends LitElement {
  @provide({ context: apiContext })
  @property({ attribute: false })
  clients: ApiClients = defaultClients();

  static styles = css`
    :host { display: block; min-height: 100vh; }
    header { display: flex; align-items: center; gap: 12px; padding: 14px 24px; background: #fff; border-bottom: 1px solid #e3e6ea; }
    h1 { font-size: 18px; margin: 0; letter-spacing: 0.2px; }
    .tag { color: #667085; font-size: 13px; }
    main { max-width: 960px; margin: 0 auto; padding: 24px; }
  `;

  render() {
    return html`
      <header>
        <h1>Link</h1>
        <span class="tag">coding agents on your own machines</span>
      </header>
      <main>
        <link-machine-list></link-machine-list>
      </main>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-app': LinkApp;
  }
}
