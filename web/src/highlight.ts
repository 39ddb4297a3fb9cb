/**
 * Syntax highlighting of diff lines with highlight.js (its core and a few registered languages,
 * to keep the bundle small), from `@highlightjs/cdn-assets`: the project's own build as ES modules,
 * which load in the browser as they are (the `highlight.js` package's ES entry wraps CommonJS). highlight.js escapes the code it is given: its output holds only the
 * escaped text and its own `<span class="hljs-…">` elements, so it may be rendered as HTML.
 */
import hljs from '@highlightjs/cdn-assets/es/core.min.js';
import bash from '@highlightjs/cdn-assets/es/languages/bash.min.js';
import cpp from '@highlightjs/cdn-assets/es/languages/cpp.min.js';
import css from '@highlightjs/cdn-assets/es/languages/css.min.js';
import go from '@highlightjs/cdn-assets/es/languages/go.min.js';
import ini from '@highlightjs/cdn-assets/es/languages/ini.min.js';
import java from '@highlightjs/cdn-assets/es/languages/java.min.js';
import javascript from '@highlightjs/cdn-assets/es/languages/javascript.min.js';
import json from '@highlightjs/cdn-assets/es/languages/json.min.js';
import markdown from '@highlightjs/cdn-assets/es/languages/markdown.min.js';
import python from '@highlightjs/cdn-assets/es/languages/python.min.js';
import rust from '@highlightjs/cdn-assets/es/languages/rust.min.js';
import sql from '@highlightjs/cdn-assets/es/languages/sql.min.js';
import typescript from '@highlightjs/cdn-assets/es/languages/typescript.min.js';
import xml from '@highlightjs/cdn-assets/es/languages/xml.min.js';
import yaml from '@highlightjs/cdn-assets/es/languages/yaml.min.js';

const LANGUAGES = { bash, cpp, css, go, ini, java, javascript, json, markdown, python, rust, sql, typescript, xml, yaml };
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language);

const BY_EXTENSION: Record<string, keyof typeof LANGUAGES> = {
  ts: 'typescript', tsx: 'typescript', mts: 'typescript', cts: 'typescript',
  js: 'javascript', jsx: 'javascript', mjs: 'javascript', cjs: 'javascript',
  json: 'json', css: 'css', scss: 'css', html: 'xml', htm: 'xml', xml: 'xml', svg: 'xml', vue: 'xml',
  py: 'python', go: 'go', rs: 'rust', sh: 'bash', bash: 'bash', zsh: 'bash',
  md: 'markdown', markdown: 'markdown', yml: 'yaml', yaml: 'yaml', toml: 'ini', ini: 'ini', cfg: 'ini',
  sql: 'sql', java: 'java', kt: 'java', c: 'cpp', h: 'cpp', cc: 'cpp', cpp: 'cpp', hpp: 'cpp',
};

/** The registered language for a file path (by its extension), or undefined for plain text. */
export function languageFor(path: string): string | undefined {
  const name = path.split('/').at(-1) ?? '';
  if (name === 'Dockerfile' || name.endsWith('.env')) return 'bash';
  const extension = name.includes('.') ? name.split('.').at(-1)!.toLowerCase() : '';
  return BY_EXTENSION[extension];
}

/**
 * Lines of code highlighted together (so a comment or string that spans lines is coloured as one),
 * then split back into one HTML string per line, each with its open spans closed and reopened on
 * the next. Undefined when there is no language (the caller renders the text as text).
 */
export function highlightLines(lines: string[], language: string | undefined): string[] | undefined {
  if (!language) return undefined;
  const highlighted = hljs.highlight(lines.join('\n'), { language, ignoreIllegals: true }).value;
  const out: string[] = [];
  const open: string[] = [];
  let current = '';
  let last = 0;
  // highlight.js's output is escaped text and its own <span class="…"> and </span>: nothing else.
  for (const match of highlighted.matchAll(/<span[^>]*>|<\/span>|\n/g)) {
    current += highlighted.slice(last, match.index);
    last = match.index + match[0].length;
    if (match[0] === '\n') {
      out.push(current + '</span>'.repeat(open.length));
      current = open.join('');
    } else {
      if (match[0] === '</span>') open.pop();
      else open.push(match[0]);
      current += match[0];
    }
  }
  out.push(current + highlighted.slice(last) + '</span>'.repeat(open.length));
  return out.length === lines.length ? out : undefined;
}
