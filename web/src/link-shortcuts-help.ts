import { LitElement, css, html } from 'lit';
import { customElement, query } from 'lit/decorators.js';
import { OTHER_KEYS, SHORTCUTS, type Shortcut } from './shortcuts.js';

/**
 * The `?` overlay: every keyboard shortcut of the page (`shortcuts.ts`), in a modal dialog that
 * Escape, the Close button or a click outside closes.
 */
@customElement('link-shortcuts-help')
export class LinkShortcutsHelp extends LitElement {
  @query('dialog') private dialog!: HTMLDialogElement;

  static styles = css`
    dialog { border: 1px solid var(--link-border, #e3e6ea); border-radius: 12px; padding: 20px 24px; max-width: 460px; width: calc(100% - 48px); box-sizing: border-box; background: var(--link-surface, #fff); color: var(--link-text, #1b1f24); }
    dialog::backdrop { background: rgba(16, 24, 40, 0.4); }
    h2 { margin: 0 0 8px; font-size: 17px; }
    h3 { margin: 14px 0 4px; font-size: 13px; color: var(--link-muted, #475467); }
    table { width: 100%; border-collapse: collapse; font-size: 14px; }
    td { padding: 4px 0; vertical-align: top; }
    td:first-child { width: 110px; white-space: nowrap; }
    kbd { font: 12px ui-monospace, monospace; border: 1px solid var(--link-border, #d0d5dd); border-bottom-width: 2px; border-radius: 5px; padding: 1px 6px; background: var(--link-sunken, #f9fafb); }
    footer { display: flex; justify-content: flex-end; margin-top: 12px; }
    button { font: inherit; font-size: 13px; border-radius: 8px; padding: 6px 12px; cursor: pointer; border: 1px solid var(--link-border, #d0d5dd); background: var(--link-surface, #fff); color: inherit; }
  `;

  get isOpen(): boolean {
    return this.dialog?.open ?? false;
  }

  show(): void {
    if (!this.dialog.open) this.dialog.showModal();
  }

  close(): void {
    if (this.dialog?.open) this.dialog.close();
  }

  private rows(shortcuts: readonly Shortcut[]) {
    return shortcuts.map((s) => html`<tr><td>${s.keys.map((k, i) => html`${i ? ' + ' : ''}<kbd>${k}</kbd>`)}</td><td>${s.label}</td></tr>`);
  }

  render() {
    return html`<dialog aria-labelledby="shortcuts-title" @click=${(e: Event) => e.target === this.dialog && this.close()}>
      <h2 id="shortcuts-title">Keyboard shortcuts</h2>
      <table aria-label="Shortcuts">${this.rows(SHORTCUTS)}</table>
      <h3>Where they apply</h3>
      <table aria-label="Other keys">${this.rows(OTHER_KEYS)}</table>
      <footer><button @click=${() => this.close()}>Close</button></footer>
    </dialog>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-shortcuts-help': LinkShortcutsHelp;
  }
}
