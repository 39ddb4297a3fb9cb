/**
 * The API's errors in plain words, by their machine-readable reason (common/reasons.ts `Reason`).
 * A `Record` over the table: a reason added there without an explanation here does not compile.
 * Each takes the server's message, for the reasons whose message says what to fix.
 */
import { ConnectError } from '@connectrpc/connect';
import { reasonOf } from '../../common/errors.js';
import { isReason, type Reason } from '../../common/reasons.js';

const asSent = (m: string) => m;

export const API_EXPLANATIONS: Record<Reason, (message: string) => string> = {
  UNAUTHENTICATED: () => 'Your session ended. Log in again.',
  CROSS_ORIGIN: () => 'This request came from another site, so Link refused it. Open Link from its own address.',
  PROTOCOL_MISMATCH: asSent,
  HELLO_REQUIRED: asSent,
  HELLO_TIMEOUT: asSent,
  UNEXPECTED_FRAME: asSent,
  SUPERSEDED: asSent,
  HEARTBEAT_MISSED: asSent,
  MESSAGE_TOO_LARGE: (m) => `That is too large to send: ${m}`,
  MALFORMED_MESSAGE: asSent,
  JSON_REQUIRED: asSent,
  INVALID_FIELD: asSent,
  LINK_NOT_FOUND: () => 'That machine is not connected to your account (any more).',
  DRAINING: () => 'The server is restarting. Try again in a moment.',
  REGISTRY_UNAVAILABLE: () => 'The server cannot reach its machine registry right now. Try again in a moment.',
  OVERLOADED: () => 'The server is busy. Try again in a moment.',
  LINK_REVOKED: () => 'That machine was disconnected from your account. Connect it again to use it.',
  PAIRING_CODE_INVALID: () => 'That pairing code is not known. Check it, or start pairing again.',
  PAIRING_CODE_USED: () => 'That pairing code was already used. Start pairing again for a new one.',
  PAIRING_CODE_EXPIRED: () => 'That pairing code expired. Start pairing again for a new one.',
  RATE_LIMITED: () => 'Too many attempts. Wait a little, then try again.',
  ADMIN_REQUIRED: () => 'Only an admin can do that.',
  USER_EXISTS: asSent,
  TOKEN_EXPIRED: () => 'Your session expired. Log in again.',
  USER_DISABLED: () => 'An admin disabled your user. Ask them to enable it again.',
  TOKEN_NOT_FOUND: asSent,
  USER_NOT_FOUND: asSent,
  CANNOT_DISABLE_SELF: () => 'You cannot disable your own user.',
  THREAD_NOT_FOUND: () => 'That thread no longer exists.',
  RUN_NOT_FOUND: () => 'That run no longer exists.',
  THREAD_PINNED: () => 'This thread is tied to its agent, machine and branch. Start a new thread to use others.',
  THREAD_BUSY: () => 'A run is still in progress in this thread. Wait for it to finish, or stop it.',
  LINK_OFFLINE: () => 'That machine is offline. Start linkd on it (`linkd start`), then send again.',
  LINK_NOT_PAIRED: () => 'That machine cannot run: it is not paired properly. Pair it again ("Connect a machine", then `linkd login --code …` on it), then send again.',
  CAPABILITY_MISSING: (m) => `That machine cannot run this: ${m}`,
  MESSAGE_STARTED: () => 'That message has already started (or was withdrawn or expired), so it can no longer be changed.',
  MESSAGE_NOT_FOUND: () => 'That message no longer exists.',
  EXPIRED: () => 'That message expired before its machine could run it, so it never ran. Send it again if you still want it.',
  RUN_NOT_RUNNING: () => 'That run has already ended.',
  STEER_UNSUPPORTED: () => 'This agent takes no messages during a turn: the message runs after it.',
  // Worded for the Changes panel and the machine card, where these reach the user.
  SANDBOX_NOT_FOUND: () => 'The worktree is not on the machine any more; the next message makes it again.',
  SANDBOX_BUSY: () => 'A run is using this sandbox. Wait for it to finish, or stop it, then try again.',
  SANDBOX_FAILED: (m) => `The machine could not do that to the sandbox: ${m}`,
  REPOSITORY_UNAVAILABLE: (m) => `The machine cannot fetch the repository: ${m}`,
  REPOSITORY_EMPTY: () => 'The repository has no default branch to start a new branch from.',
  SETUP_FAILED: (m) => `The worktree's set-up command failed: ${m}`,
  LINK_TIMEOUT: () => 'The machine did not answer in time. Try again.',
  NOT_A_REPOSITORY: () => 'This sandbox is a plain directory, not a git repository: it has no diff to show.',
  NO_BASE_COMMIT: () => 'Nothing to compare yet: no run has been recorded in this worktree.',
  NOTHING_TO_COMMIT: () => 'There is nothing to commit: the worktree has no changes.',
  PUSH_FAILED: (m) => `The remote refused the push: ${m}`,
  GIT_FAILED: (m) => `git failed on the machine: ${m}`,
  UNSAFE_REPOSITORY_CONFIG: asSent,
  ALREADY_ANSWERED: () => 'This was already answered (the answer shown is the one the agent got).',
  INTERACTION_WITHDRAWN: () => 'The agent withdrew this request before it was answered.',
  INTERACTION_NOT_FOUND: () => 'This request no longer exists.',
  RUN_FINISHED: () => 'The run has ended; there is nothing left to answer.',
  AUTO_NEEDS_CONFIRMATION: () => 'Allowing everything outside a bwrap sandbox needs your confirmation.',
  INTERNAL: (m) => `Something went wrong on the server (${m}).`,
};

/** An error of an API call in plain words: its reason's explanation, or the server's message. */
export function explain(error: unknown): string {
  const e = ConnectError.from(error);
  const reason = reasonOf(e);
  return (reason && isReason(reason) && API_EXPLANATIONS[reason](e.rawMessage)) || e.rawMessage;
}
