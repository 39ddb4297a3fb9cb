/**
 * The bare mirrors of remote repositories (`<data>/mirrors/<hash>.git`, one per repository URL) and
 * the worktrees made from them. The caller serializes operations on one mirror
 * (`SandboxKeeper.withMirror`); nothing here runs two of them on one mirror, except the fetch that
 * `addWorktree` runs beside the checkout of a new worktree's files.
 *
 * When the network is contacted: a new mirror is fetched once as it is made; a new worktree fetches
 * while it checks out what the mirror knows, and is brought to what the remote has now if that
 * moved, so it always starts from the remote's state at the ensure (as when the fetch came first);
 * an existing worktree is not fetched for (the keeper refreshes its mirror afterwards, see
 * `SandboxKeeper.refreshLater`).
 */
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { exists } from '../../common/files.js';
import { SandboxError } from '../../common/sandbox-names.js';
import { git, gitOr } from './git.js';

/** Where a new worktree's branch starts: its own branch, the remote's branch, or the remote's default. */
interface StartPoint {
  kind: 'local' | 'remote' | 'default';
  ref: string;
  commit: string;
}

/**
 * Makes the mirror of `repository` at `mirror` unless it is there; true when it was made now (and
 * so fetched a moment ago). Made beside its final place and renamed into it, so a failed first
 * fetch leaves nothing behind. REPOSITORY_UNAVAILABLE when the remote cannot be fetched.
 */
