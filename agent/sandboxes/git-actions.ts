/**
 * Keeping or throwing away what runs did in a git sandbox: commit it, push its branch, or discard
 * what is not committed. linkd's own git runs these outside any bubblewrap, so hooks and the other
 * settings that would run a program from the repository are switched off (SAFE_GIT), and a
 * bubblewrap (`confined`) sandbox whose own config names a program is refused
 * (UNSAFE_REPOSITORY_CONFIG).
 */
import { SandboxError } from '../../common/sandbox-names.js';
import { pullRequestUrl, withoutCredentials } from '../../common/pull-requests.js';
import { refuseUnsafeConfig, SAFE_GIT } from './changes.js';
import { git, gitOr } from './git.js';

const TIMEOUT_MS = 120_000;

/**
 * Commits everything in the worktree (`git add -A`) on its branch with the machine's git identity.
 * NOTHING_TO_COMMIT when it is clean; GIT_FAILED (with git's words) otherwise, e.g. when the
 * machine has no `user.email`.
 */
export async function commitAll(cwd: string, message: string, confined: boolean): Promise<{ commit: string; summary: string }> {
  if (!message.trim()) throw new SandboxError('INVALID_FIELD', 'a commit message is required', 'message');
  if (confined) await refuseUnsafeConfig(cwd);
  await gitOr('GIT_FAILED', [...SAFE_GIT, 'add', '--all', '--', '.'], { cwd, timeoutMs: TIMEOUT_MS });
  const staged = await git([...SAFE_GIT, 'diff', '--cached', '--quiet'], { cwd }).then(
    () => false,
    (error: { code?: unknown }) => error.code === 1,
  );
  if (!staged) throw new SandboxError('NOTHING_TO_COMMIT', 'the worktree has no changes to commit');
  await gitOr('GIT_FAILED', [...SAFE_GIT, 'commit', '--quiet', '--no-verify', '--cleanup=strip', '-m', message], { cwd, timeoutMs: TIMEOUT_MS });
  const [commit, summary] = (await gitOr('GIT_FAILED', [...SAFE_GIT, 'log', '-1', '--format=%H%n%s'], { cwd })).split('\n');
  return { commit, summary: summary ?? '' };
}

/**
 * Pushes `branch` to the repository's `origin` with the machine's credentials (no prompt), and
 * says where to open a pull request for it. PUSH_FAILED with git's words when the remote refuses.
 */
export async function pushBranch(cwd: string, branch: string, confined: boolean): Promise<{ remoteUrl: string; branch: string; pullRequestUrl: string }> {
  if (confined) await refuseUnsafeConfig(cwd);
  const remote = (await gitOr('GIT_FAILED', [...SAFE_GIT, 'remote', 'get-url', '--push', 'origin'], { cwd })).trim();
  await gitOr('PUSH_FAILED', [...SAFE_GIT, 'push', '--quiet', '--no-verify', 'origin', `refs/heads/${branch}:refs/heads/${branch}`], { cwd, timeoutMs: TIMEOUT_MS });
  const remoteUrl = withoutCredentials(remote);
  return { remoteUrl, branch, pullRequestUrl: pullRequestUrl(remoteUrl, branch) ?? '' };
}

/** Resets the worktree to its last commit and removes untracked files (ignored ones stay). */
export async function discardChanges(cwd: string, confined: boolean): Promise<void> {
  if (confined) await refuseUnsafeConfig(cwd);
  await gitOr('GIT_FAILED', [...SAFE_GIT, 'reset', '--hard', '--quiet', 'HEAD'], { cwd, timeoutMs: TIMEOUT_MS });
  await gitOr('GIT_FAILED', [...SAFE_GIT, 'clean', '-d', '--force', '--quiet'], { cwd, timeoutMs: TIMEOUT_MS });
}
