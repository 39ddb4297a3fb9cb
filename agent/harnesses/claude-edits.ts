/**
 * What one of Claude Code's file tools would change, shown before it is allowed: the files it
 * touches and, for Write and Edit, the unified diff against the file as it is now (a Write of a new
 * file is all additions; an Edit whose file cannot be read shows its old and new text alone).
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { unifiedPatch as patch } from './unified-diff.js';

/** Files larger than this are not read for a diff (the edit's own text is shown instead). */
const MAX_READ = 1024 * 1024;

/**
 * The files a request is about: those its input names (its path fields), and the one the CLI says
 * needs permission (for a shell command, the file it would write).
 */
export function editPaths(input: Record<string, unknown>, blockedPath?: string): string[] {
  const paths = new Set<string>();
  for (const key of ['file_path', 'notebook_path', 'path']) if (typeof input[key] === 'string' && input[key]) paths.add(input[key] as string);
  if (blockedPath) paths.add(blockedPath);
  return [...paths];
}

/** A path as a person reads it: relative inside the run's directory, absolute outside. */
export function shownPath(path: string, cwd: string): string {
  if (!path) return '(no path)';
  const rel = relative(cwd, resolve(cwd, path));
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** The unified diff a Write or Edit would make, or '' for other tools (or when it cannot be made). */
export function editDiff(tool: string, input: Record<string, unknown>, cwd: string): string {
  const file = typeof input.file_path === 'string' ? input.file_path : '';
  if (!file || (tool !== 'Write' && tool !== 'Edit')) return '';
  const name = shownPath(file, cwd);
  const current = readSmall(resolve(cwd, file));
  if (tool === 'Write' && typeof input.content === 'string') {
    if (current === 'missing') return patch('/dev/null', `b/${name}`, '', input.content);
    return current === undefined ? '' : patch(`a/${name}`, `b/${name}`, current.text, input.content);
  }
  if (tool === 'Edit' && typeof input.old_string === 'string' && typeof input.new_string === 'string') {
    const { old_string: before, new_string: after } = input;
    const text = typeof current === 'object' ? current.text : undefined;
    if (text !== undefined && before && text.includes(before)) {
      const edited = input.replace_all === true ? text.split(before).join(after) : text.replace(before, () => after);
      return patch(`a/${name}`, `b/${name}`, text, edited);
    }
    return patch(`a/${name}`, `b/${name}`, withNewline(before), withNewline(after));
  }
  return '';
}

/** The file's text; 'missing' when there is none; undefined when it is too large or cannot be read. */
function readSmall(path: string): { text: string } | 'missing' | undefined {
  try {
    if (statSync(path).size > MAX_READ) return undefined;
    return { text: readFileSync(path, 'utf8') };
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : undefined;
  }
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}
