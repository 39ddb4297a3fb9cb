/**
 * The bare mirrors of remote repositories (`<data>/mirrors/<hash>.git`, one per repository URL) and
 * the worktrees made from them. The caller serializes operations on one mirror
 * (`SandboxKeeper.withMirror`); nothing here runs two of them on one mirror, except what
 * `addWorktree` asks of the remote beside the checkout of a new worktree's files.
 *
 * When the network is contacted: a new mirror is fetched once as it is made. A new worktree from
 * the remote's branches asks the remote while it checks out what the mirror knows, and is brought to
 * what the remote has now if that moved, so it always starts from the remote's state at the ensure
 * (as when a fetch came first): a mirror fetched a moment ago is asked only for the refs the start
 * is read from (`git ls-remote`, and a fetch only if they moved); another is fetched. A new
 * worktree of the mirror's own branch, and an existing worktree, wait for nothing from the remote
 * (the keeper refreshes the mirror afterwards, see `SandboxKeeper.refreshLater`).
 */
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { exists } from '../../common/files.js';
import { SandboxError } from '../../common/sandbox-names.js';
import { git, gitOr } from './git.js';

/**
 * How current the mirror is as a new worktree is added: `fetched` a moment ago (it was made now),
 * `recent` (fetched a short while ago: its refs are probably the remote's), or `stale`.
 */
export type MirrorState = 'fetched' | 'recent' | 'stale';

/**
 * git's parallel checkout for a new worktree's files (`git -c checkout.workers=N`): from 100 files
 * on (git's threshold), that many worker processes, one per core up to 8, write them side by side.
 * It pays where writing a file waits on the file system or for a core (a disk, a busy machine);
 * on a RAM disk of an otherwise idle machine one process is about as fast.
 */
const CHECKOUT = ['-c', `checkout.workers=${Math.min(availableParallelism(), 8)}`];

