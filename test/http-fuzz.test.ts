/**
 * The HTTP port against hostile input, on a real `link-server` process: whatever a browser page, a
 * script or a broken client sends — bad percent-encodings, odd methods, lying headers, junk
 * cookies and bodies, requests sent slowly, cut short or left unfinished — gets an answer (or, when
 * cut short, a clean close), and the process keeps serving. Bounded in count and time; loopback only.
 */
import assert from 'node:assert/strict';
import { rawRequest, requestHead, type RawAnswer } from './helpers/raw-http.js';
import { startServerProcess, type ServerProcess } from './helpers/server.js';

/** A small seeded generator, so a failing case can be replayed (the seed is in the test name). */
function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(items: readonly T[]): T => items[int(items.length)], chance: (p: number) => next() < p };
}

const RPC_PATHS = [
  '/link.v1.UserService/GetCurrentUser',
  '/link.v1.LinkService/ListLinks',
  '/link.v1.LinkService/WatchLinks',
  '/link.v1.LinkService/Connect',
  '/link.v1.LinkService/CompletePairing',
  '/link.v1.ThreadService/WatchRun',
  '/link.v1.ThreadService/SendMessage',
  '/grpc.health.v1.Health/Check',
];
const PATHS = ['/', '/healthz', '/readyz', '/metrics', '/auth/login', '/auth/logout', '/index.html', '/app.js', '/favicon.svg', ...RPC_PATHS];
const HOSTILE = [
  '%', '%E0%A4%A', '%ZZ', '%00', '%2e%2e/%2e%2e/etc/passwd', '..%2f..%2fpackage.json', '%C0%AF', '%ED%A0%80', '%FF%FE',
  '//', '/./', '\\..\\', '~', ';', '?', '?login=%', '?login=', '?a=%E0%A4%A', '#x', '%23', '+', '%20', '\u00e9', '*',
];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'PROPFIND', 'get', 'BREW', 'M-SEARCH'];
const COOKIES = [
  'link_session=%E0%A4%A', 'link_session=%', 'link_session=', 'link_session', '=', ';;;', 'link_session=ls_nope',
  'link_session=a; link_session=%ZZ', `link_session=${'x'.repeat(3000)}`, 'a=b; link_session=%00', 'link_session="quoted"',
];
const ORIGINS = ['null', '', '%', 'http://[', 'http://evil.example', 'file://', 'http://127.0.0.1:1', 'chrome-extension://abc', ' ', 'http://%E0%A4%A'];
const CONTENT_TYPES = ['application/json', 'application/proto', 'application/connect+json', 'application/grpc-web+proto', 'text/plain', '', 'application/json; charset=%', 'multipart/form-data; boundary='];
const BODIES = [
  '', '{}', '{', 'null', '[]', '{"token":1}', '{"token":"%E0%A4%A"}', '{"loginSecret":"x"}', '{"loginSecret":{}}', '{"token":"lu_nope"}',
  '\u0000\u0001\u0002', '['.repeat(5000), `{"token":"${'a'.repeat(5000)}"}`, '\xff\xfe\xfd', '{"__proto__":{"x":1}}',
];
const EXTRA_HEADERS: [string, string[]][] = [
  ['authorization', ['Bearer', 'Bearer %E0%A4%A', 'Basic Og==', 'Bearer lu_nope', 'Bearer ' + 'x'.repeat(2000)]],
  ['connect-timeout-ms', ['abc', '-1', '99999999999999999999', '0']],
  ['connect-protocol-version', ['2', '', 'x']],
  ['content-encoding', ['gzip', 'br', 'identity, gzip', 'nope']],
  ['connect-content-encoding', ['gzip', 'nope']],
  ['grpc-timeout', ['x', '1H', '99999999999S']],
  ['sec-fetch-site', ['cross-site', 'same-site', 'none', 'same-origin', '%']],
  ['accept-encoding', ['gzip', '*', 'br;q=abc']],
  ['x-forwarded-for', ['%', '1.2.3.4, ::1']],
  ['upgrade', ['websocket', 'h2c']],
  ['expect', ['100-continue', 'nonsense']],
];