export async function makeMirror(mirror: string, repository: string, timeoutMs?: number): Promise<boolean> {
  if (await exists(join(mirror, 'HEAD'))) return false;
  await mkdir(dirname(mirror), { recursive: true, mode: 0o700 });
  const partial = `${mirror}.partial-${process.pid}-${Date.now()}`;
  try {
    await gitOr('GIT_FAILED', ['init', '--quiet', '--bare', partial], { timeoutMs });
    await gitOr('GIT_FAILED', ['remote', 'add', 'origin', repository], { cwd: partial, timeoutMs });
    await fetchMirror(partial, timeoutMs);
    await gitOr('REPOSITORY_UNAVAILABLE', ['remote', 'set-head', 'origin', '--auto'], { cwd: partial, timeoutMs });
    await rename(partial, mirror);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return true;
}

/** Fetches the mirror from its remote (pruning branches gone there). REPOSITORY_UNAVAILABLE on failure. */
export async function fetchMirror(mirror: string, timeoutMs?: number): Promise<void> {
  await gitOr('REPOSITORY_UNAVAILABLE', ['fetch', '--prune', '--quiet', 'origin'], { cwd: mirror, timeoutMs });
}

/**
 * Adds a worktree of `mirror` at `path` on `branch`: the mirror's own branch when it has one (left
 * as it is: it may hold commits), else a new branch tracking the remote's, else a new branch from
 * the remote's default branch. Unless `fetched` (the mirror was fetched a moment ago), the mirror is
 * fetched while the files are checked out; when that moved the start, the new worktree is reset to
 * it (it holds nothing yet), or made again when the start is another ref now. On a failed fetch the
 * worktree (and the branch it made) is removed and REPOSITORY_UNAVAILABLE thrown, as if the fetch
 * had come first. REPOSITORY_EMPTY when there is nothing to start from; GIT_FAILED when git refuses.
 */
export async function addWorktree(mirror: string, path: string, branch: string, fetched: boolean, timeoutMs?: number): Promise<void> {
  let start = await startPoint(mirror, branch);
  if (fetched || !start) {
    if (!fetched) await fetchMirror(mirror, timeoutMs);
    start ??= await startPoint(mirror, branch);
    if (!start) throw new SandboxError('REPOSITORY_EMPTY', 'the repository has no default branch to start a new branch from');
    return register(mirror, path, branch, start, true, timeoutMs);
  }
  // Registered first and checked out after: a fetch beside `git worktree add` itself fails on the
  // new worktree's HEAD, which git writes invalid until the checkout is done ("bad object").
  await register(mirror, path, branch, start, false, timeoutMs);
  // The mirror's own branch is what it is whatever the remote did; else the start is looked up again
  // among the remote's refs (the local branch exists now).
  const [checkedOut, latest] = await Promise.allSettled([
    gitOr('GIT_FAILED', ['reset', '--hard', '--quiet'], { cwd: path, timeoutMs }),
    fetchMirror(mirror, timeoutMs).then(() => (start.kind === 'local' ? start : startPoint(mirror, branch, true))),
  ]);
  if (latest.status === 'rejected' || checkedOut.status === 'rejected') {
    await undo(mirror, path, branch, start);
    throw latest.status === 'rejected' ? latest.reason : (checkedOut as PromiseRejectedResult).reason;
  }
  const now = latest.value;
  // The fetch is the only writer of the remote's refs (the caller holds the mirror): an unchanged
  // ref means the worktree has that commit.
  if (now?.ref === start.ref && now.commit === start.commit) return;
  if (now?.ref === start.ref) {
    await gitOr('GIT_FAILED', ['reset', '--hard', '--quiet', now.commit], { cwd: path, timeoutMs });
    return;
  }
  await undo(mirror, path, branch, start);
  if (!now) throw new SandboxError('REPOSITORY_EMPTY', 'the repository has no default branch to start a new branch from');
  await register(mirror, path, branch, now, true, timeoutMs);
}

/**
 * Whether the worktree at `path` was checked out: git has its index. An ensure stopped before that
 * leaves a registered worktree without one (and its files not all there).
 */
export async function checkedOut(path: string): Promise<boolean> {
  const link = await readFile(join(path, '.git'), 'utf8').catch(() => '');
  const gitDir = /^gitdir: (.+)$/m.exec(link)?.[1];
  return gitDir ? exists(join(resolve(path, gitDir), 'index')) : false;
}

/** Removes a worktree of the mirror, files and registration (its commits stay in the mirror). */
export async function removeWorktree(mirror: string, path: string): Promise<void> {
  await git(['worktree', 'remove', '--force', path], { cwd: mirror }).catch(() => undefined);
  await rm(path, { recursive: true, force: true });
  await git(['worktree', 'prune'], { cwd: mirror }).catch(() => undefined);
}

/**
 * The branch's start in the mirror, in one git call (undefined: the mirror has no branch at all);
 * with `remoteOnly`, among the remote's refs only.
 */
async function startPoint(mirror: string, branch: string, remoteOnly = false): Promise<StartPoint | undefined> {
  const candidates: [StartPoint['kind'], string][] = [
    ...(remoteOnly ? [] : [['local', `refs/heads/${branch}`] as [StartPoint['kind'], string]]),
    ['remote', `refs/remotes/origin/${branch}`],
    ['default', 'refs/remotes/origin/HEAD'],
  ];
  const listed = await git(['for-each-ref', '--format=%(objectname) %(refname)', ...candidates.map(([, ref]) => ref)], { cwd: mirror });
  // A pattern also matches the refs below it (refs/heads/a matches refs/heads/a/b): exact names only.
  const commits = new Map(listed.split('\n').filter(Boolean).map((line) => [line.slice(line.indexOf(' ') + 1), line.slice(0, line.indexOf(' '))]));
  for (const [kind, ref] of candidates) {
    const commit = commits.get(ref);
    if (commit) return { kind, ref, commit };
  }
  return undefined;
}

/**
 * `git worktree add` from `start`, its files checked out or (`checkout` false) not yet; once more
 * after `git worktree prune` if a stale registration (a worktree folder removed by hand) is in the way.
 */
async function register(mirror: string, path: string, branch: string, start: StartPoint, checkout: boolean, timeoutMs?: number): Promise<void> {
  const args = [
    'worktree',
    'add',
    '--quiet',
    ...(checkout ? [] : ['--no-checkout']),
    ...(start.kind === 'local' ? [path, branch] : [start.kind === 'remote' ? '--track' : '--no-track', '-b', branch, path, start.ref]),
  ];
  await rm(path, { recursive: true, force: true });
  try {
    await git(args, { cwd: mirror, timeoutMs });
  } catch {
    await git(['worktree', 'prune'], { cwd: mirror }).catch(() => undefined);
    await rm(path, { recursive: true, force: true });
    // A branch the failed attempt made (it did not exist before it).
    if (start.kind !== 'local') await git(['branch', '-D', '--quiet', branch], { cwd: mirror }).catch(() => undefined);
    await gitOr('GIT_FAILED', args, { cwd: mirror, timeoutMs });
  }
}

/** Takes back a worktree just made: its files, its registration, and the branch it made. */
async function undo(mirror: string, path: string, branch: string, start: StartPoint): Promise<void> {
  await removeWorktree(mirror, path);
  if (start.kind !== 'local') await git(['branch', '-D', '--quiet', branch], { cwd: mirror }).catch(() => undefined);
}
