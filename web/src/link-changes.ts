import { LitElement, css, html, nothing, type TemplateResult } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { unsafeHTML } from 'lit/directives/unsafe-html.js';
import { FileDiffStatus, type FileDiff, type RunChanges } from '../../gen/link/v1/run_pb.js';
import { highlightLines, languageFor } from './highlight.js';

const STATUS: Record<FileDiffStatus, string> = {
  [FileDiffStatus.UNSPECIFIED]: 'changed',
  [FileDiffStatus.ADDED]: 'added',
  [FileDiffStatus.MODIFIED]: 'modified',
  [FileDiffStatus.DELETED]: 'deleted',
  [FileDiffStatus.RENAMED]: 'renamed',
};

/** Up to this many files, each file's diff starts open; past it, all start collapsed. */
const OPEN_UP_TO = 5;

/**
 * A change (a run's, or a whole thread's): the files with their added and removed line counts,
 * each a collapsible unified diff with syntax highlighting (highlight.js, which escapes the code;
 * nothing else is rendered as HTML). Long lines scroll inside the diff, never the page, so it
 * reads on a phone.
 *
 * @csspart panel - the whole panel
 */
@customElement('link-changes')
export class LinkChanges extends LitElement {
  @property({ attribute: false }) changes: RunChanges | undefined;
  /** The panel's title. */
  @property() heading = 'Changes';

  static styles = css`
    :host { display: block; min-width: 0; max-width: 100%; }
    .panel { border: 1px solid var(--link-border, #e3e6ea); border-radius: 10px; background: var(--link-surface, #fff); margin: 8px 0; min-width: 0; overflow: hidden; }
    .head { display: flex; flex-wrap: wrap; gap: 4px 10px; align-items: baseline; padding: 8px 12px; font-size: 13px; color: var(--link-muted, #344054); border-bottom: 1px solid var(--link-border, #eaecf0); }
    .head strong { font-size: 13px; }
    .add-count { color: #027a48; }
    .del-count { color: #b42318; }
    .note { padding: 6px 12px; font-size: 12px; color: #7a4b00; background: #fff6e5; border-bottom: 1px solid #f5d08a; }
    .empty { padding: 8px 12px; font-size: 13px; color: var(--link-muted, #667085); }
    details { border-bottom: 1px solid var(--link-border, #eaecf0); min-width: 0; }
    details:last-child { border-bottom: none; }
    summary { cursor: pointer; padding: 6px 12px; font-size: 13px; display: flex; gap: 8px; align-items: baseline; min-width: 0; }
    summary:focus-visible { outline: 2px solid #2e90fa; outline-offset: -2px; }
    .path { flex: 1; min-width: 0; overflow-wrap: anywhere; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
    .status { font-family: ui-monospace, monospace; font-size: 11px; border-radius: 4px; padding: 0 5px; white-space: nowrap; }
    .status.added { background: #ecfdf3; color: #027a48; }
    .status.modified { background: #eff8ff; color: #175cd3; }
    .status.deleted { background: #fef3f2; color: #b42318; }
    .status.renamed { background: #f4f3ff; color: #5925dc; }
    .counts { white-space: nowrap; font-size: 12px; }
    .diff { overflow-x: auto; background: #fafbfc; border-top: 1px solid var(--link-border, #eaecf0); font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; line-height: 1.45; }
    .lines { display: inline-block; min-width: 100%; }
    .line { white-space: pre; padding: 0 12px 0 0; }
    .line .sign { display: inline-block; width: 1.6em; text-align: center; color: #98a2b3; user-select: none; }
    .line.add { background: #e6ffec; }
    .line.add .sign { color: #027a48; }
    .line.del { background: #ffebe9; }
    .line.del .sign { color: #b42318; }
    .line.hunk { background: #eef4ff; color: var(--link-muted, #475467); }
    .line.meta { color: var(--link-muted, #667085); font-style: italic; }
    .message { padding: 6px 12px; font-size: 12px; color: var(--link-muted, #667085); border-top: 1px solid var(--link-border, #eaecf0); }
    .hljs-comment, .hljs-quote { color: #6a737d; font-style: italic; }
    .hljs-keyword, .hljs-selector-tag, .hljs-doctag, .hljs-template-tag, .hljs-type { color: #d73a49; }
    .hljs-string, .hljs-regexp, .hljs-meta .hljs-string { color: #032f62; }
    .hljs-number, .hljs-literal, .hljs-variable, .hljs-attr, .hljs-attribute, .hljs-selector-class, .hljs-symbol { color: #005cc5; }
    .hljs-title, .hljs-section, .hljs-title.function_ { color: #6f42c1; }
    .hljs-built_in, .hljs-name, .hljs-tag { color: #22863a; }
    .hljs-meta { color: #735c0f; }
  `;

