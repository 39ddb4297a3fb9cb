/**
 * What linkctl says about usage limits: a run's state with its reset ("parked_limit until
 * 14:05", "continues run_…"), and `--resume-after-limit on|off` for `threads update`.
 */
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { RunState, UsageLimitStatus, type Run, type RunDone, type Thread, type UsageLimit } from '../gen/link/v1/run_pb.js';

/** A time of day in local time (and the date when it is not today). */
function clock(date: Date): string {
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return date.toDateString() === new Date().toDateString() ? time : `${date.toLocaleDateString()} ${time}`;
}

/** What `runs list` adds to a run's state: when a limit resets, and what a continuation continues. */
export function runLimitNote(run: Run): string {
  const notes: string[] = [];
  if (run.limitResetsAt && (run.state === RunState.PARKED_LIMIT || run.failureReason === 'USAGE_LIMIT')) {
    notes.push(`${run.state === RunState.PARKED_LIMIT ? 'until' : 'limit resets'} ${clock(timestampDate(run.limitResetsAt))}`);
  }
  if (run.continuesRunId) notes.push(`continues ${run.continuesRunId}`);
  return notes.length ? ` (${notes.join(', ')})` : '';
}

/** What `threads list` adds for a thread parked at the limit. */
export function threadLimitNote(thread: Thread): string {
  return thread.resumesAt ? ` (continues at ${clock(timestampDate(thread.resumesAt))})` : '';
}

/** A `usage_limit` event, as `runs watch` prints it ("usage limit reached (five_hour), resets 14:05"). */
export function describeLimit(limit: UsageLimit): string {
  const how = limit.status === UsageLimitStatus.REACHED ? 'reached' : limit.status === UsageLimitStatus.WARNING ? 'near' : 'ok';
  const used = limit.usedKnown ? ` ${Math.round(limit.usedPercent)} % used` : '';
  const window = limit.window ? ` (${limit.window})` : '';
  return `usage limit ${how}${window}${used}${limit.resetsAt ? `, resets ${clock(timestampDate(limit.resetsAt))}` : ''}`;
}

/** What a `done` at the usage limit adds: when the limit resets, and the CLI's words. */
export function doneLimitNote(done: RunDone): string {
  if (done.failureReason !== 'USAGE_LIMIT') return '';
  return `${done.limitResetsAt ? `; the limit resets ${clock(timestampDate(done.limitResetsAt))}` : ''}${done.message ? `: ${done.message}` : ''}`;
}

/** `on` / `off` as a boolean; anything else is refused. */
export function onOff(value: string): boolean {
  if (value === 'on') return true;
  if (value === 'off') return false;
  throw new Error('--resume-after-limit must be on or off');
}