describe('the HTTP port under hostile input', function () {
  this.timeout(120_000);
  let server: ServerProcess;

  before(async () => {
    server = await startServerProcess(['--local-login', 'on', '--http-request-timeout', '6000']);
  });

  after(async () => {
    await server?.process.stop();
  });

  /** One request with `Connection: close`; the server must answer and close. */
  const send = (head: string, body: string | Buffer = '', timeoutMs?: number) => rawRequest(server.httpPort, { pieces: [head, body], timeoutMs });
  const request = (method: string, target: string, headers: Record<string, string | undefined> = {}, body = '') =>
    send(requestHead(method, target, { host: `127.0.0.1:${server.httpPort}`, connection: 'close', 'content-length': String(Buffer.byteLength(body, 'latin1')), ...headers }), Buffer.from(body, 'latin1'));

  async function assertStillServing(): Promise<void> {
    assert.ok(server.process.running, `link-server exited:\n${server.process.tail()}`);
    const health = await request('GET', '/healthz');
    assert.equal(health.status, 200, `healthz after the hostile requests: ${health.head}`);
    assert.match(health.body, /ok/);
  }

  /** An answer a client can act on: a status line, never a server error that names internals. */
  function assertAnswered(answer: RawAnswer, what: string): void {
    assert.ok(answer.status !== undefined, `no answer to ${what}: ${JSON.stringify(answer.head)}`);
    // /readyz may say 503 (not ready); the bidi Connect over HTTP/1.1 is 505. Anything else 5xx is a bug.
    assert.ok(answer.status < 500 || answer.status === 503 || answer.status === 505, `${what} → ${answer.status}: ${answer.head}\n${answer.body.slice(0, 300)}`);
  }

  afterEach(async () => {
    await assertStillServing();
  });

  it('a path that is not valid percent-encoding is a 400, not the end of the process', async () => {
    for (const path of ['/%E0%A4%A', '/%', '/%ZZ/app.js', '/%ED%A0%80']) {
      const answer = await request('GET', path);
      assert.equal(answer.status, 400, `${path}: ${answer.head}`);
      assert.ok(server.process.running, `GET ${path} stopped link-server:\n${server.process.tail()}`);
    }
  });

  it('an Origin that is not a URL is refused as another origin, on login and logout', async () => {
    for (const path of ['/auth/login', '/auth/logout']) {
      for (const origin of ['null', 'http://[', '%']) {
        const answer = await request('POST', path, { 'content-type': 'application/json', origin }, '{"token":"lu_nope"}');
        assert.equal(answer.status, 403, `${path} with Origin ${origin}: ${answer.head}`);
        assert.match(answer.body, /CROSS_ORIGIN/);
      }
    }
  });

  it('a session cookie that is not valid percent-encoding is an invalid session (401 on an RPC)', async () => {
    const logout = await request('POST', '/auth/logout', { 'content-type': 'application/json', cookie: 'link_session=%E0%A4%A' }, '{}');
    assertAnswered(logout, 'logout with a malformed cookie');
    const rpc = await request('POST', '/link.v1.UserService/GetCurrentUser', { 'content-type': 'application/json', cookie: 'link_session=%E0%A4%A' }, '{}');
    assert.equal(rpc.status, 401, rpc.head);
    assert.equal(JSON.parse(rpc.body).code, 'unauthenticated');
  });

  it('request lines and Host headers that are not URLs get 400', async () => {
    const cases = [
      requestHead('GET', 'http://[bad/', { host: 'x', connection: 'close' }),
      requestHead('POST', 'http://[bad/link.v1.UserService/GetCurrentUser', { host: 'x', connection: 'close', 'content-length': '0' }),
      // HTTP/1.0 needs no Host; the RPC path must not assume one.
      requestHead('POST', '/link.v1.UserService/GetCurrentUser', { 'content-type': 'application/json', 'content-length': '0' }, 'HTTP/1.0'),
      requestHead('POST', '/link.v1.UserService/GetCurrentUser', { host: 'a b', 'content-type': 'application/json', connection: 'close', 'content-length': '0' }),
      requestHead('POST', '/link.v1.UserService/GetCurrentUser', { host: '[::1', 'content-type': 'application/json', connection: 'close', 'content-length': '0' }),
      requestHead('GET', '/', { host: 'a b', connection: 'close' }),
    ];
    // CONNECT (a proxy's method) is answered too, not dropped.
    const tunnel = await send(requestHead('CONNECT', '127.0.0.1:22', { host: '127.0.0.1:22' }));
    assert.equal(tunnel.status, 405, tunnel.head);
    for (const head of cases) {
      const answer = await send(head);
      assert.equal(answer.status, 400, `${JSON.stringify(head)} → ${answer.head}`);
      assert.ok(server.process.running, `${JSON.stringify(head)} stopped link-server:\n${server.process.tail()}`);
    }
  });

  const SEED = 1301;
  it(`random hostile requests (seed ${SEED}) are all answered`, async () => {
    const rng = random(SEED);
    const deadline = Date.now() + 40_000;
    let sent = 0;
    const one = async () => {
      const base = rng.chance(0.15) ? '' : rng.pick(PATHS);
      let path = base;
      for (let i = rng.int(3); i >= 0; i--) path = rng.chance(0.5) ? `${path}${rng.pick(HOSTILE)}` : `${path}/${rng.pick(HOSTILE)}`;
      if (!path.startsWith('/') && !rng.chance(0.1)) path = `/${path}`;
      if (rng.chance(0.1)) path = `/${'a'.repeat(rng.int(20_000))}`;
      const method = rng.pick(METHODS);
      const headers: Record<string, string | undefined> = {};
      if (rng.chance(0.5)) headers.cookie = rng.pick(COOKIES);
      if (rng.chance(0.4)) headers.origin = rng.pick(ORIGINS);
      if (rng.chance(0.7)) headers['content-type'] = rng.pick(CONTENT_TYPES);
      for (const [name, values] of EXTRA_HEADERS) if (rng.chance(0.12)) headers[name] = rng.pick(values);
      if (rng.chance(0.05)) headers.host = rng.pick(['', 'a b', '[', 'localhost:99999', 'x'.repeat(300)]);
      const body = rng.pick(BODIES);
      // Raw bytes in the request line are the parser's business (400), not the handlers'.
      const target = path.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
      const answer = await request(method, target, headers, body);
      assertAnswered(answer, `${method} ${target} ${JSON.stringify(headers)} ${JSON.stringify(body.slice(0, 40))}`);
      sent++;
    };
    const workers = Array.from({ length: 6 }, async () => {
      while (sent < 600 && Date.now() < deadline) {
        await one();
        assert.ok(server.process.running, `link-server exited:\n${server.process.tail()}`);
      }
    });
    await Promise.all(workers);
    assert.ok(sent >= 100, `only ${sent} requests were sent in time`);
    if (process.env.LINK_TEST_VERBOSE) process.stderr.write(`${sent} hostile requests answered\n`);
  });

  it('a request sent a byte at a time is answered, and others are served meanwhile', async () => {
    const body = '{"token":"lu_nope"}';
    const head = requestHead('POST', '/auth/login', { host: `127.0.0.1:${server.httpPort}`, 'content-type': 'application/json', connection: 'close', 'content-length': String(body.length) });
    const pieces: (string | number)[] = [];
    for (const char of `${head}${body}`) pieces.push(char, 15);
    const slow = rawRequest(server.httpPort, { pieces, timeoutMs: 20_000 });
    await assertStillServing();
    const answer = await slow;
    assert.equal(answer.status, 401, answer.head);
  });

  it('requests cut short end in a clean close (or a 400), never a hang', async () => {
    const rng = random(SEED + 1);
    const login = requestHead('POST', '/auth/login', { host: `127.0.0.1:${server.httpPort}`, 'content-type': 'application/json', 'content-length': '4000' });
    const rpc = requestHead('POST', '/link.v1.UserService/GetCurrentUser', { host: `127.0.0.1:${server.httpPort}`, 'content-type': 'application/json', 'content-length': '4000' });
    const chunked = requestHead('POST', '/auth/login', { host: `127.0.0.1:${server.httpPort}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const cases: string[] = [];
    for (const whole of [`${login}{"token":"lu_`, `${rpc}{"x":`, `${chunked}5\r\n{"tok\r\nZZ\r\n`, requestHead('GET', '/%E0%A4%A', { host: 'x' })]) {
      for (let i = 0; i < 6; i++) cases.push(whole.slice(0, 1 + rng.int(whole.length)));
      cases.push(whole);
    }
    await Promise.all(
      cases.map(async (bytes) => {
        const answer = await rawRequest(server.httpPort, { pieces: [bytes], end: true, timeoutMs: 10_000 });
        if (answer.status !== undefined) assertAnswered(answer, JSON.stringify(bytes));
      }),
    );
  });

  it('a request left unfinished is closed by the server instead of holding the socket', async () => {
    const stalled = [
      `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `,
      requestHead('POST', '/auth/login', { host: '127.0.0.1', 'content-type': 'application/json', 'content-length': '100' }) + '{"token":',
    ];
    await Promise.all(stalled.map((bytes) => rawRequest(server.httpPort, { pieces: [bytes], timeoutMs: 20_000 })));
  });
});
