/**
 * A unified diff as text (an edit an agent asks permission for) cut into the files of a
 * `RunChanges`, so `<link-changes>` shows it like a run's changes: per file, highlighted.
 */
import { create } from '@bufbuild/protobuf';
import { FileDiffSchema, FileDiffStatus, RunChangesSchema, type FileDiff, type RunChanges } from '../../gen/link/v1/run_pb.js';

interface Piece {
  lines: string[];
  oldPath?: string;
  newPath?: string;
  hunks: boolean;
}

function headerPath(line: string): string | undefined {
  const path = line.slice(4).split('\t')[0].trim();
  if (path === '/dev/null') return undefined;
  return path.replace(/^[ab]\//, '');
}

/**
 * The files of `diff`: split at `diff --git` lines, or at a `---`/`+++` pair after a hunk. A
 * diff with no file headers at all is one file named by `paths[0]`. Lines before the first file
 * header go to the first file; a file with headers and no hunks is listed without a diff.
 */
export function diffAsChanges(diff: string, paths: readonly string[] = []): RunChanges {
  const pieces: Piece[] = [];
  let current: Piece | undefined;
  const lines = diff.replace(/\n$/, '').split('\n');
  lines.forEach((line, i) => {
    const startsFile = line.startsWith('diff --git ') || (line.startsWith('--- ') && lines[i + 1]?.startsWith('+++ ') && (!current || current.hunks));
    if (startsFile || !current) pieces.push((current = { lines: [], hunks: false }));
    if (line.startsWith('--- ') && !current.hunks) current.oldPath = headerPath(line) ?? '';
    else if (line.startsWith('+++ ') && !current.hunks) current.newPath = headerPath(line) ?? '';
    else if (line.startsWith('@@')) current.hunks = true;
    current.lines.push(line);
  });
  const files: FileDiff[] = pieces
    .filter((p) => p.hunks || p.oldPath !== undefined || p.newPath !== undefined)
    .map((p, i) => {
      let additions = 0;
      let deletions = 0;
      let inHunk = false;
      for (const line of p.lines) {
        if (line.startsWith('@@')) inHunk = true;
        else if (inHunk && line.startsWith('+')) additions++;
        else if (inHunk && line.startsWith('-')) deletions++;
      }
      const status = p.oldPath === '' ? FileDiffStatus.ADDED : p.newPath === '' ? FileDiffStatus.DELETED : FileDiffStatus.MODIFIED;
      const path = p.newPath || p.oldPath || paths[i] || paths[0] || 'the file';
      // A file with no hunks (a deletion told without its content) is listed without a diff.
      return create(FileDiffSchema, { path, status, additions, deletions, patch: p.hunks ? p.lines.join('\n') : '' });
    });
  return create(RunChangesSchema, { files });
}
