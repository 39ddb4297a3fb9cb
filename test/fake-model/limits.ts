/**
 * The fake model's usage limits: the script line
 *
 *   LIMIT <seconds>   the next model request of this conversation fails with the dialect's real
 *                     usage-limit error, the limit resetting <seconds> from now
 *   NEAR <percent>    (with a normal answer) the dialect's "near the limit" headers, <percent> used
 *
 * in the form each real CLI recognizes (read in the CLIs' own code, 2.1.197 / 0.171.0 / 0.61.0):
 *
 *   Anthropic   429, `anthropic-ratelimit-unified-status: rejected`, `…-reset: <unix seconds>`,
 *               `…-representative-claim: five_hour`, body `rate_limit_error` (Claude Code's
 *               "You've hit your limit · resets …", and its `rate_limit_event` for a subscriber)
 *   OpenAI      429, body `{error: {type: "usage_limit_reached", resets_at, resets_in_seconds,
 *               plan_type}}` and the `x-codex-primary-*` headers (used percent, window, reset at)
 *   Gemini      429 RESOURCE_EXHAUSTED with a `QuotaFailure` and `RetryInfo.retryDelay`
 *
 * A LIMIT line (in the person's latest message) limits only while its reset lies ahead: the same
 * message sent again after the reset is answered normally, and so is a later message of the
 * conversation. The reset is fixed when the line (the whole line, so
 * give each test its own words) is first seen, so every retry sees the same reset time.
 */
import type { ServerResponse } from 'node:http';

/** The dialects the fake speaks. */
export type LimitDialect = 'anthropic' | 'openai' | 'gemini';

/** When each LIMIT line (by the prompt it is in) resets, in unix ms; fixed at its first request. */
const resets = new Map<string, number>();

/**
 * Answers `res` with the dialect's usage-limit error when the conversation says LIMIT and its
 * reset is still ahead, and returns true (the caller answers nothing else); otherwise sets the
 * NEAR headers, if asked for, on the answer to come and returns false.
 */
export function answerLimit(res: ServerResponse, dialect: LimitDialect, conversation: { prompt: string; latest: string }): boolean {
  const line = /^.*\bLIMIT (\d+).*$/m.exec(conversation.latest);
  if (!line) {
    for (const [name, value] of Object.entries(nearLimitHeaders(dialect, conversation.prompt))) res.setHeader(name, value);
    return false;
  }
  const key = `${dialect}:${line[0]}`;
  let resetAt = resets.get(key);
  if (resetAt === undefined) {
    resetAt = Date.now() + Number(line[1]) * 1000;
    resets.set(key, resetAt);
  }
  if (Date.now() >= resetAt) return false;
  const { status, headers, body } = limitError(dialect, resetAt);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
  return true;
}

/** The "near the limit" headers to add to a normal answer when the prompt says NEAR <percent>. */
export function nearLimitHeaders(dialect: LimitDialect, prompt: string): Record<string, string> {
  const near = /\bNEAR (\d+)/.exec(prompt);
  if (!near) return {};
  const percent = Number(near[1]);
  const reset = Math.floor(Date.now() / 1000) + 3600;
  if (dialect === 'anthropic') {
    return {
      'anthropic-ratelimit-unified-status': 'allowed_warning',
      'anthropic-ratelimit-unified-reset': String(reset),
      'anthropic-ratelimit-unified-representative-claim': 'five_hour',
      'anthropic-ratelimit-unified-5h-utilization': String(percent / 100),
      'anthropic-ratelimit-unified-5h-reset': String(reset),
    };
  }
  if (dialect === 'openai') return codexHeaders(percent, reset);
  return {};
}

/** One dialect's usage-limit answer, the limit resetting at `resetAt` (unix ms). */
export function limitError(dialect: LimitDialect, resetAt: number): { status: number; headers: Record<string, string>; body: unknown } {
  const resetSeconds = Math.ceil(resetAt / 1000);
  const inSeconds = Math.max(1, Math.ceil((resetAt - Date.now()) / 1000));
  if (dialect === 'anthropic') {
    return {
      status: 429,
      headers: {
        'anthropic-ratelimit-unified-status': 'rejected',
        'anthropic-ratelimit-unified-reset': String(resetSeconds),
        'anthropic-ratelimit-unified-representative-claim': 'five_hour',
        'anthropic-ratelimit-unified-5h-status': 'rejected',
        'anthropic-ratelimit-unified-5h-reset': String(resetSeconds),
        'anthropic-ratelimit-unified-5h-utilization': '1.0',
        'retry-after': String(inSeconds),
      },
      body: { type: 'error', error: { type: 'rate_limit_error', message: 'This request would exceed your account\'s rate limit. Please try again later.' } },
    };
  }
  if (dialect === 'openai') {
    return {
      status: 429,
      headers: codexHeaders(100, resetSeconds),
      body: {
        error: {
          type: 'usage_limit_reached',
          message: 'The usage limit has been reached',
          plan_type: 'plus',
          resets_at: resetSeconds,
          resets_in_seconds: inSeconds,
        },
      },
    };
  }
  return {
    status: 429,
    headers: {},
    body: {
      error: {
        code: 429,
        message: 'You exceeded your current quota, please check your plan and billing details.',
        status: 'RESOURCE_EXHAUSTED',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
            violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel', quotaValue: '2' }],
          },
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${inSeconds}s` },
        ],
      },
    },
  };
}

function codexHeaders(percent: number, resetSeconds: number): Record<string, string> {
  return {
    'x-codex-primary-used-percent': String(percent),
    'x-codex-primary-window-minutes': '300',
    'x-codex-primary-reset-at': String(resetSeconds),
    'x-codex-secondary-used-percent': '10',
    'x-codex-secondary-window-minutes': '10080',
    'x-codex-secondary-reset-at': String(resetSeconds + 7 * 86400),
  };
}
