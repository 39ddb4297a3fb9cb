/**
 * The HTTP port's non-RPC routes: the web UI bundle, `/healthz` (the process is alive) and
 * `/readyz` (it can take work), `/metrics` (Prometheus), `/auth/login` and `/auth/logout`.
 * Anything else is 404. The routes run inside `guardHttp` (http-guard.ts): they throw `BadRequest`
 * for what the client got wrong and may throw anything else without harm to the process.
 */
import type { ServerMetrics } from './metrics.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { crossOriginRefusal, sameSecret, SESSION_COOKIE, sessionCookie } from './auth.js';
import { decodedPath, requestUrl } from './http-guard.js';
import type { Store } from './store/store.js';
import { Reason } from '../common/errors.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

export interface HttpRoutesOptions {
  /** Folder of the built web bundle (index.html and assets); undefined serves no UI. */
  webDir: string | undefined;
  /** Why the server is not ready, or undefined when it is. */
  notReadyReason: () => Promise<string | undefined>;
  store: Store;
  /** Mark the session cookie Secure (the HTTP port serves TLS). */
  secureCookies: boolean;
  /** Served at /metrics (Prometheus text format). */
  metrics?: ServerMetrics;
  /**
   * The embedded default's login secret: POST /auth/login {"loginSecret": …} with it logs the
   * browser in as the local user. Undefined: only user tokens log in.
   */
  localLoginSecret?: string;
}

/** How long a browser session lasts. */
const SESSION_TTL_MS = 30 * 24 * 3600_000;
/** Largest login request body. */
const MAX_LOGIN_BYTES = 4096;

export function httpRoutes(options: HttpRoutesOptions) {
  const root = options.webDir ? resolve(options.webDir) : undefined;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = requestUrl(req);
    if (url.pathname === '/healthz') return text(res, 200, 'ok\n');
    if (url.pathname === '/metrics' && options.metrics) {
      const body = await options.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': options.metrics.registry.contentType });
      return void res.end(body);
    }
    if (url.pathname === '/auth/login' || url.pathname === '/auth/logout') return auth(req, res, url.pathname, options);
    if (url.pathname === '/readyz') {
      const reason = await options.notReadyReason();
      return reason ? text(res, 503, `not ready: ${reason}\n`) : text(res, 200, 'ready\n');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'method not allowed\n');
    if (!root) return text(res, 404, 'this server was started without the web UI\n');
    const relative = url.pathname === '/' ? 'index.html' : decodedPath(url).replace(/^\/+/, '');
    const file = resolve(join(root, relative));
    if (!file.startsWith(root + sep)) return text(res, 404, 'not found\n');
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': relative === 'index.html' ? 'no-cache' : 'public, max-age=300',
        'x-content-type-options': 'nosniff',
        // The page may be opened with a login secret in its query: never pass the URL on.
        'referrer-policy': 'no-referrer',
        'content-security-policy':
          "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      text(res, 404, 'not found\n');
    }
  };
}

/**
 * POST /auth/login trades a credential for an HttpOnly, SameSite=Strict session cookie: a user's
 * API token (`{"token": "lu_…"}`), or the embedded default's login secret (`{"loginSecret": …}`,
 * from the login URL link-server writes to its data dir), which logs in the local user.
 * POST /auth/logout ends the browser's session. Only JSON bodies from the page's own origin are
 * accepted (`crossOriginRefusal`), so another site cannot log a browser in or out.
 */
async function auth(req: IncomingMessage, res: ServerResponse, path: string, options: HttpRoutesOptions): Promise<void> {
  if (req.method !== 'POST') return json(res, 405, { code: 'method_not_allowed', message: 'use POST' });
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
    return json(res, 415, { code: 'invalid_argument', reason: Reason.JsonRequired, message: 'send application/json' });
  }
  const refusal = crossOriginRefusal(req.headers.origin, header(req, 'sec-fetch-site'), req.headers.host);
  if (refusal) return json(res, 403, { code: 'permission_denied', reason: Reason.CrossOrigin, message: refusal });
  const cookie = (value: string, maxAge: number) =>
    `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}${options.secureCookies ? '; Secure' : ''}`;
  if (path === '/auth/logout') {
    const session = sessionCookie(req.headers.cookie);
    if (session) await options.store.deleteUserToken(session);
    res.setHeader('set-cookie', cookie('', 0));
    return json(res, 200, {});
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_LOGIN_BYTES) return json(res, 413, { code: 'resource_exhausted', reason: Reason.MessageTooLarge, message: 'request too large' }, true);
    chunks.push(chunk);
  }
  let body: { token?: unknown; loginSecret?: unknown } | null;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
  } catch {
    return json(res, 400, { code: 'invalid_argument', reason: Reason.MalformedMessage, message: 'the body is not JSON' });
  }
  if (typeof body !== 'object' || body === null) {
    return json(res, 400, { code: 'invalid_argument', reason: Reason.MalformedMessage, message: 'the body must be a JSON object' });
  }
  let user;
  if (body.loginSecret !== undefined) {
    if (typeof body.loginSecret !== 'string' || body.loginSecret.length === 0 || body.loginSecret.length > 256) {
      return json(res, 400, { code: 'invalid_argument', reason: Reason.InvalidField, message: 'loginSecret must be a string' });
    }
    if (!options.localLoginSecret || !sameSecret(body.loginSecret, options.localLoginSecret)) {
      return json(res, 401, {
        code: 'unauthenticated',
        reason: Reason.Unauthenticated,
        message: 'that login link is not valid: link-server makes a new one each time it starts (see its login-url file)',
      });
    }
    user = await options.store.localUser();
  } else {
    const token = body.token;
    if (typeof token !== 'string' || token.length === 0 || token.length > 256) {
      return json(res, 400, { code: 'invalid_argument', reason: Reason.InvalidField, message: 'token must be a string' });
    }
    user = await options.store.userByToken(token.trim());
    if (!user) return json(res, 401, { code: 'unauthenticated', reason: Reason.Unauthenticated, message: 'that token is not valid' });
  }
  const session = await options.store.addUserToken(user.id, 'session', SESSION_TTL_MS);
  res.setHeader('set-cookie', cookie(session, SESSION_TTL_MS / 1000));
  return json(res, 200, { user: { id: user.id, name: user.name } });
}

/** A request header that may be sent more than once, as one value (the first). */
function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The body of a JSON error: the gRPC code's name and a reason of the API's table, as Connect's JSON errors carry them. */
interface JsonError {
  code: string;
  /** Absent only for a wrong method (no reason of the API applies). */
  reason?: Reason;
  message: string;
}

/** A JSON answer; `close` ends the connection after it (the rest of the request body is not read). */
function json(res: ServerResponse, status: number, body: JsonError | { user: { id: string; name: string } } | Record<string, never>, close = false): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...(close ? { connection: 'close' } : {}) });
  res.end(JSON.stringify(body));
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}
