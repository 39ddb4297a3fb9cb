import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { provide } from '@lit/context';
import { Code, ConnectError } from '@connectrpc/connect';
import type { User } from '../../gen/link/v1/user_service_pb.js';
import { apiContext, defaultClients, logOut, type ApiClients } from './api.js';
import type { LinkConnectDialog } from './link-connect-dialog.js';
import './link-connect-dialog.js';
import './link-login.js';
import './link-machine-list.js';

/**
 * The page: who is logged in, the user's machines, and the way to connect another. Shows the login
 * form instead when the browser has no session. Provides the API clients to every element below it.
 */
@customElement('link-app')
export class LinkApp extends LitElement {
  @provide({ context: apiContext })
  @property({ attribute: false })
  clients: ApiClients = defaultClients();

  @state() private user: User | undefined;
  @state() private needsLogin = false;
  @state() private error: string | undefined;
  @query('link-connect-dialog') private dialog!: LinkConnectDialog;

  static styles = css`
    :host { display: block; min-height: 100vh; }
    header { display: flex; align-items: center; gap: 12px; padding: 14px 24px; background: #fff; border-bottom: 1px solid #e3e6ea; }
    h1 { font-size: 18px; margin: 0; letter-spacing: 0.2px; }
    .tag { color: #667085; font-size: 13px; }
    .spacer { flex: 1; }
    .who { color: #475467; font-size: 13px; }
    button { font: inherit; font-size: 13px; border-radius: 8px; padding: 6px 12px; cursor: pointer; border: 1px solid #d0d5dd; background: #fff; }
    button.primary { background: #1b1f24; color: #fff; border-color: #1b1f24; }
    main { max-width: 960px; margin: 0 auto; padding: 24px; }
    .error { color: #b42318; }
  `;

  connectedCallback(): void {
    super.connectedCallback();
    void this.loadUser();
  }

  private async loadUser(): Promise<void> {
    try {
      const { user } = await this.clients.users.getCurrentUser({});
      this.user = user;
      this.needsLogin = false;
      this.error = undefined;
    } catch (error) {
      if (ConnectError.from(error).code === Code.Unauthenticated) this.needsLogin = true;
      else this.error = `Cannot reach the control plane: ${ConnectError.from(error).rawMessage}`;
    }
  }

  private async logOut(): Promise<void> {
    await logOut();
    this.user = undefined;
    this.needsLogin = true;
  }

  render() {
    return html`
      <header>
        <h1>Link</h1>
        <span class="tag">coding agents on your own machines</span>
        <span class="spacer"></span>
        ${this.user
          ? html`<span class="who">${this.user.local ? 'local user' : this.user.name}</span>
              <button class="primary" @click=${() => this.dialog.show()}>Connect a machine</button>
              ${this.user.local ? nothing : html`<button @click=${() => this.logOut()}>Log out</button>`}`
          : nothing}
      </header>
      <main>
        ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
        ${this.needsLogin
          ? html`<link-login @link-logged-in=${() => this.loadUser()}></link-login>`
          : this.user
            ? html`<link-machine-list @link-connect-machine=${() => this.dialog.show()}></link-machine-list>`
            : nothing}
      </main>
      <link-connect-dialog></link-connect-dialog>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-app': LinkApp;
  }
}
