/**
 * Markdown from model output, rendered as Lit templates. Nothing is ever parsed as HTML: every piece
 * of text goes through Lit's escaping, links keep only http(s) and mailto targets, and there are no
 * attributes the model can choose except a vetted href. So no script or event handler from model
 * output can run, whatever it contains.
 *
 * The subset: paragraphs, headings (#…######), fenced code blocks, bullet and numbered lists,
 * block quotes, and inline `code`, **bold**, *emphasis* and [links](https://…).
 */
import { html, nothing, type TemplateResult } from 'lit';

type Inline = TemplateResult | string;

const SAFE_URL = /^(https?:|mailto:)/i;

export function renderMarkdown(source: string): TemplateResult {
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  const blocks: TemplateResult[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = /^\s*(```|~~~)\s*([\w+-]*)\s*$/.exec(line);
    if (fence) {
      const code: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) code.push(lines[i++]);
      i++;
      blocks.push(html`<pre><code data-lang=${fence[2] || nothing}>${code.join('\n')}</code></pre>`);
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      const level = heading[1].length;
      const content = inline(heading[2]);
      blocks.push(
        level === 1 ? html`<h3>${content}</h3>` : level === 2 ? html`<h4>${content}</h4>` : html`<h5>${content}</h5>`,
      );
      i++;
      continue;
    }
    if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      const ordered = /^\s*\d+[.)]\s+/.test(line);
      const items: Inline[][] = [];
      while (i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) {
        items.push(inline(lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, '')));
        i++;
      }
      const rendered = items.map((item) => html`<li>${item}</li>`);
      blocks.push(ordered ? html`<ol>${rendered}</ol>` : html`<ul>${rendered}</ul>`);
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quoted: string[] = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) quoted.push(lines[i++].replace(/^\s*>\s?/, ''));
      blocks.push(html`<blockquote>${renderMarkdown(quoted.join('\n'))}</blockquote>`);
      continue;
    }
    if (!line.trim()) {
      i++;
      continue;
    }
    const paragraph: string[] = [];
    while (i < lines.length && lines[i].trim() && !/^\s*(```|~~~|#{1,6}\s|>|[-*+]\s|\d+[.)]\s)/.test(lines[i])) paragraph.push(lines[i++]);
    if (paragraph.length === 0) paragraph.push(lines[i++]);
    blocks.push(html`<p>${inline(paragraph.join('\n'))}</p>`);
  }
  return html`${blocks}`;
}

/**
 * A sentence of Link's own (a reason, a fix, a title) with its `backticked` parts as code; nothing
 * else is markup, and nothing is parsed as HTML.
 */
export function inlineCode(text: string): TemplateResult {
  return html`${text.split('`').map((part, i) => (i % 2 ? html`<code>${part}</code>` : part))}`;
}

/** A tool's JSON input, indented for reading; text that is not JSON as it is. */
export function prettyJson(json: string): string {
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}

/** Inline markup of one block: code spans first (nothing inside them is markup), then links, bold, emphasis. */
function inline(text: string): Inline[] {
  const out: Inline[] = [];
  const pattern = /`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) out.push(text.slice(last, match.index));
    if (match[1] !== undefined) out.push(html`<code>${match[1]}</code>`);
    else if (match[2] !== undefined) {
      const href = match[3];
      out.push(SAFE_URL.test(href) ? html`<a href=${href} target="_blank" rel="noopener noreferrer nofollow">${inline(match[2])}</a>` : `${match[2]} (${href})`);
    } else if (match[4] !== undefined || match[5] !== undefined) out.push(html`<strong>${inline(match[4] ?? match[5])}</strong>`);
    else out.push(html`<em>${inline(match[6] ?? match[7])}</em>`);
    last = match.index + match[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
