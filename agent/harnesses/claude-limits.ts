/**
 * Claude Code's usage limits (2.1.x). For a subscriber (an OAuth login) the CLI reads the
 * `anthropic-ratelimit-unified-*` headers of every model answer and prints, when they change,
 *
 *   {"type":"rate_limit_event","rate_limit_info":{"status":"allowed"|"allowed_warning"|"rejected",
 *     "resetsAt":<unix s>,"rateLimitType":"five_hour"|"seven_day"|…,"utilization":<0..1>?}}
 *
 * and a request refused at the limit (429) ends the turn with a `result` whose `is_error` is set,
 * `api_error_status` 429 and `result` in its words: "You've hit your session limit · resets 3:28pm
 * (UTC)". With an API key the CLI reads no such headers: a 429 is then a plain rate limit
 * ("API Error: Request rejected (429) · …"), not a usage limit.
 */
import { UsageLimitStatus } from '../../gen/link/v1/run_pb.js';
import type { EventInit } from '../runs/outbox.js';
import { dateOfUnix, type UsageLimitWatch } from './usage-limit.js';

const STATUS: Record<string, UsageLimitStatus> = {
  allowed: UsageLimitStatus.OK,
  allowed_warning: UsageLimitStatus.WARNING,
  rejected: UsageLimitStatus.REACHED,
};

/** A `rate_limit_event` line: its `usage_limit` event (none for a status Link does not know). */
export function claudeRateLimitEvent(message: Record<string, unknown>, watch: UsageLimitWatch): EventInit[] {
  const info = (message.rate_limit_info ?? {}) as { status?: string; resetsAt?: unknown; rateLimitType?: unknown; utilization?: unknown };
  const status = STATUS[String(info.status)];
  if (status === undefined) return [];
  const used = typeof info.utilization === 'number' ? Math.round(info.utilization * 1000) / 10 : undefined;
  return [watch.report({ status, resetsAt: dateOfUnix(info.resetsAt), usedPercent: used, window: typeof info.rateLimitType === 'string' ? info.rateLimitType : '' })];
}

/** A `result` that failed: marks the run as refused at the limit when it was a 429 at the usage limit. */
export function claudeLimitResult(message: Record<string, unknown>, watch: UsageLimitWatch): void {
  if (message.api_error_status !== 429) return;
  const words = typeof message.result === 'string' ? message.result : '';
  if (watch.lastStatus === UsageLimitStatus.REACHED || /\b(hit|reached) your .*limit/i.test(words)) watch.hit(words || 'Claude Code reached its usage limit');
}
