import { expect } from '@open-wc/testing';
import { FileDiffStatus } from '../../gen/link/v1/run_pb.js';
import { diffAsChanges } from '../src/unified-diff.js';

const summary = (diff: string, paths: string[] = []) => diffAsChanges(diff, paths).files.map((f) => [f.path, FileDiffStatus[f.status], f.additions, f.deletions, Boolean(f.patch)]);

describe('an edit\'s unified diff as files', () => {
  it('reads git-style and plain headers, new and deleted files, and several files in one diff', () => {
    const diff = [
      '--- /dev/null',
      '+++ b/notes/new.md',
      '@@ -0,0 +1,2 @@',
      '+# New',
      '+text',
      '--- a/src/app.ts',
      '+++ b/src/app.ts',
      '@@ -1,2 +1,2 @@',
      ' const a = 1;',
      '-const b = 2;',
      '+const b = 3;',
      '--- old.txt',
      '+++ /dev/null',
    ].join('\n');
    expect(summary(diff)).to.deep.equal([
      ['notes/new.md', 'ADDED', 2, 0, true],
      ['src/app.ts', 'MODIFIED', 1, 1, true],
      ['old.txt', 'DELETED', 0, 0, false],
    ]);
  });

  it('names a diff without file headers after the paths the request gives', () => {
    expect(summary('@@ -1 +1 @@\n-a\n+b\n', ['README.md'])).to.deep.equal([['README.md', 'MODIFIED', 1, 1, true]]);
  });
});
