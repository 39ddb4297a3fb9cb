/**
 * What kind of trouble a run's `error` event reports, from its code and message as the CLI gave
 * them: the model API could not be reached, it refused the credentials, it is rate-limiting, or it
 * answered with another HTTP error. Each kind has its own advice: "check the API key" is wrong
 * advice when the API never answered. Node-free (the web bundle uses it).
 *
 * The CLIs word these differently ("Unable to connect to API (ConnectionRefused)", "API Error: 401
 * …", "429 Too Many Requests", "fetch failed"); the patterns are checked in this order, so a
 * connection failure whose message mentions the API key is still a connection failure.
 */

export type ApiErrorKind = 'connection' | 'auth' | 'rate-limit' | 'http' | 'other';

const PATTERNS: readonly [ApiErrorKind, RegExp][] = [
  ['connection', /ConnectionRefused|ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|unable to connect|could not connect|failed to connect|connection (refused|reset|error|closed)|socket hang up|fetch failed|network error|getaddrinfo|certificate|self[- ]signed/i],
  ['rate-limit', /\b429\b|rate[ _-]?limit|too many requests|quota|resource[ _]exhausted|usage limit/i],
  ['auth', /\b401\b|\b403\b|unauthori[sz]ed|authenticat|invalid[ _-]?(x-)?api[ _-]?key|api[ _-]?key.*(invalid|missing)|forbidden|not logged in|please (run )?\/?login|credentials?/i],
  ['http', /\b[45]\d\d\b|api[ _]error|overloaded|internal server error|bad gateway|service unavailable/i],
];

/** The advice for each kind, said after the CLI's own message. */
export const API_ERROR_ADVICE: Record<ApiErrorKind, string> = {
  connection: 'The CLI could not reach the model API: it never answered. Check the machine\'s network or proxy, and the API address the CLI uses (for example ANTHROPIC_BASE_URL).',
  auth: 'The model API refused the CLI\'s credentials. Log the CLI in on the machine, or give linkd the API key in its environment (for example ANTHROPIC_API_KEY) and restart it.',
  'rate-limit': 'The model API is rate-limiting this account or its quota is used up. Wait a little and send again, or check the account\'s usage limits.',
  http: 'The model API answered with an error. Send again in a moment; if it keeps happening, check the provider\'s status page.',
  other: '',
};

/** What kind of trouble an error event with this code and message reports. */
export function classifyApiError(code: string, message: string): ApiErrorKind {
  const text = `${code} ${message}`;
  for (const [kind, pattern] of PATTERNS) if (pattern.test(text)) return kind;
  return 'other';
}
