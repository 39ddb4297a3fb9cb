/**
 * Gemini CLI's quota errors (0.61, ACP). The API refuses with 429 RESOURCE_EXHAUSTED, a
 * `QuotaFailure` and `RetryInfo.retryDelay`; with its attempts used up the CLI answers the
 * session/prompt request with the JSON-RPC error
 *
 *   {"code":429,"message":"You exceeded your current quota, …\nSuggested retry after 30s."}
 *
 * The reset is the suggested delay from now; without one, unknown (the control plane waits its
 * default). Gemini reports nothing about its quota before it is used up, and it saves no session
 * whose first turn was refused: such a run's `done` names no session (the continuation starts a
 * new one with the original prompt).
 */
import { UsageLimitStatus } from '../../gen/link/v1/run_pb.js';
import type { EventInit } from '../runs/outbox.js';
import type { AcpError } from './gemini-acp.js';
import type { UsageLimitWatch } from './usage-limit.js';

/** An error answer of the CLI: the `usage_limit` event (and the run marked as limited) when it is a quota error. */
export function geminiQuotaError(error: AcpError, watch: UsageLimitWatch, now = Date.now()): EventInit[] {
  // A bare 429 (no quota in its words) is a rate limit like any other API error.
  const quota = /\bquota\b|Suggested retry after/i.test(error.message);
  if (!quota) return [];
  const delay = /retry (?:after|in) (\d+(?:\.\d+)?)\s*s/i.exec(error.message) ?? /"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"/.exec(JSON.stringify(error.data ?? ''));
  const resetsAt = delay ? new Date(now + Math.ceil(Number(delay[1])) * 1000) : undefined;
  const event = watch.report({ status: UsageLimitStatus.REACHED, resetsAt, window: 'quota' });
  watch.hit(error.message.split('\n')[0] + (delay ? ` Suggested retry after ${delay[1]}s.` : ''), resetsAt);
  return [event];
}
