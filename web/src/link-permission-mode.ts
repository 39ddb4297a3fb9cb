import { LitElement, css, html } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { PermissionMode } from '../../gen/link/v1/run_pb.js';

/** What a message may do without asking, as chosen in the composer. */
export interface PermissionChoice {
  mode: PermissionMode;
  /** The user confirmed AUTO outside a bwrap sandbox (`SendMessageRequest.confirm_auto`). */
  confirmAuto: boolean;
}

const MODES: { mode: PermissionMode; label: string; hint: string }[] = [
  { mode: PermissionMode.ASK, label: 'Ask for everything', hint: 'Everything the agent would ask about comes to you.' },
  { mode: PermissionMode.EDITS, label: 'Allow edits', hint: 'Edits inside the sandbox are allowed; commands and everything else ask you.' },
  { mode: PermissionMode.AUTO, label: 'Allow everything', hint: 'Nothing asks: the agent runs every command it wants inside its sandbox.' },
];

/**
 * The composer's permission mode: ask, edits (the default) or auto. Auto on a thread that does
 * not run in a bwrap sandbox needs an explicit confirmation, asked in a dialog when the message
 * is sent (`settle()`), since the agent's commands then reach the whole machine.
 *
 * @csspart select - the select
 */
@customElement('link-permission-mode')
export class LinkPermissionMode extends LitElement {
  /** The thread's sandbox provider ('' for a new thread, which is never bwrap). */
  @property() sandboxProvider = '';
  @property({ type: Boolean }) disabled = false;

  @state() mode: PermissionMode = PermissionMode.EDITS;
  @query('dialog') private dialog!: HTMLDialogElement;
  private decide: ((confirmed: boolean) => void) | undefined;

  static styles = css`
    :host { display: inline-block; }
    select { font: inherit; font-size: 13px; border: 1px solid #d0d5dd; border-radius: 8px; padding: 5px 8px; background: #fff; }
    select[data-mode='auto'] { border-color: #fdb022; background: #fffaeb; }
    select:focus-visible, button:focus-visible { outline: 2px solid #2e90fa; outline-offset: 2px; }
    dialog { border: 1px solid #e3e6ea; border-radius: 12px; padding: 18px 20px; max-width: 440px; box-shadow: 0 12px 32px rgba(16, 24, 40, 0.18); }
    dialog h3 { margin: 0 0 8px; font-size: 16px; }
    dialog p { margin: 6px 0; font-size: 14px; color: #344054; }
    .actions { display: flex; justify-content: flex-end; gap: 8px; margin-top: 14px; }
    button { font: inherit; font-size: 13px; border-radius: 8px; padding: 6px 14px; cursor: pointer; border: 1px solid #d0d5dd; background: #fff; }
    button.danger { background: #b42318; border-color: #b42318; color: #fff; }
  `;

  /** Auto needs the user's confirmation here. */
  get needsConfirmation(): boolean {
    return this.mode === PermissionMode.AUTO && this.sandboxProvider !== 'bwrap';
  }

  /**
   * The choice for the message being sent: at once, or, for auto outside bwrap, once the user
   * answered the confirmation (undefined when they cancelled: the message is not sent).
   */
  async settle(): Promise<PermissionChoice | undefined> {
    if (!this.needsConfirmation) return { mode: this.mode, confirmAuto: false };
    await this.updateComplete;
    this.decide?.(false);
    const confirmed = await new Promise<boolean>((resolve) => {
      this.decide = resolve;
      this.dialog.showModal();
    });
    this.decide = undefined;
    if (this.dialog.open) this.dialog.close();
    return confirmed ? { mode: this.mode, confirmAuto: true } : undefined;
  }

  private answer(confirmed: boolean): void {
    this.decide?.(confirmed);
  }

  render() {
    const current = MODES.find((m) => m.mode === this.mode)!;
    return html`
      <select part="select" aria-label="Permissions" title=${current.hint} ?disabled=${this.disabled} data-mode=${PermissionMode[this.mode].toLowerCase()}
        @change=${(e: Event) => (this.mode = Number((e.target as HTMLSelectElement).value) as PermissionMode)}>
        ${MODES.map((m) => html`<option value=${m.mode} ?selected=${m.mode === this.mode}>${m.label}</option>`)}
      </select>
      <dialog aria-labelledby="auto-title" @cancel=${() => this.answer(false)}>
        <h3 id="auto-title">Allow everything without asking?</h3>
        <p>This thread does not run in a bwrap sandbox. With “Allow everything” the agent runs any command it wants with your user's rights on the machine: deleting files, installing packages, reaching the network, outside the repository too.</p>
        <p>For this message only. Choose “Allow edits” to be asked before commands instead.</p>
        <div class="actions">
          <button @click=${() => this.answer(false)}>Cancel</button>
          <button class="danger" data-testid="confirm-auto" @click=${() => this.answer(true)}>Allow everything</button>
        </div>
      </dialog>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-permission-mode': LinkPermissionMode;
  }
}
