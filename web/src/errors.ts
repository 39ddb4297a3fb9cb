/** The API's errors in plain words, by their machine-readable reason. */
import { ConnectError } from '@connectrpc/connect';
import { reasonOf } from '../../common/errors.js';

const MESSAGES: Record<string, (message: string) => string> = {
  LINK_OFFLINE: () => 'That machine is offline. Start linkd on it (`linkd start`), then send again.',
  LINK_NOT_PAIRED: () => 'That machine cannot run: it is not paired properly. Pair it again ("Connect a machine", then `linkd login --code …` on it), then send again.',
  CAPABILITY_MISSING: (m) => `That machine cannot run this: ${m}`,
  THREAD_PINNED: () => 'This thread is tied to its agent, machine and branch. Start a new thread to use others.',
  THREAD_BUSY: () => 'A run is still in progress in this thread. Wait for it to finish, or stop it.',
  INVALID_FIELD: (m) => m,
  SANDBOX_BUSY: () => 'A run is using this sandbox. Wait for it to finish, or stop it, then try again.',
  NOTHING_TO_COMMIT: () => 'There is nothing to commit: the worktree has no changes.',
  PUSH_FAILED: (m) => `The remote refused the push: ${m}`,
  NO_BASE_COMMIT: () => 'Nothing to compare yet: no run has been recorded in this worktree.',
  NOT_A_REPOSITORY: () => 'This sandbox is a plain directory, not a git repository: it has no diff to show.',
  SANDBOX_NOT_FOUND: () => 'The worktree is not on the machine any more; the next message makes it again.',
  UNAUTHENTICATED: () => 'Your session ended. Log in again.',
};

export function explain(error: unknown): string {
  const e = ConnectError.from(error);
  const reason = reasonOf(e);
  return (reason && MESSAGES[reason]?.(e.rawMessage)) || e.rawMessage;
}