/** Where a new worktree's branch starts: its own branch, the remote's branch, or the remote's default. */
interface StartPoint {
  kind: 'local' | 'remote' | 'default';
  ref: string;
  commit: string;
  /** The remote's branch the start is read from (`refs/heads/…`), for the remote's kinds. */
  upstream?: string;
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

/**
 * Fetches the mirror from its remote (pruning branches gone there). REPOSITORY_UNAVAILABLE on
 * failure. With `maintenance` false, git's automatic maintenance (`git maintenance run --auto`,
 * which may repack) is left to the caller, who runs `maintainMirror` when nothing waits.
 */
export async function fetchMirror(mirror: string, timeoutMs?: number, maintenance = true): Promise<void> {
  const args = ['fetch', '--prune', '--quiet', '--no-write-fetch-head', ...(maintenance ? [] : ['--no-auto-maintenance']), 'origin'];
  await gitOr('REPOSITORY_UNAVAILABLE', args, { cwd: mirror, timeoutMs });
}

/** git's automatic maintenance of the mirror, as a fetch would have run it. GIT_FAILED on failure. */
export async function maintainMirror(mirror: string, timeoutMs?: number): Promise<void> {
  await gitOr('GIT_FAILED', ['maintenance', 'run', '--auto', '--quiet'], { cwd: mirror, timeoutMs });
}

/**
 * Adds a worktree of `mirror` at `path` on `branch`: the mirror's own branch when it has one (left
 * as it is: it may hold commits; nothing is asked of the remote), else a new branch tracking the
 * remote's, else a new branch from the remote's default branch. Unless the mirror was `fetched` a
 * moment ago, the remote is asked while the files are checked out: a `recent` mirror's start is
 * checked against the remote's refs (one listing) and fetched only if it moved, a `stale` one is
 * fetched. When the start moved, the new worktree is reset to it (it holds nothing yet), or made
 * again when the start is another ref now. When the remote cannot be reached the worktree (and the
 * branch it made) is removed and REPOSITORY_UNAVAILABLE thrown, as if the fetch had come first.
 * REPOSITORY_EMPTY when there is nothing to start from; GIT_FAILED when git refuses. Resolves to
 * whether the mirror was fetched without its maintenance (the caller owes `maintainMirror` then).
 */
export async function addWorktree(mirror: string, path: string, branch: string, state: MirrorState, timeoutMs?: number): Promise<boolean> {
  let start = await startPoint(mirror, branch);
  if (state === 'fetched' || !start) {
    if (state !== 'fetched') await fetchMirror(mirror, timeoutMs, false);
    start ??= await startPoint(mirror, branch);
    if (!start) throw new SandboxError('REPOSITORY_EMPTY', 'the repository has no default branch to start a new branch from');
    await register(mirror, path, branch, start, true, timeoutMs);
    return state !== 'fetched';
  }
  // Registered first and checked out after: a fetch beside `git worktree add` itself fails on the
  // new worktree's HEAD, which git writes invalid until the checkout is done ("bad object").
  await register(mirror, path, branch, start, false, timeoutMs);
  // The mirror's own branch is what it is whatever the remote did.
  const [checkedOut, latest] = await Promise.allSettled([
    gitOr('GIT_FAILED', [...CHECKOUT, 'reset', '--hard', '--quiet'], { cwd: path, timeoutMs }),
    start.kind === 'local' ? { start, fetched: false } : remoteStart(mirror, branch, start, state === 'recent', timeoutMs),
  ]);
  if (latest.status === 'rejected' || checkedOut.status === 'rejected') {
    await undo(mirror, path, branch, start);
    throw latest.status === 'rejected' ? latest.reason : (checkedOut as PromiseRejectedResult).reason;
  }
  const { start: now, fetched } = latest.value;
  // The fetch is the only writer of the remote's refs (the caller holds the mirror): an unchanged
  // ref means the worktree has that commit.
  if (now?.ref === start.ref && now.commit === start.commit) return fetched;
  if (now?.ref === start.ref) {
    await gitOr('GIT_FAILED', ['reset', '--hard', '--quiet', now.commit], { cwd: path, timeoutMs });
    return fetched;
  }
  await undo(mirror, path, branch, start);
  if (!now) throw new SandboxError('REPOSITORY_EMPTY', 'the repository has no default branch to start a new branch from');
  await register(mirror, path, branch, now, true, timeoutMs);
  return fetched;
}

/**
 * Where a new branch starts now that the remote has been asked (`start`: where it started from the
 * mirror's refs): for a `recent` mirror, `start` itself when the remote still has that commit
 * where `start` read it (and, for the default's kind, still no branch of that name); else the
 * start among the refs of a fetch (without its maintenance: `fetched` says so).
 */
async function remoteStart(mirror: string, branch: string, start: StartPoint, recent: boolean, timeoutMs?: number): Promise<{ start: StartPoint | undefined; fetched: boolean }> {
  if (recent && start.upstream) {
    const wanted = [...new Set([`refs/heads/${branch}`, start.upstream])];
    const listed = await gitOr('REPOSITORY_UNAVAILABLE', ['ls-remote', '--quiet', 'origin', ...wanted], { cwd: mirror, timeoutMs });
    const remote = refsOf(listed);
    // A default's start moves when the remote has the branch now, a remote one when it has not.
    const unmoved = remote.get(start.upstream) === start.commit && (start.kind === 'remote' || !remote.has(`refs/heads/${branch}`));
    if (unmoved) return { start, fetched: false };
  }
  await fetchMirror(mirror, timeoutMs, false);
  return { start: await startPoint(mirror, branch, true), fetched: true };
}

/** `<object> <refname> [<more>]` lines (for-each-ref, ls-remote) as refname → object, exact names only. */
function refsOf(listed: string): Map<string, string> {
  return new Map(listed.split('\n').filter(Boolean).map((line) => {
    const [commit, ref] = line.split(/[ \t]/);
    return [ref, commit];
  }));
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
  const listed = await git(['for-each-ref', '--format=%(objectname) %(refname) %(symref)', ...candidates.map(([, ref]) => ref)], { cwd: mirror });
  // A pattern also matches the refs below it (refs/heads/a matches refs/heads/a/b): exact names only.
  const commits = refsOf(listed);
  // The remote's default branch, as origin/HEAD names it (refs/remotes/origin/main).
  const defaultRef = /^\S+ refs\/remotes\/origin\/HEAD refs\/remotes\/origin\/(\S+)$/m.exec(listed)?.[1];
  for (const [kind, ref] of candidates) {
    const commit = commits.get(ref);
    if (!commit) continue;
    const upstream = kind === 'remote' ? `refs/heads/${branch}` : kind === 'default' && defaultRef ? `refs/heads/${defaultRef}` : undefined;
    return { kind, ref, commit, upstream };
  }
  return undefined;
}

/**
 * `git worktree add` from `start`, its files checked out or (`checkout` false) not yet; once more
 * after `git worktree prune` if a stale registration (a worktree folder removed by hand) is in the way.
 */
async function register(mirror: string, path: string, branch: string, start: StartPoint, checkout: boolean, timeoutMs?: number): Promise<void> {
  const args = [
    ...(checkout ? CHECKOUT : []),
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
