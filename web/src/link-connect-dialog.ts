import { LitElement, css, html, nothing } from 'lit';
import { customElement, query, state } from 'lit/decorators.js';
import { consume } from '@lit/context';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { ConnectError } from '@connectrpc/connect';
import { LinkState } from '../../gen/link/v1/types_pb.js';
import { apiContext, type ApiClients } from './api.js';

/**
 * "Connect a machine": starts pairing, says how to get linkd onto another machine, shows the command
 * to run there with a copy button and the address it will dial (with a warning when that address is
 * loopback, which only this machine can reach), waits for a new machine to come online, and then
 * closes itself.
 *
 * @fires link-paired - a new machine came online; detail: { linkId }
 * @csspart command - the command to run
 */
@customElement('link-connect-dialog')
export class LinkConnectDialog extends LitElement {
  @consume({ context: apiContext })
  clients!: ApiClients;

  @state() private command: string | undefined;
  /** The gRPC address the machine will dial, as the server advertises it. */
  @state() private serverAddress = '';
  @state() private expiresAt: Date | undefined;
  @state() private error: string | undefined;
  @state() private copied = false;
  @query('dialog') private dialog!: HTMLDialogElement;
  private abort: AbortController | undefined;

  static styles = css`
    dialog { border: 1px solid var(--link-border, #e3e6ea); border-radius: 12px; padding: 24px; max-width: 560px; width: calc(100% - 48px); }
    dialog::backdrop { background: rgba(16, 24, 40, 0.4); }
    h2 { margin: 0 0 8px; font-size: 17px; }
    p { color: var(--link-muted, #475467); font-size: 14px; margin: 8px 0; }
    .command { display: flex; gap: 8px; align-items: stretch; margin: 12px 0; }
    code { flex: 1; background: #101828; color: #e4e7ec; padding: 10px 12px; border-radius: 8px; font-size: 13px; overflow-x: auto; white-space: nowrap; }
    button { font: inherit; font-size: 13px; border-radius: 8px; padding: 6px 12px; cursor: pointer; border: 1px solid var(--link-border, #d0d5dd); background: var(--link-surface, #fff); }
    .waiting { display: flex; align-items: center; gap: 8px; color: var(--link-muted, #475467); font-size: 13px; }
    .spinner { width: 12px; height: 12px; border: 2px solid var(--link-border, #d0d5dd); border-top-color: var(--link-primary, #1b1f24); border-radius: 50%; animation: spin 0.9s linear infinite; }
    @keyframes spin { to { transform: rotate(360deg); } }
    @media (prefers-reduced-motion: reduce) {
      .spinner { animation: none; }
    }
    .error { color: #b42318; font-size: 13px; }
    .note { background: #fffaeb; border: 1px solid #fedf89; color: #7a2e0e; border-radius: 8px; padding: 8px 12px; font-size: 13px; }
    ol { padding-left: 20px; color: var(--link-muted, #475467); font-size: 14px; }
    li { margin: 6px 0; }
    pre { background: #101828; color: #e4e7ec; padding: 8px 12px; border-radius: 8px; font-size: 12.5px; overflow-x: auto; margin: 4px 0; }
    .inline { background: none; color: inherit; padding: 0; }
    footer { display: flex; justify-content: flex-end; margin-top: 16px; }
  `;

  /** Whether the dialog is showing (the page's shortcuts wait while it is). */
  get isOpen(): boolean {
    return this.dialog?.open ?? false;
  }

  /** Opens the dialog with a fresh pairing code. */
  async show(): Promise<void> {
    this.close();
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.command = undefined;
    this.error = undefined;
    this.copied = false;
    await this.updateComplete;
    this.dialog.showModal();
    try {
      // Know the machines there are before the code exists, so the new one is recognised.
      const known = new Set<string>();
      const stream = this.clients.links.watchLinks({}, { signal })[Symbol.asyncIterator]();
      const first = await stream.next();
      if (!first.done && first.value.event.case === 'snapshot') for (const link of first.value.event.value.links) known.add(link.id);
      const pairing = await this.clients.links.startPairing({}, { signal });
      this.command = pairing.command;
      this.serverAddress = pairing.serverAddress;
      this.expiresAt = pairing.expiresAt ? timestampDate(pairing.expiresAt) : undefined;
      for (;;) {
        const next = await stream.next();
        if (next.done) break;
        const event = next.value.event;
        if (event.case === 'changed' && !known.has(event.value.id) && event.value.state === LinkState.ONLINE) {
          this.dispatchEvent(new CustomEvent('link-paired', { detail: { linkId: event.value.id }, bubbles: true, composed: true }));
          this.close();
          return;
        }
      }
    } catch (error) {
      if (!signal.aborted) this.error = ConnectError.from(error).rawMessage;
    }
  }

  close(): void {
    this.abort?.abort();
    this.abort = undefined;
    if (this.dialog?.open) this.dialog.close();
  }

  private async copy(): Promise<void> {
    if (!this.command) return;
    try {
      await navigator.clipboard.writeText(this.command);
      this.copied = true;
    } catch {
      // No clipboard permission: select the text so Ctrl-C works.
      const range = document.createRange();
      range.selectNodeContents(this.renderRoot.querySelector('code')!);
      getSelection()?.removeAllRanges();
      getSelection()?.addRange(range);
    }
  }

  render() {
    return html`<dialog @close=${() => this.close()} aria-labelledby="connect-title">
      <h2 id="connect-title">Connect a machine</h2>
      <ol>
        <li>On the machine where your coding agents live, get linkd (it needs Node ≥ 20.19 and git) from a checkout of Link:
          <pre data-testid="install-command">git clone &lt;your Link repository&gt; link &amp;&amp; cd link &amp;&amp; npm ci</pre>
          (On this machine, <code class="inline">npm start</code> already runs one.)</li>
        <li>There, pair it with this server:</li>
      </ol>
      ${this.command
        ? html`<div class="command">
              <code part="command" data-testid="pairing-command">${this.command}</code>
              <button @click=${() => this.copy()}>${this.copied ? 'Copied' : 'Copy'}</button>
            </div>
            <p>linkd dials <strong data-testid="server-address">${this.serverAddress || 'this server'}</strong>. Then start it with
              <code class="inline">linkd start</code> (in the checkout: <code class="inline">npx linkd start</code>). The code works once${this.expiresAt
              ? html` and expires at ${this.expiresAt.toLocaleTimeString()}`
              : nothing}.</p>
            ${isLoopback(this.serverAddress)
              ? html`<p class="note" role="note" data-testid="loopback-note">This server listens on this machine only (${hostOf(this.serverAddress)}), so
                  another machine cannot reach that address: the command works here. For another machine, start link-server with
                  <code class="inline">--host 0.0.0.0</code> and <code class="inline">--advertise-grpc http://&lt;this machine's address&gt;:9090</code>.</p>`
              : nothing}
            <div class="waiting" role="status"><span class="spinner"></span>Waiting for the machine to connect…</div>`
        : this.error
          ? nothing
          : html`<p>Creating a pairing code…</p>`}
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      <footer><button @click=${() => this.close()}>Close</button></footer>
    </dialog>`;
  }
}

function hostOf(address: string): string {
  try {
    return new URL(address).hostname;
  } catch {
    return '';
  }
}

/** Whether `address` (the advertised gRPC URL) is one only this machine can dial. */
export function isLoopback(address: string): boolean {
  const host = hostOf(address).replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

declare global {
  interface HTMLElementTagNameMap {
    'link-connect-dialog': LinkConnectDialog;
  }
}
