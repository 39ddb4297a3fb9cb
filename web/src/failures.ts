/**
 * Why a run failed, in plain words, by the failure reason it ended with (common/reasons.ts
 * `RunFailure`, and the `DispatchRefusal` of a run linkd refused). A `Record` over the tables: a
 * reason added there without an explanation here does not compile. A run's `error` events are
 * explained by what kind of trouble they report (`common/api-errors.ts`), and so is an API_ERROR
 * ending: a connection failure is not "the API answered".
 */
import { isDispatchRefusal, isRunFailure, RunFailure, type DispatchRefusal } from '../../common/reasons.js';
import { API_ERROR_ADVICE, classifyApiError } from '../../common/api-errors.js';
import type { RunEvent } from '../../gen/link/v1/run_pb.js';

const NOT_TRUSTED = 'The machine did not trust this dispatch, so it did not run it. If this persists, pair the machine again.';

export const RUN_FAILURE_EXPLANATIONS: Record<RunFailure | DispatchRefusal, string> = {
  API_ERROR: 'The model API answered with an error (see above). Check the CLI\'s login or API key on the machine.',
  EXIT_CODE: 'The command exited with an error.',
  NO_RESULT: 'The CLI stopped without finishing its answer.',
  LINK_LOST: 'The machine disconnected and did not come back in time.',
  AGENT_RESTARTED: 'linkd restarted on the machine while this was running.',
  IDLE_TIMEOUT: 'Nothing happened for too long, so the run was stopped.',
  SANDBOX_FAILED: 'The run\'s sandbox could not be prepared on the machine (see above).',
  SETUP_FAILED: 'The worktree\'s set-up command failed (see above).',
  HARNESS_ERROR: 'The CLI could not be started on the machine.',
  CANCELLED: 'The run was stopped.',
  INTERRUPTED: 'You interrupted the turn. The session is kept: your next message continues it.',
  USAGE_LIMIT: 'The agent hit its usage limit on this machine.',
  EXPIRED: 'It expired before the machine could take it, so it never ran.',
  AGENT_STOPPED: 'linkd was stopped on the machine.',
  REJECTED: 'The machine refused the run.',
  CAPACITY: 'The machine was already running as many runs as it allows.',
  CAPABILITY_MISSING: 'The CLI is not installed on the machine.',
  DRAINING: 'linkd on the machine was shutting down and took no new runs. Send again once it is back.',
  BAD_PAYLOAD: 'The machine could not read what to run (its linkd may be older or newer than the server).',
  NO_KEY: 'The machine is not paired properly, so it refuses runs. Pair it again ("Connect a machine", then `linkd login --code …`).',
  KEY_MISMATCH: 'The machine does not recognise this server\'s signing key, so it refuses runs. If the server is yours, pair the machine again.',
  BAD_SIGNATURE: NOT_TRUSTED,
  MALFORMED: NOT_TRUSTED,
  WRONG_LINK: NOT_TRUSTED,
  WRONG_SESSION: 'The machine reconnected while the run was being sent. Send again.',
  STALE: 'The machine\'s clock is too far from the server\'s, so it refused the run. Check the machine\'s clock.',
  REPLAYED: NOT_TRUSTED,
};

/** A run's failure reason in plain words; one this page does not know (from a newer server) as sent. */
export function explainFailure(reason: string): string {
  if (isRunFailure(reason) || isDispatchRefusal(reason)) return RUN_FAILURE_EXPLANATIONS[reason];
  if (reason.startsWith('KILLED_BY_')) return `The CLI was killed by ${reason.slice('KILLED_BY_'.length)}.`;
  return reason;
}

/** A run's error event in plain words: the CLI's own message, then the advice for its kind (`common/api-errors.ts`). */
export function explainError(code: string, message: string): string {
  if (code === RunFailure.LinkLost) return explainFailure(code);
  const advice = API_ERROR_ADVICE[classifyApiError(code, message)];
  return advice ? `${message || code} — ${advice}` : message || code;
}

/**
 * Why a failed run failed: for API_ERROR, said by what its error events were (a connection failure
 * is not "the API answered"); otherwise by its failure reason.
 */
export function explainDone(failureReason: string, events: RunEvent[]): string {
  if (failureReason === RunFailure.ApiError) {
    const last = events.findLast((e) => e.event.case === 'error');
    const kind = last?.event.case === 'error' ? classifyApiError(last.event.value.code, last.event.value.message) : 'other';
    if (kind === 'connection') return 'The model API could not be reached (see above).';
    if (kind === 'rate-limit') return 'The model API is rate-limiting (see above).';
    if (kind === 'http') return 'The model API answered with an error (see above).';
  }
  return explainFailure(failureReason);
}

/** An error event with nothing to say (a stopped CLI's last words): not shown when the run was stopped. */
export function isEmptyError(code: string, message: string): boolean {
  return !message.trim() || message.trim() === code || /^error$/i.test(message.trim());
}
