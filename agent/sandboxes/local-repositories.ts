/**
 * The git repositories under the workspaces, which linkd advertises in its capabilities (found
 * again at every probe: at start, periodically, on SIGHUP and after `linkd workspace add`), and the
 * check that a request names one of them.
 *
 * The search is bounded: at most MAX_DEPTH folders below a workspace, at most MAX_REPOSITORIES
 * found, hidden folders and node_modules skipped, symlinks not followed, and a repository's own
 * folders not searched further.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { invalid } from '../../common/sandbox-names.js';
import { git, gitOr, hasRef } from './git.js';
import { inWorkspace } from './workspaces.js';

export const MAX_DEPTH = 3;
export const MAX_REPOSITORIES = 200;

export interface LocalRepositoryInfo {
  path: string;
  name: string;
  currentBranch: string;
  defaultBranch: string;
}

export interface Discovery {
  repositories: LocalRepositoryInfo[];
  truncated: boolean;
}

/** Finds the repositories under `workspaces` (resolved paths). Never throws; sorted by path. */
export async function discoverRepositories(workspaces: readonly string[], limits = { depth: MAX_DEPTH, max: MAX_REPOSITORIES }): Promise<Discovery> {
  const found: string[] = [];
  let truncated = false;
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (truncated) return;
    if (await isRepository(dir)) {
      if (!found.includes(dir)) {
        if (found.length >= limits.max) truncated = true;
        else found.push(dir);
      }
      return;
    }
    if (depth >= limits.depth) return;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (!entry.isDirectory() || entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      await walk(join(dir, entry.name), depth + 1);
    }
  };
  for (const workspace of workspaces) await walk(workspace, 0);
  // A few git calls at a time: a probe must not fork hundreds of processes at once.
  const repositories: LocalRepositoryInfo[] = [];
  const sorted = found.sort();
  for (let i = 0; i < sorted.length; i += 8) repositories.push(...(await Promise.all(sorted.slice(i, i + 8).map(describe))));
  return { repositories, truncated };
}

/** A repository's top-level folder: it has a `.git` directory (or file, for a linked worktree). */
async function isRepository(dir: string): Promise<boolean> {
  return stat(join(dir, '.git')).then(
    () => true,
    () => false,
  );
}

async function describe(path: string): Promise<LocalRepositoryInfo> {
  const currentBranch = await git(['symbolic-ref', '--quiet', '--short', 'HEAD'], { cwd: path, timeoutMs: 10_000 }).then(
    (out) => out.trim(),
    () => '',
  );
  return { path, name: basename(path), currentBranch, defaultBranch: await defaultBranch(path, currentBranch) };
}

/** origin's HEAD when known, else main or master when present, else the branch checked out. */
export async function defaultBranch(repository: string, currentBranch: string): Promise<string> {
  const remote = await git(['symbolic-ref', '--quiet', '--short', 'refs/remotes/origin/HEAD'], { cwd: repository, timeoutMs: 10_000 }).then(
    (out) => out.trim().replace(/^origin\//, ''),
    () => '',
  );
  if (remote) return remote;
  for (const name of ['main', 'master']) if (await hasRef(repository, `refs/heads/${name}`)) return name;
  return currentBranch;
}

/**
 * The machine's own check of a local repository a request names: its resolved path lies inside a
 * workspace (a symlink out of one is refused) and is a repository's top-level folder. Returns the
 * resolved path; throws INVALID_FIELD otherwise.
 */
export async function checkLocalRepository(workspaces: readonly string[], path: string): Promise<string> {
  if (workspaces.length === 0) throw invalid('repository', 'this machine has no workspaces: add one on it with `linkd workspace add DIR`');
  const real = await inWorkspace(workspaces, path);
  if (!real) throw invalid('repository', `${path} is not inside a workspace of this machine (${workspaces.join(', ')}); add it there with \`linkd workspace add DIR\``);
  if (!(await isRepository(real))) throw invalid('repository', `${path} is not the top-level folder of a git repository`);
  return real;
}

/**
 * Adds a worktree of a local repository at `path` on `branch`: the branch when it exists, else a new
 * branch from the repository's current HEAD. The worktree shares the repository's objects, hooks
 * and remotes. SandboxError GIT_FAILED when git refuses (e.g. the branch is checked out elsewhere).
 */
export async function addLocalWorktree(repository: string, path: string, branch: string, timeoutMs?: number): Promise<void> {
  await git(['worktree', 'prune'], { cwd: repository }).catch(() => undefined);
  const args = (await hasRef(repository, `refs/heads/${branch}`))
    ? ['worktree', 'add', '--quiet', path, branch]
    : ['worktree', 'add', '--quiet', '--no-track', '-b', branch, path, 'HEAD'];
  await gitOr('GIT_FAILED', args, { cwd: repository, timeoutMs });
}

/** Removes a local repository's worktree (its branch and commits stay in the repository). */
export async function removeLocalWorktree(repository: string, path: string): Promise<void> {
  await git(['worktree', 'remove', '--force', path], { cwd: repository }).catch(() => undefined);
  await rm(path, { recursive: true, force: true });
  await git(['worktree', 'prune'], { cwd: repository }).catch(() => undefined);
}

/** The repository's shared git directory (objects, refs, hooks), which a worktree's commits write. */
export function commonDir(repository: string): string {
  return join(repository, '.git');
}
