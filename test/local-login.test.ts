/**
 * Local login, the way the embedded default has it: loopback is not a credential. The page logs in
 * as the local user only with the login URL's secret; the session cookie it gets works only from
 * the page's own origin; and local login refuses to listen anywhere but on loopback.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import type { Browser } from 'playwright-core';
import { reasonOf } from '../common/errors.js';
import { UserService } from '../gen/link/v1/user_service_pb.js';
import { launchChromium } from './helpers/browser.js';
import { rawRequest, requestHead } from './helpers/raw-http.js';
import { freshDatabase } from './helpers/postgres.js';
import { repoRoot, spawnTracked } from './helpers/processes.js';
import { startServerProcess, startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

/** UserService over the Connect protocol on the HTTP port, sending exactly `headers`. */
function users(baseUrl: string, headers: Record<string, string>) {
  const transport = createConnectTransport({
    baseUrl,
    httpVersion: '1.1',
    interceptors: [(next) => (req) => {
      for (const [name, value] of Object.entries(headers)) req.header.set(name, value);
      return next(req);
    }],
  });
  return createClient(UserService, transport);
}

async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  assert.ok(error, 'the call is refused');
  return error;
}

/** POST /auth/login from the page's own origin; the session cookie it sets (`link_session=…`). */
async function logIn(baseUrl: string, body: unknown): Promise<{ status: number; cookie: string | undefined; setCookie: string }> {
  const response = await fetch(`${baseUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: baseUrl, 'sec-fetch-site': 'same-origin' },
    body: JSON.stringify(body),
  });
  const setCookie = response.headers.get('set-cookie') ?? '';
  return { status: response.status, cookie: /^(link_session=[^;]+)/.exec(setCookie)?.[1], setCookie };
}

describe('local login', () => {
  let env: TestServer;
  let browser: Browser | undefined;

  before(async () => {
    env = await startTestServer();
  });

  after(async () => {
    await env?.close();
  });

  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });

  it('a loopback call without credentials is UNAUTHENTICATED, whatever Host it names', async () => {
    for (const host of [`127.0.0.1:${env.server.httpPort}`, `localhost:${env.server.httpPort}`]) {
      // What `curl -d '{}' -H 'content-type: application/json' …/GetCurrentUser` sends.
      const answer = await rawRequest(env.server.httpPort, {
        pieces: [requestHead('POST', '/link.v1.UserService/GetCurrentUser', { host, 'content-type': 'application/json', 'content-length': '2', connection: 'close' }), '{}'],
      });
      assert.equal(answer.status, 401, `Host ${host}: ${answer.head}`);
      assert.equal((JSON.parse(answer.body) as { code: string }).code, 'unauthenticated');
    }
    const error = await refusal(users(env.httpUrl, {}).getCurrentUser({}));
    assert.equal(error.code, Code.Unauthenticated);
  });

  it("the login URL's secret gives the page a session cookie, and the page's calls then work", async () => {
    assert.equal((await logIn(env.httpUrl, { loginSecret: 'not-the-secret' })).status, 401);
    const login = await logIn(env.httpUrl, { loginSecret: env.loginSecret });
    assert.equal(login.status, 200);
    assert.match(login.setCookie, /HttpOnly/);
    assert.match(login.setCookie, /SameSite=Strict/);
    const { user } = await users(env.httpUrl, { cookie: login.cookie!, origin: env.httpUrl, 'sec-fetch-site': 'same-origin' }).getCurrentUser({});
    assert.equal(user?.local, true, 'logged in as the local user');
    // Until the server restarts, the same link logs in a second browser too.
    assert.equal((await logIn(env.httpUrl, { loginSecret: env.loginSecret })).status, 200);
  });

  it('in Chromium: the login URL opens the page logged in and leaves the address bar; without it the page asks for a token', async () => {
    browser = await launchChromium();
    const page = await browser.newPage();
    await page.goto(`${env.loginUrl}#/machines`);
    const card = page.locator('link-machine-card [part=card]');
    await card.waitFor({ timeout: 20_000 });
    assert.match(await card.innerText(), /test-machine/);
    assert.equal(page.url(), `${env.httpUrl}/#/machines`, 'the secret is gone from the address bar');
    const cookie = (await page.context().cookies()).find((c) => c.name === 'link_session');
    assert.ok(cookie?.httpOnly, 'the session cookie is HttpOnly');

    const stranger = await browser.newPage();
    await stranger.goto(`${env.httpUrl}#/machines`);
    await stranger.getByLabel('User token').waitFor({ timeout: 20_000 });
    assert.equal(await stranger.locator('link-machine-card').count(), 0);
  });

  it('a call riding on the session cookie from another origin or site is PERMISSION_DENIED CROSS_ORIGIN', async () => {
    const { cookie } = await logIn(env.httpUrl, { loginSecret: env.loginSecret });
    const call = (headers: Record<string, string>) => users(env.httpUrl, { cookie: cookie!, ...headers }).getCurrentUser({});
    const refused: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { origin: `http://localhost:${env.server.httpPort}` },
      { origin: env.httpUrl, 'sec-fetch-site': 'cross-site' },
      { origin: env.httpUrl, 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'cross-site' },
    ];
    for (const headers of refused) {
      const error = await refusal(call(headers));
      assert.equal(error.code, Code.PermissionDenied, JSON.stringify(headers));
      assert.equal(reasonOf(error), 'CROSS_ORIGIN', JSON.stringify(headers));
    }
    // The page's own calls, and a client that sends no browser headers, go through.
    assert.ok((await call({ origin: env.httpUrl, 'sec-fetch-site': 'same-origin' })).user);
    assert.ok((await call({})).user);
    // A bearer token is not the browser's session: no origin check.
    assert.ok((await users(env.httpUrl, { authorization: `Bearer ${env.userToken}`, origin: 'http://evil.example' }).getCurrentUser({})).user);

    // Logging out is a cookie call too: another site cannot end the session.
    const logout = await fetch(`${env.httpUrl}/auth/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: cookie!, origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
      body: '{}',
    });
    assert.equal(logout.status, 403);
    assert.equal(((await logout.json()) as { reason: string }).reason, 'CROSS_ORIGIN');
    assert.ok((await call({})).user, 'the session still works');
  });

  it('link-server refuses to start with local login on an address other than loopback', async () => {
    const dataDir = await tempDir('link-server-');
    const start = async (args: string[]) => {
      const server = spawnTracked('link-server', process.execPath, [
        join(repoRoot, 'bin', 'link-server.js'), 'serve', '--grpc-port', '0', '--http-port', '0', '--data-dir', dataDir, '--host', '0.0.0.0', ...args,
      ]);
      const exit = await server.waitForExit(15_000);
      return { ...exit, output: server.output };
    };
    const explicit = await start(['--local-login', 'on', '--database-url', await freshDatabase()]);
    assert.equal(explicit.code, 1, explicit.output);
    assert.match(explicit.output, /local login .* needs a loopback --host .* not 0\.0\.0\.0/);
    assert.match(explicit.output, /--local-login off/);
    // The embedded default has local login on: the same refusal, before it starts a database.
    const embedded = await start([]);
    assert.equal(embedded.code, 1, embedded.output);
    assert.match(embedded.output, /on by default with the embedded database/);
    await assert.rejects(stat(join(dataDir, 'postgres')), 'no database was started');
  });

  it('link-server writes the login URL 0600 in its data dir, never logs the secret, and makes a new one at each start', async () => {
    const databaseUrl = await freshDatabase();
    const first = await startServerProcess(['--local-login', 'on', '--database-url', databaseUrl]);
    const file = join(first.dataDir, 'login-url');
    const url = (await readFile(file, 'utf8')).trim();
    const [, secret] = new RegExp(`^http://127\\.0\\.0\\.1:${first.httpPort}/\\?login=([\\w-]{43})$`).exec(url) ?? [];
    assert.ok(secret, url);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(JSON.parse(await readFile(join(first.dataDir, 'server.json'), 'utf8')).loginUrlFile, file);
    assert.equal((await logIn(first.httpUrl, { loginSecret: secret })).status, 200);
    assert.ok(!first.process.output.includes(secret), 'the secret is not in the log');
    assert.match(first.process.output, /login-url/, 'the log says where the login URL is');
    await first.process.stop();

    const second = await startServerProcess(['--local-login', 'on', '--database-url', databaseUrl]);
    try {
      assert.equal((await logIn(second.httpUrl, { loginSecret: secret })).status, 401, "the last run's link no longer logs in");
      const [, fresh] = /\?login=(.+)$/.exec((await readFile(join(second.dataDir, 'login-url'), 'utf8')).trim()) ?? [];
      assert.equal((await logIn(second.httpUrl, { loginSecret: fresh })).status, 200);
    } finally {
      await second.process.stop();
    }
  });
});
