import { LitElement, css, html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { logIn } from './api.js';

/**
 * Logs the browser in with a user token (from `linkctl users create` or `link-server create-user`);
 * the server answers with an HttpOnly session cookie, so the token is not kept by the page.
 *
 * @fires link-logged-in - the session cookie is set
 */
@customElement('link-login')
export class LinkLogin extends LitElement {
  @state() private error: string | undefined;
  @state() private busy = false;

  static styles = css`
    :host { display: block; max-width: 420px; margin: 48px auto; }
    form { background: #fff; border: 1px solid #e3e6ea; border-radius: 10px; padding: 24px; display: grid; gap: 12px; }
    h2 { margin: 0; font-size: 17px; }
    p { margin: 0; color: #475467; font-size: 14px; }
    input { font: inherit; padding: 8px 10px; border: 1px solid #d0d5dd; border-radius: 8px; }
    button { font: inherit; padding: 8px 12px; border-radius: 8px; border: 0; background: #1b1f24; color: #fff; cursor: pointer; }
    .error { color: #b42318; font-size: 13px; }
  `;

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const input = this.renderRoot.querySelector('input') as HTMLInputElement;
    this.busy = true;
    this.error = await logIn(input.value.trim());
    this.busy = false;
    if (!this.error) this.dispatchEvent(new CustomEvent('link-logged-in', { bubbles: true, composed: true }));
  }

  render() {
    return html`<form @submit=${this.submit}>
      <h2>Log in to Link</h2>
      <p>Paste your user token. An admin creates one with <code>linkctl users create NAME</code>.</p>
      <input type="password" name="token" autocomplete="off" placeholder="lu_…" aria-label="User token" required />
      ${this.error ? html`<div class="error" role="alert">${this.error}</div>` : nothing}
      <button type="submit" ?disabled=${this.busy}>Log in</button>
    </form>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-login': LinkLogin;
  }
}
