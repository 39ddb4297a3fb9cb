/**
 * User tokens expire, their owner lists, creates and revokes them, and an admin can disable a user:
 * their tokens, browser sessions, open streams and machines stop at once. End to end against a
 * real server (and a real linkd), through the API and through linkctl.
 */
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { durationFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import postgres from 'postgres';
import { createLogger } from '../common/log.js';
import { reasonOf } from '../common/errors.js';
import { renewLocalUserToken } from '../control-plane/local-user-token.js';
import { hashToken } from '../control-plane/store/store.js';
import { UserService, UserTokenKind } from '../gen/link/v1/user_service_pb.js';
import { closeClients, Code, ConnectError, hello, linkClient, LinkWatch, RawSession } from './helpers/clients.js';
import { freshDatabase } from './helpers/postgres.js';
import { repoRoot, spawnLinkd, spawnTracked } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

const DAY_MS = 86_400_000;

describe('user tokens and disabled users', () => {
  let env: TestServer;
  const managers = new Set<Http2SessionManager>();

  function users(token: string): Client<typeof UserService> {
    const sessionManager = new Http2SessionManager(env.grpcUrl);
    managers.add(sessionManager);
    const transport = createGrpcTransport({
      baseUrl: env.grpcUrl,
      sessionManager,
      interceptors: [(next) => (req) => (req.header.set('authorization', `Bearer ${token}`), next(req))],
    });
    return createClient(UserService, transport);
  }

  /** The error a call ended with (it must fail). */
  async function refusal(call: Promise<unknown>): Promise<ConnectError> {
    const error = await call.then(
      () => undefined,
      (e) => ConnectError.from(e),
    );
    assert.ok(error, 'the call was expected to be refused');
    return error;
  }

  beforeEach(async () => {
    env = await startTestServer();
  });

  afterEach(async () => {
    for (const manager of managers) manager.abort();
    managers.clear();
    closeClients();
    await env.close();
  });

  it('a created token works, is listed without its secret, and is refused at once once revoked', async () => {
    const mine = users(env.userToken);
    const { token, secret } = await mine.createToken({ label: 'ci' });
    assert.match(secret, /^lu_/);
    assert.equal((await users(secret).getCurrentUser({})).user?.id, env.user.id, 'the new token works');

    const { tokens } = await mine.listTokens({});
    const listed = tokens.find((t) => t.id === token?.id);
    assert.ok(listed, 'the new token is listed');
    assert.equal(listed.label, 'ci');
    assert.equal(listed.kind, UserTokenKind.API);
    const lifetime = timestampMs(listed.expiresAt!) - timestampMs(listed.createdAt!);
    assert.ok(Math.abs(lifetime - 90 * DAY_MS) < 60_000, `it expires after the default 90 days (got ${lifetime} ms)`);
    assert.ok(listed.lastUsedAt, 'its last use is shown');
    const shown = JSON.stringify(tokens, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
    assert.ok(!shown.includes(secret) && !shown.includes(hashToken(secret)), 'neither the secret nor its hash is listed');
    assert.ok(!shown.includes(env.userToken) && !shown.includes(hashToken(env.userToken)));

    await mine.revokeToken({ tokenId: listed.id });
    const error = await refusal(users(secret).getCurrentUser({}));
    assert.equal(error.code, Code.Unauthenticated);
    assert.ok(!(await mine.listTokens({})).tokens.some((t) => t.id === listed.id), 'a revoked token is no longer listed');
    assert.equal((await refusal(mine.revokeToken({ tokenId: listed.id }))).code, Code.NotFound, 'revoking twice: nothing left to revoke');
  });

  it('an expired token is refused with TOKEN_EXPIRED; a token may be made to last less', async () => {
    const mine = users(env.userToken);
    const { token, secret } = await mine.createToken({ label: 'short', ttl: durationFromMs(3_600_000) });
    const lifetime = timestampMs(token!.expiresAt!) - timestampMs(token!.createdAt!);
    assert.ok(Math.abs(lifetime - 3_600_000) < 5_000, `it lasts the hour asked for (got ${lifetime} ms)`);
    await users(secret).getCurrentUser({});

    // Its hour is up.
    await env.store.connection`update user_tokens set expires_at = now() - interval '1 second' where id = ${token!.id}`;
    const error = await refusal(users(secret).getCurrentUser({}));
    assert.equal(error.code, Code.Unauthenticated);
    assert.equal(reasonOf(error), 'TOKEN_EXPIRED');
    assert.match(error.rawMessage, /expired/);
    assert.ok(!(await mine.listTokens({})).tokens.some((t) => t.id === token!.id), 'an expired token is not listed');

    for (const ttl of [0, 500, 400 * DAY_MS]) {
      const bad = await refusal(mine.createToken({ ttl: durationFromMs(ttl) }));
      assert.equal(bad.code, Code.InvalidArgument, `ttl ${ttl} ms is refused`);
    }
    assert.equal((await refusal(mine.createToken({ label: 'x'.repeat(129) }))).code, Code.InvalidArgument);
    assert.equal((await refusal(mine.createToken({ label: 'a\0b' }))).code, Code.InvalidArgument);
  });

  it('another user can neither see nor revoke my tokens', async () => {
    const mine = users(env.userToken);
    const { token } = await mine.createToken({ label: 'private' });
    const bob = await mine.createUser({ name: 'bob' });
    const theirs = users(bob.token);

    const listed = (await theirs.listTokens({})).tokens;
    assert.ok(!listed.some((t) => t.id === token!.id), 'bob does not see my token');
    assert.ok(listed.every((t) => t.kind === UserTokenKind.API), 'bob sees his own API token');
    assert.equal(listed.length, 1);

    const error = await refusal(theirs.revokeToken({ tokenId: token!.id }));
    assert.equal(error.code, Code.NotFound);
    assert.equal(reasonOf(error), 'TOKEN_NOT_FOUND');
    const unknown = await refusal(theirs.revokeToken({ tokenId: 'tok_doesnotexist00' }));
    assert.equal(unknown.rawMessage.replace('tok_doesnotexist00', 'X'), error.rawMessage.replace(token!.id, 'X'), 'the same answer as for no such token');
    assert.ok((await mine.listTokens({})).tokens.some((t) => t.id === token!.id), 'my token is untouched');
    assert.equal((await refusal(theirs.disableUser({ name: 'local' }))).code, Code.PermissionDenied, 'only admins disable users');
  });

  it('disabling a user stops their token, browser session, open stream and machine at once; enabling lets them back in', async () => {
    const admin = users(env.userToken);
    const carol = await admin.createUser({ name: 'carol' });
    const { link, token: linkToken } = await env.store.createLink(carol.user!.id, 'carols-laptop');
    const linkTokenFile = join(await tempDir('carol-link-'), 'token');
    await writeFile(linkTokenFile, `${linkToken}\n`, { mode: 0o600 });
    const agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', linkTokenFile, '--data-dir', await tempDir('linkd-')]);
    const watch = new LinkWatch(linkClient(env.grpcUrl, carol.token));
    await watch.online(link.id);

    // Carol's browser session, made the way the page does.
    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${env.httpUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const login = await post('/auth/login', JSON.stringify({ token: carol.token }));
    assert.equal(login.status, 200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const byCookie = () => post('/link.v1.UserService/GetCurrentUser', '{}', { cookie });
    assert.equal((await byCookie()).status, 200);

    // An open stream of hers, followed to its end.
    const stream = (async () => {
      try {
        for await (const _ of linkClient(env.grpcUrl, carol.token).watchLinks({})) void _;
        return undefined;
      } catch (error) {
        return ConnectError.from(error);
      }
    })();
    await watch.snapshot();

    const { user } = await admin.disableUser({ name: 'carol' });
    assert.equal(user?.disabled, true);

    const ended = await stream;
    assert.equal(ended?.code, Code.Unauthenticated, 'her open stream ends');
    assert.equal(reasonOf(ended), 'USER_DISABLED');
    const { code } = await agent.waitForExit(10_000);
    assert.equal(code, 1, 'her machine stops');
    assert.match(agent.output, /disabled by an admin/, 'and says why');
    await watch.close();

    const apiError = await refusal(users(carol.token).getCurrentUser({}));
    assert.equal(apiError.code, Code.Unauthenticated);
    assert.equal(reasonOf(apiError), 'USER_DISABLED');
    const cookieAnswer = await byCookie();
    assert.equal(cookieAnswer.status, 401, 'her browser session is refused');
    assert.match(await cookieAnswer.text(), /disabled/);
    assert.equal((await post('/auth/login', JSON.stringify({ token: carol.token }))).status, 401, 'she cannot log in again');
    const again = new RawSession(env.grpcUrl, linkToken, hello());
    assert.equal((await again.end())?.code, Code.Unauthenticated, 'her machine cannot reconnect');
    assert.equal((await refusal(admin.disableUser({ name: 'local' }))).code, Code.FailedPrecondition, 'an admin cannot disable themselves');
    assert.equal((await refusal(admin.disableUser({ name: 'nobody' }))).code, Code.NotFound);

    assert.equal((await admin.enableUser({ name: 'carol' })).user?.disabled, false);
    const { secret } = await users(carol.token).createToken({ label: 'after' });
    assert.equal((await users(secret).getCurrentUser({})).user?.name, 'carol', 'new tokens work');
    const back = new RawSession(env.grpcUrl, linkToken, hello());
    await back.frame('welcome');
    await back.close();
  });

  it('disabling a user on one replica ends their machine and streams on another', async () => {
    const other = await startTestServer({ databaseUrl: env.databaseUrl });
    try {
      const admin = users(env.userToken);
      const erin = await admin.createUser({ name: 'erin' });
      const { link, token: linkToken } = await env.store.createLink(erin.user!.id, 'erins-box');
      // Her machine and her stream are on the other replica.
      const session = new RawSession(other.grpcUrl, linkToken, hello()).keepAlive(100);
      await session.frame('welcome');
      const watch = new LinkWatch(linkClient(other.grpcUrl, erin.token));
      await watch.online(link.id);
      const stream = (async () => {
        try {
          for await (const _ of linkClient(other.grpcUrl, erin.token).watchLinks({})) void _;
          return undefined;
        } catch (error) {
          return ConnectError.from(error);
        }
      })();

      await admin.disableUser({ name: 'erin' });
      const ended = await session.end();
      assert.equal(ended?.code, Code.Unauthenticated);
      assert.equal(reasonOf(ended), 'USER_DISABLED', 'her machine is told why');
      assert.equal(reasonOf(await stream), 'USER_DISABLED', 'her stream on the other replica ends');
      await session.close();
      await watch.close();
    } finally {
      closeClients();
      await other.close();
    }
  });

  it('linkctl lists, creates and revokes tokens, and disables users', async () => {
    const linkctl = async (token: string, ...args: string[]) => {
      const p = spawnTracked('linkctl', process.execPath, [join(repoRoot, 'bin', 'linkctl.js'), '--server', env.grpcUrl, '--token', token, ...args]);
      const { code } = await p.waitForExit(20_000);
      return { code, output: p.output };
    };
    const created = await linkctl(env.userToken, 'tokens', 'create', '--label', 'from-cli', '--ttl', '30d');
    assert.equal(created.code, 0, created.output);
    const secret = created.output.split('\n')[0].trim();
    assert.match(secret, /^lu_/);
    const id = /created token (tok_[\w-]+)/.exec(created.output)?.[1];
    assert.ok(id, created.output);

    const list = await linkctl(secret, 'tokens', 'list');
    assert.equal(list.code, 0, list.output);
    assert.match(list.output, /^ID\s+KIND\s+LABEL\s+CREATED\s+EXPIRES\s+LAST USED$/m);
    assert.match(list.output, new RegExp(`^${id}\\s+api\\s+from-cli\\s`, 'm'));
    assert.ok(!list.output.includes(secret), 'the secret is not listed');
    const json = JSON.parse((await linkctl(secret, 'tokens', 'list', '--json')).output) as { id: string; label: string; expiresAt: string }[];
    const entry = json.find((t) => t.id === id);
    assert.equal(entry?.label, 'from-cli');
    assert.ok(Math.abs(Date.parse(entry!.expiresAt) - Date.now() - 30 * DAY_MS) < 120_000, 'it lasts the 30 days asked for');

    assert.match((await linkctl(env.userToken, 'tokens', 'revoke', id)).output, /revoked/);
    const refused = await linkctl(secret, 'tokens', 'list');
    assert.equal(refused.code, 1);
    assert.match(refused.output, /UNAUTHENTICATED/);

    const dave = (await linkctl(env.userToken, 'users', 'create', 'dave')).output.split('\n')[0].trim();
    assert.equal((await linkctl(dave, 'tokens', 'list')).code, 0);
    const disabled = await linkctl(env.userToken, 'users', 'disable', 'dave');
    assert.equal(disabled.code, 0, disabled.output);
    assert.match(disabled.output, /disabled dave/);
    const daveNow = await linkctl(dave, 'tokens', 'list');
    assert.equal(daveNow.code, 1);
    assert.match(daveNow.output, /USER_DISABLED/);
    assert.match((await linkctl(dave, 'users', 'disable', 'local')).output, /USER_DISABLED/);
    assert.match((await linkctl(env.userToken, 'users', 'enable', 'dave')).output, /enabled dave/);
    assert.equal((await linkctl(dave, 'tokens', 'list')).code, 0, 'enabled again, his token works');
  });

  it('linkctl refuses to send a token in plaintext to another machine, and saves its config 0600', async () => {
    const server = env;
    const config = join(await tempDir('linkctl-config-'), 'linkctl', 'config.json');
    const linkctl = async (...args: string[]) => {
      const env = { ...process.env };
      for (const name of ['LINKCTL_SERVER', 'LINKCTL_TOKEN', 'LINKCTL_TOKEN_FILE', 'LINKCTL_INSECURE']) delete env[name];
      const p = spawnTracked('linkctl', process.execPath, [join(repoRoot, 'bin', 'linkctl.js'), '--config', config, ...args], { env });
      const { code } = await p.waitForExit(20_000);
      return { code, output: p.output };
    };
    const saved = await linkctl('config', 'set', '--server', 'http://link.invalid:9090', '--token', 'lu_secret-for-nobody');
    assert.equal(saved.code, 0, saved.output);
    assert.equal((await stat(config)).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(await readFile(config, 'utf8')), { server: 'http://link.invalid:9090', token: 'lu_secret-for-nobody' });

    const refused = await linkctl('tokens', 'list');
    assert.equal(refused.code, 1);
    assert.match(refused.output, /refusing to send your user token to http:\/\/link\.invalid:9090 without TLS/);
    assert.match(refused.output, /--insecure/);
    assert.doesNotMatch(refused.output, /ENOTFOUND|getaddrinfo|unavailable/i, 'refused before trying to connect');

    // With --insecure it does try (and finds no such host); loopback needs no flag.
    const tried = await linkctl('--insecure', 'tokens', 'list');
    assert.equal(tried.code, 1);
    assert.doesNotMatch(tried.output, /refusing/);
    const local = await linkctl('--server', server.grpcUrl, '--token', server.userToken, 'tokens', 'list');
    assert.equal(local.code, 0, local.output);
  });

  it('link-server --user-token-ttl sets how long new tokens last', async () => {
    const databaseUrl = await freshDatabase();
    const p = spawnTracked('link-server create-user', process.execPath, [
      join(repoRoot, 'bin', 'link-server.js'),
      'create-user',
      'erin',
      '--database-url',
      databaseUrl,
      '--user-token-ttl',
      '2d',
    ]);
    const { code } = await p.waitForExit(30_000);
    assert.equal(code, 0, p.output);
    const token = p.output.split('\n')[0].trim();
    // The token lives in erin's database, not the test server's.
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
    try {
      const [stored] = await sql<{ ms: number }[]>`
        select extract(epoch from expires_at - created_at)::float8 * 1000 as ms from user_tokens where token_hash = ${hashToken(token)}`;
      assert.ok(Math.abs(stored.ms - 2 * DAY_MS) < 60_000, `the token lasts 2 days (got ${stored.ms} ms)`);
    } finally {
      await sql.end({ timeout: 1 });
    }
    const bad = spawnTracked('link-server', process.execPath, [join(repoRoot, 'bin', 'link-server.js'), 'create-user', 'x', '--database-url', databaseUrl, '--user-token-ttl', 'forever']);
    assert.equal((await bad.waitForExit(30_000)).code, 1);
    assert.match(bad.output, /--user-token-ttl.*90d/s);
  });

  it("the embedded default's local-user token file is renewed before it expires", async () => {
    const file = join(await tempDir('local-user-'), 'local-user.token');
    const log = createLogger({ name: 'test', level: 'silent' });
    await renewLocalUserToken(env.store, file, log);
    const first = (await readFile(file, 'utf8')).trim();
    assert.equal((await env.store.userByToken(first))?.id, env.user.id);
    await renewLocalUserToken(env.store, file, log);
    assert.equal((await readFile(file, 'utf8')).trim(), first, 'a fresh token is kept');

    // It has a day left: the next start writes a new one.
    await env.store.connection`update user_tokens set expires_at = now() + interval '1 day' where token_hash = ${hashToken(first)}`;
    await renewLocalUserToken(env.store, file, log);
    const second = (await readFile(file, 'utf8')).trim();
    assert.notEqual(second, first);
    assert.equal((await env.store.userByToken(second))?.id, env.user.id);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await env.store.userByToken(first))?.id, env.user.id, 'the old one still works until it expires');
  });
});
