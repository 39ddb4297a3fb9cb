/** Real git repositories made by tests, served to linkd over file://. */
import { execFileSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp.js';

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
  })
    .toString()
    .trim();
}

/**
 * A repository with a README on `main` (the default branch) and a `feature` branch one commit
 * ahead; `extra` adds files (or, with `symlink:`, a symlink to the given target) to main.
 */
export async function makeRepository(extra: Record<string, string> = {}): Promise<{ dir: string; url: string; main: string; feature: string }> {
  const dir = await tempDir('repo-');
  git(dir, 'init', '--quiet', '--initial-branch=main');
  writeFileSync(join(dir, 'README'), 'hello from main\n');
  for (const [name, content] of Object.entries(extra)) {
    if (content.startsWith('symlink:')) symlinkSync(content.slice('symlink:'.length), join(dir, name));
    else writeFileSync(join(dir, name), content);
  }
  git(dir, 'add', '-A');
  git(dir, 'commit', '--quiet', '-m', 'first');
  const main = git(dir, 'rev-parse', 'HEAD');
  git(dir, 'checkout', '--quiet', '-b', 'feature');
  writeFileSync(join(dir, 'FEATURE'), 'a feature\n');
  git(dir, 'add', '-A');
  git(dir, 'commit', '--quiet', '-m', 'feature');
  const feature = git(dir, 'rev-parse', 'HEAD');
  git(dir, 'checkout', '--quiet', 'main');
  return { dir, url: `file://${dir}`, main, feature };
}