  render() {
    const changes = this.changes;
    if (!changes) return nothing;
    const files = changes.files;
    const added = files.reduce((n, f) => n + f.additions, 0);
    const removed = files.reduce((n, f) => n + f.deletions, 0);
    const count = files.length + changes.omittedFiles;
    return html`
      <section class="panel" part="panel" aria-label=${this.heading} data-testid="changes">
        <div class="head">
          <strong>${this.heading}</strong>
          <span>${count} ${count === 1 ? 'file' : 'files'}</span>
          <span class="add-count" aria-label="lines added">+${added}</span>
          <span class="del-count" aria-label="lines removed">−${removed}</span>
        </div>
        ${changes.note ? html`<div class="note" role="note" data-testid="changes-note">${changes.note}</div>` : nothing}
        ${files.length === 0 ? html`<div class="empty">No files changed.</div>` : nothing}
        ${files.map((file) => this.file(file, files.length <= OPEN_UP_TO))}
        ${changes.omittedFiles ? html`<div class="message">${changes.omittedFiles} more files are not listed.</div>` : nothing}
      </section>
    `;
  }

  private file(file: FileDiff, open: boolean): TemplateResult {
    const status = STATUS[file.status] ?? 'changed';
    return html`
      <details ?open=${open && !file.binary} data-path=${file.path} data-status=${status}>
        <summary>
          <span class="status ${status}">${status}</span>
          <span class="path">${file.oldPath ? html`${file.oldPath} → ` : nothing}${file.path}</span>
          ${file.binary ? html`<span class="counts">binary</span>` : html`<span class="counts"><span class="add-count">+${file.additions}</span> <span class="del-count">−${file.deletions}</span></span>`}
        </summary>
        ${file.binary ? html`<div class="message">Binary file, not shown.</div>` : nothing}
        ${file.patch ? this.patch(file) : nothing}
        ${file.patchTruncated ? html`<div class="message" data-testid="file-truncated">Diff truncated for size: ${file.patch ? 'the rest' : 'it'} is not shown.</div>` : nothing}
      </details>
    `;
  }

  /** The hunks of a file's unified diff (its `diff --git` header lines are left out), highlighted. */
  private patch(file: FileDiff): TemplateResult {
    const language = languageFor(file.path);
    const lines = file.patch.replace(/\n$/, '').split('\n');
    const first = lines.findIndex((l) => l.startsWith('@@'));
    const body = first < 0 ? [] : lines.slice(first);
    if (body.length === 0) return html`<div class="message">${file.status === FileDiffStatus.RENAMED ? 'Renamed, content unchanged.' : 'No content change (mode only).'}</div>`;
    // Each side of the diff is highlighted as one text: the new one (context and added lines) and the old one.
    const sides = { new: [] as string[], old: [] as string[] };
    const at: number[] = [];
    for (const line of body) {
      if (line.startsWith('@@') || line[0] === '\\') at.push(-1);
      else {
        const side = line[0] === '-' ? sides.old : sides.new;
        at.push(side.length);
        side.push(line.slice(1));
      }
    }
    const highlighted = { new: highlightLines(sides.new, language), old: highlightLines(sides.old, language) };
    return html`<div class="diff" tabindex="0" role="region" aria-label="diff of ${file.path}"><div class="lines">${body.map((line, i) => {
      const sign = line[0];
      if (line.startsWith('@@')) return html`<div class="line hunk"><span class="sign"></span>${line}</div>`;
      if (sign === '\\') return html`<div class="line meta"><span class="sign"></span>${line.slice(1).trim()}</div>`;
      const kind = sign === '+' ? 'add' : sign === '-' ? 'del' : 'ctx';
      const code = (sign === '-' ? highlighted.old : highlighted.new)?.[at[i]];
      // highlight.js escapes the code; its output is only that text and its own spans.
      return html`<div class="line ${kind}"><span class="sign">${sign === ' ' ? '' : sign}</span><code>${code === undefined ? line.slice(1) : unsafeHTML(code)}</code></div>`;
    })}</div></div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'link-changes': LinkChanges;
  }
}
