import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIP } from 'node:net';
import { createClient, type Client, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { LinkService, SandboxService, ThreadService, UserService } from './gen.js';

/** How `createLinkClient` reaches a Link control plane. */
export interface LinkClientOptions {
  /**
   * The server's address with its scheme: `https://link.example.com:9090` for gRPC (the server's gRPC
   * port), `https://link.example.com:8080` for Connect (its HTTP port). `http://` is refused unless the
   * host is this machine (localhost, 127.0.0.0/8, ::1) or `insecure` is set: a token sent in plaintext
   * over a network is a token given away.
   */
  server: string;
  /** A user token (`lu_…`), sent as `authorization: Bearer …` on every call. */
  token?: string;
  /**
   * A file holding the user token (surrounding whitespace is ignored). Read again before every call,
   * so a token replaced in the file is picked up without a new client. Ignored when `token` is set.
   */
  tokenFile?: string;
  /**
   * `grpc` (the default): gRPC over HTTP/2 to the gRPC port, every RPC including the agents' bidi
   * stream. `connect`: the Connect protocol over HTTP/1.1 to the HTTP port (through proxies that do not
   * speak HTTP/2); unary and server-streaming calls only.
   */
  transport?: 'grpc' | 'connect';
  /** A PEM file of the CA that signed the server's certificate, for a private CA (read once). */
  caFile?: string;
  /** Allow `http://` to a host that is not this machine (a network you trust). */
  insecure?: boolean;
  /** Interceptors run on every call after the one that adds the token (logging, tracing). */
  interceptors?: Interceptor[];
}

/**
 * Typed clients for every service of the Link API on one connection. Each method takes the request
 * message as a plain object and an optional `{ signal, timeoutMs, headers }`; failures are
 * `ConnectError`s — use `reasonOf(error)` for the machine-readable reason.
 */
export interface LinkClient {
  /** Machines (links): list, get, watch, pair, rename, disconnect, revoke, rotate tokens. */
  readonly links: Client<typeof LinkService>;
  /** The caller (GetCurrentUser) and, for admins, new users. */
  readonly users: Client<typeof UserService>;
  /** Threads, messages and runs: SendMessage, WatchRun, CancelRun, … */
  readonly threads: Client<typeof ThreadService>;
  /** Sandboxes on the machines: ensure, list, delete, Exec. */
  readonly sandboxes: Client<typeof SandboxService>;
  /** The transport the clients share, for `createClient` of another service. */
  readonly transport: Transport;
  /**
   * Closes the client's connections at once (calls still open fail). Call it when done, or the open
   * HTTP/2 session keeps a short-lived script's process alive. Safe to call twice.
   */
  close(): void;
}

/**
 * A client of a Link control plane. Throws at once (before any connection) when `server` is not a
 * URL, is plaintext to another machine without `insecure`, or when neither `token` nor `tokenFile` is
 * given. Nothing is sent until the first call.
 */
export function createLinkClient(options: LinkClientOptions): LinkClient {
  const url = checkServer(options);
  const baseUrl = url.origin + url.pathname.replace(/\/$/, '');
  const bearer = tokenSource(options);
  const auth: Interceptor = (next) => async (request) => {
    request.header.set('authorization', `Bearer ${await bearer()}`);
    return next(request);
  };
  const interceptors = [auth, ...(options.interceptors ?? [])];
  const ca = options.caFile ? readFileSync(options.caFile) : undefined;

  let transport: Transport;
  let close: () => void;
  if ((options.transport ?? 'grpc') === 'grpc') {
    const sessionManager = new Http2SessionManager(baseUrl, undefined, ca ? { ca } : {});
    transport = createGrpcTransport({ baseUrl, sessionManager, interceptors });
    close = () => sessionManager.abort();
  } else if (options.transport === 'connect') {
    const agent = url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, ...(ca ? { ca } : {}) }) : new HttpAgent({ keepAlive: true });
    transport = createConnectTransport({ baseUrl, httpVersion: '1.1', nodeOptions: { agent }, interceptors });
    close = () => agent.destroy();
  } else {
    throw new Error(`transport must be 'grpc' or 'connect', not ${JSON.stringify(options.transport)}`);
  }

  let closed = false;
  return {
    links: createClient(LinkService, transport),
    users: createClient(UserService, transport),
    threads: createClient(ThreadService, transport),
    sandboxes: createClient(SandboxService, transport),
    transport,
    close() {
      if (closed) return;
      closed = true;
      close();
    },
  };
}

function checkServer(options: LinkClientOptions): URL {
  let url: URL;
  try {
    url = new URL(options.server);
  } catch {
    throw new Error(`${options.server}: the server address must be a URL such as https://link.example.com:9090`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol !== 'http:') throw new Error(`${options.server}: the server address must start with https:// (or http:// for this machine)`);
  if (isLoopback(url.hostname) || options.insecure) return url;
  throw new Error(
    `refusing to connect to ${options.server} without TLS: the token would cross the network in plaintext. ` +
      `Use https://${url.host}, or set insecure: true if the network is trusted.`,
  );
}

function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
}

function tokenSource(options: LinkClientOptions): () => Promise<string> {
  if (options.token) {
    const token = options.token.trim();
    return async () => token;
  }
  const file = options.tokenFile;
  if (!file) throw new Error('no user token: pass token or tokenFile');
  return async () => {
    const token = (await readFile(file, 'utf8')).trim();
    if (!token) throw new Error(`${file} holds no token`);
    return token;
  };
}
