/**
 * Codex's usage limits (0.171, app-server). The server reads the model API's `x-codex-primary-*` /
 * `x-codex-secondary-*` headers (used percent, window minutes, reset at) and reports them as
 *
 *   account/rateLimits/updated {rateLimits: {primary: {usedPercent, windowDurationMins, resetsAt},
 *                               secondary: {…}, rateLimitReachedType}}
 *
 * and a request refused at the limit (429 `usage_limit_reached` with `resets_at`) fails the turn:
 * `error` and `turn/completed` carry `{message: "You’ve hit your usage limit. … try again at 3:29
 * PM.", codexErrorInfo: "usageLimitExceeded"}`. The reset comes from the rate-limit report that
 * precedes it (the message names only a wall-clock time).
 */
import type { EventInit } from '../runs/outbox.js';
import { dateOfUnix, statusOfPercent, type UsageLimitWatch } from './usage-limit.js';

interface CodexWindow {
  usedPercent?: number;
  windowDurationMins?: number;
  resetsAt?: number;
}

/** An account/rateLimits/updated notification: one `usage_limit` event for its fullest window. */
export function codexRateLimits(params: Record<string, unknown>, watch: UsageLimitWatch): EventInit[] {
  const limits = (params.rateLimits ?? {}) as { primary?: CodexWindow | null; secondary?: CodexWindow | null; rateLimitReachedType?: unknown };
  const windows = (['primary', 'secondary'] as const).flatMap((name) => {
    const w = limits[name];
    return w && typeof w.usedPercent === 'number' ? [{ name, ...w, usedPercent: w.usedPercent }] : [];
  });
  if (windows.length === 0) return [];
  const fullest = windows.reduce((a, b) => (b.usedPercent > a.usedPercent ? b : a));
  return [watch.report({ status: statusOfPercent(fullest.usedPercent), resetsAt: dateOfUnix(fullest.resetsAt), usedPercent: fullest.usedPercent, window: windowName(fullest.name, fullest.windowDurationMins) })];
}

/** An `error` notification's or failed turn's error: marks the run as refused at the limit when it says so. */
export function codexLimitError(error: unknown, watch: UsageLimitWatch): void {
  const { message, codexErrorInfo } = (error ?? {}) as { message?: unknown; codexErrorInfo?: unknown };
  if (codexErrorInfo === 'usageLimitExceeded') watch.hit(typeof message === 'string' && message ? message : 'Codex reached its usage limit');
}

/** "5h", "weekly", or the window's place when its length is unusual. */
function windowName(place: string, minutes: number | undefined): string {
  if (minutes === 300) return '5h';
  if (minutes === 10080) return 'weekly';
  return minutes ? `${place} (${minutes} min)` : place;
}
