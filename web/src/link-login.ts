import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { logIn } from './api.js';

/**
 * Logs the browser in with a user token (from `linkctl users create` or `link-server create-user`)
 * or with the login URL link-server printed (pasted whole); the server answers with an HttpOnly
 * session cookie, so neither is kept by the page.
 *
 * @fires link-logged-in - the session cookie is set
 */
@customElement('link-login')
export class LinkLogin extends LitElement {
  /** An error to show before anything is typed (a login link that did not work). */
  @property({ attribute: false }) error: string | undefined;
  @state() private busy = false;

  static styles = css`
    :host { display: block; max-width: 420px; margin: 48px auto; }
    form { background: var(--link-surface, #fff); border: 1px solid var(--link-border, #e3e6ea); border-radius: 10px; padding: 24px; display: grid; gap: 12px; }
    h2 { margin: 0; font-size: 17px; }
    p { margin: 0; color: var(--link-muted, #475467); font-size: 14px; }
    input { font: inherit; padding: 8px 10px; border: 1px solid var(--link-border, #d0d5dd); border-radius: 8px; }
    button { font: inherit; padding: 8px 12px; border-radius: 8px; border: 0; background: var(--link-primary, #1b1f24); color: var(--link-on-primary, #fff); cursor: pointer; }
    .error { color: #b42318; font-size: 13px; }
  `;

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const input = this.renderRoot.querySelector('input') as HTMLInputElement;
    this.busy = true;
    this.error = await logIn(credential(input.value.trim()));
    this.busy = false;
    if (!this.error) this.dispatchEvent(new CustomEvent('link-logged-in', { bubbles: true, composed: true }));
  }

  render() {
    return html`<form @submit=${this.submit}>
      <h2>Log in to Link</h2>
      <p>
        Open the login URL that <code>npm start</code> printed (it is also in the server's
        <code>login-url</code> file), or paste your user token here. An admin creates one with
        <code>linkctl users create NAME</code>.
      </p>
      <input type="password" name="token" autocomplete="off" placeholder="lu_… or the login URL" aria-label="User token" required />
      ${this.error ? html`<div class="error" role="alert">${this.error}</div>` : nothing}
      <button type="submit" ?disabled=${this.busy}>Log in</button>
    </form>`;
  }
}

/** What was pasted: a login URL (`…?login=<secret>`) or a user token. */
function credential(value: string): string | { loginSecret: string } {
  if (!/^https?:\/\//i.test(value)) return value;
  try {
    const secret = new URL(value).searchParams.get('login');
    return secret ? { loginSecret: secret } : value;
  } catch {
    return value;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-login': LinkLogin;
  }
}
