/**
 * The HTTP port's non-RPC routes: the web UI bundle, `/healthz` (the process is alive) and
 * `/readyz` (it can take work). Anything else is 404.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';

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
  notReadyReason: () => string | undefined;
}

export function httpRoutes(options: HttpRoutesOptions) {
  const root = options.webDir ? resolve(options.webDir) : undefined;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz') return text(res, 200, 'ok\n');
    if (url.pathname === '/readyz') {
      const reason = options.notReadyReason();
      return reason ? text(res, 503, `not ready: ${reason}\n`) : text(res, 200, 'ready\n');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'method not allowed\n');
    if (!root) return text(res, 404, 'this server was started without the web UI\n');
    const relative = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname).replace(/^\/+/, '');
    const file = resolve(join(root, relative));
    if (!file.startsWith(root + sep)) return text(res, 404, 'not found\n');
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': relative === 'index.html' ? 'no-cache' : 'public, max-age=300',
        'x-content-type-options': 'nosniff',
        'content-security-policy':
          "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      text(res, 404, 'not found\n');
    }
  };
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}
