/**
 * The one guard every request on the HTTP port runs inside: no request, however malformed, can end
 * the process. A handler that throws `BadRequest` (or whose promise rejects with one) answers 400
 * with the guard's message; anything else is a bug of ours, logged with a request id and answered
 * 500 "internal error (request id …)", with nothing internal in the answer. A request whose answer
 * had already begun when it failed has its connection closed, so no socket is left hanging.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../common/log.js';
import { Reason } from '../common/reasons.js';

/**
 * A request the client got wrong. The message is sent to the client as is, so it must say what
 * was wrong with the request in the client's terms and hold nothing from the server's inside.
 */
export class BadRequest extends Error {}

/** A request listener of the HTTP port; may be async. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/**
 * Wraps `handler` so that a synchronous throw and a rejected promise are both answered (400 or 500)
 * instead of reaching the process. Before the handler runs, the request's target and Host header
 * must make a URL (`requestUrl`), so handlers (ours and connect-node's) can rely on one.
 */
export function guardHttp(handler: HttpHandler, log: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    try {
      requestUrl(req);
      const result = handler(req, res) as PromiseLike<unknown> | undefined;
      if (result && typeof result.then === 'function') result.then(undefined, (error: unknown) => answerFailure(req, res, error, log));
    } catch (error) {
      answerFailure(req, res, error, log);
    }
  };
}

/**
 * The request's URL from its request target and Host header. Throws `BadRequest` when they do not
 * make one: no Host (HTTP/1.0), a Host that is not a host name, an absolute target that is not a URL.
 */
export function requestUrl(req: IncomingMessage): URL {
  const host = req.headers.host;
  if (!host) throw new BadRequest('a Host header is required');
  if (/[\s/?#@\\]/.test(host)) throw new BadRequest('the Host header is not a host name');
  let base: URL;
  try {
    base = new URL(`http://${host}`);
  } catch {
    throw new BadRequest('the Host header is not a host name');
  }
  try {
    return new URL(req.url ?? '/', base);
  } catch {
    throw new BadRequest('the request target is not a URL');
  }
}

/** The URL's path, percent-decoded; `BadRequest` when it is not valid UTF-8 percent-encoding or holds NUL. */
export function decodedPath(url: URL): string {
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    throw new BadRequest('the path is not valid percent-encoding');
  }
  if (path.includes('\0')) throw new BadRequest('the path holds a NUL byte');
  return path;
}

function answerFailure(req: IncomingMessage, res: ServerResponse, error: unknown, log: Logger): void {
  const path = (req.url ?? '').split('?', 1)[0].slice(0, 200);
  let status: number;
  let message: string;
  if (error instanceof BadRequest) {
    status = 400;
    message = error.message;
    log.debug({ method: req.method, path, why: message }, 'bad HTTP request');
  } else {
    const requestId = randomUUID();
    status = 500;
    message = `internal error (request id ${requestId})`;
    // The path without its query: a login link's secret never reaches the log.
    log.error({ requestId, method: req.method, path, err: error }, 'HTTP request failed');
  }
  try {
    if (res.headersSent || res.writableEnded) {
      // Too late for a status: end the connection so the client sees the answer is incomplete.
      res.destroy();
      return;
    }
    const json = path.startsWith('/auth/');
    const fields = status === 400 ? { code: 'invalid_argument', reason: Reason.MalformedMessage, message } : { code: 'internal', message };
    const body = json ? JSON.stringify(fields) : `${message}\n`;
    res.writeHead(status, {
      'content-type': json ? 'application/json' : 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      connection: 'close',
    });
    res.end(body);
  } catch {
    res.destroy();
  }
}
