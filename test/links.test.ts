/**
 * Managing links: rename, disconnect, revoke; each user sees and touches only their own; browser
 * login by cookie; linkctl for all of it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { reasonOf } from '../common/errors.js';
import { LinkState } from '../gen/link/v1/types_pb.js';
import { closeClients, Code, ConnectError, hello, linkClient, LinkWatch, RawSession } from './helpers/clients.js';
import { repoRoot, spawnLinkd, spawnTracked } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

describe('managing links', () => {
  let env: TestServer;
  let watch: LinkWatch | undefined;

  beforeEach(async () => {
    env = await startTestServer({ heartbeatIntervalMs: 500 });
  });

  afterEach(async () => {
    await watch?.close();
    watch = undefined;
    closeClients();
    await env.close();
  });

  async function runningAgent() {
    const agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-')]);
    watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    await watch.online(env.link.id);
    return agent;
  }

  it('revoke ends the live session at once; the token stops working and linkd says to pair again', async () => {
    const agent = await runningAgent();
    await linkClient(env.grpcUrl, env.userToken).revokeLink({ linkId: env.link.id });
    const { code } = await agent.waitForExit(5_000);
    assert.equal(code, 1);
    assert.match(agent.output, /revoked/);
    assert.match(agent.output, /linkd login/);
    await watch!.removed(env.link.id);

    const again = new RawSession(env.grpcUrl, env.linkToken, hello());
    const error = await again.end();
    assert.equal(error?.code, Code.Unauthenticated);
    const { links } = await linkClient(env.grpcUrl, env.userToken).listLinks({});
    assert.ok(!links.some((l) => l.id === env.link.id), 'a revoked link is no longer listed');
  });

  it('disconnect tells linkd to stop with the reason; the link stays and can come back', async () => {
    const agent = await runningAgent();
    const { wasOnline } = await linkClient(env.grpcUrl, env.userToken).disconnectLink({ linkId: env.link.id, reason: 'maintenance window' });
    assert.equal(wasOnline, true);
    const { code } = await agent.waitForExit(5_000);
    assert.equal(code, 0, 'a requested stop is not a failure');
    assert.match(agent.output, /maintenance window/);
    await watch!.offline(env.link.id);
    const restarted = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-')]);
    try {
      await watch!.online(env.link.id);
    } finally {
      await restarted.stop();
    }
  });

  it('rename shows up in the watch and in GetLink', async () => {
    watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    const client = linkClient(env.grpcUrl, env.userToken);
    const { link } = await client.renameLink({ linkId: env.link.id, name: 'studio desktop' });
    assert.equal(link?.name, 'studio desktop');
    await watch.until(env.link.id, (l) => l.name === 'studio desktop', 'renamed');
    assert.equal((await client.getLink({ linkId: env.link.id })).link?.name, 'studio desktop');
    const empty = await client.renameLink({ linkId: env.link.id, name: '  ' }).catch((e) => ConnectError.from(e));
    assert.equal(reasonOf(empty), 'INVALID_FIELD');
  });

  it('user B cannot list, get, watch, disconnect, revoke or rename user A\'s links, nor tell they exist', async () => {
    const session = new RawSession(env.grpcUrl, env.linkToken, hello({ hostname: 'a-host' })).keepAlive(100);
    await session.frame('welcome');
    const b = (await env.store.createUser('bob'))!;
    const client = linkClient(env.grpcUrl, b.token);
    const bWatch = new LinkWatch(client);
    try {
      await bWatch.snapshot();
      assert.deepEqual((await client.listLinks({})).links, []);
      const attempts: Record<string, () => Promise<unknown>> = {
        get: () => client.getLink({ linkId: env.link.id }),
        disconnect: () => client.disconnectLink({ linkId: env.link.id }),
        revoke: () => client.revokeLink({ linkId: env.link.id }),
        rename: () => client.renameLink({ linkId: env.link.id, name: 'mine now' }),
      };
      for (const [what, call] of Object.entries(attempts)) {
        const error = await call().then(
          () => undefined,
          (e) => ConnectError.from(e),
        );
        assert.equal(error?.code, Code.NotFound, `${what} is NOT_FOUND`);
        assert.equal(reasonOf(error), 'LINK_NOT_FOUND', what);
        const missing = await client.getLink({ linkId: 'lnk_doesnotexist' }).catch((e) => ConnectError.from(e));
        assert.equal((missing as ConnectError).rawMessage.replace('lnk_doesnotexist', 'X'), error!.rawMessage.replace(env.link.id, 'X'), 'same answer as for a link that does not exist');
      }
      // A's link is untouched.
      const { link } = await linkClient(env.grpcUrl, env.userToken).getLink({ linkId: env.link.id });
      assert.equal(link?.state, LinkState.ONLINE);
      assert.equal(link?.name, 'test-machine');
      assert.ok(session.received.every((r) => r.frame.case !== 'shutdown'), 'A\'s agent was not told to stop');
      assert.deepEqual(bWatch.events, ['snapshot']);
      assert.equal(bWatch.links.size, 0);
    } finally {
      await bWatch.close();
      await session.close();
    }
  });

  it('the page logs in with a token and gets an HttpOnly SameSite session cookie', async () => {
    const local = await startTestServer({ localLogin: false });
    try {
      const post = (path: string, body: string, headers: Record<string, string> = {}) =>
        fetch(`${local.httpUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      const listLinks = (headers: Record<string, string>) => post('/link.v1.LinkService/ListLinks', '{}', headers);

      assert.equal((await listLinks({})).status, 401, 'without local login, the page must log in');
      assert.equal((await post('/auth/login', JSON.stringify({ token: 'lu_wrong' }))).status, 401);
      const cross = await post('/auth/login', JSON.stringify({ token: local.userToken }), { origin: 'http://evil.example' });
      assert.equal(cross.status, 403, 'another site cannot log a browser in');

      const login = await post('/auth/login', JSON.stringify({ token: local.userToken }));
      assert.equal(login.status, 200);
      const cookie = login.headers.get('set-cookie') ?? '';
      assert.match(cookie, /^link_session=ls_[\w-]+;/);
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Strict/);
      const session = cookie.split(';')[0];
      const listed = await listLinks({ cookie: session });
      assert.equal(listed.status, 200);
      assert.ok((await listed.json()).links.some((l: { id: string }) => l.id === local.link.id));

      assert.equal((await post('/auth/logout', '{}', { cookie: session })).status, 200);
      assert.equal((await listLinks({ cookie: session })).status, 401, 'the session ends at logout');
    } finally {
      await local.close();
    }
  });

  it('linkctl creates users (admins only) and lists, renames, disconnects and revokes links', async () => {
    const linkctl = async (token: string, ...args: string[]) => {
      const p = spawnTracked('linkctl', process.execPath, [join(repoRoot, 'bin', 'linkctl.js'), '--server', env.grpcUrl, '--token', token, ...args]);
      const { code } = await p.waitForExit(20_000);
      return { code, output: p.output };
    };
    // The local user is an admin.
    const created = await linkctl(env.userToken, 'users', 'create', 'carol');
    assert.equal(created.code, 0, created.output);
    const carolToken = created.output.split('\n')[0].trim();
    assert.match(carolToken, /^lu_/);
    const denied = await linkctl(carolToken, 'users', 'create', 'dave');
    assert.equal(denied.code, 1);
    assert.match(denied.output, /ADMIN_REQUIRED/);
    const taken = await linkctl(env.userToken, 'users', 'create', 'carol');
    assert.match(taken.output, /USER_EXISTS/);

    assert.match((await linkctl(env.userToken, 'links', 'rename', env.link.id, 'renamed-box')).output, /renamed-box/);
    assert.match((await linkctl(env.userToken, 'links', 'list')).output, new RegExp(`${env.link.id}\\s+renamed-box\\s+offline`));
    assert.match((await linkctl(env.userToken, 'links', 'disconnect', env.link.id)).output, /was not connected/);
    assert.match((await linkctl(env.userToken, 'links', 'revoke', env.link.id)).output, /revoked/);
    assert.match((await linkctl(env.userToken, 'links', 'list')).output, /no links yet/);
    // Carol sees none of it.
    assert.match((await linkctl(carolToken, 'links', 'list')).output, /no links yet/);
  });
});
