/**
 * Rotating a link's token over its live session: linkd saves the new token before it says so, the
 * old one keeps working for the grace period and then stops, and a machine killed between saving
 * and acknowledging is not locked out.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Code } from '@connectrpc/connect';
import { reasonOf } from '../common/errors.js';
import { closeClients, ConnectError, hello, linkClient, LinkWatch, RawSession } from './helpers/clients.js';
import { delay, spawnLinkd } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

describe('link token rotation', () => {
  let env: TestServer;

  beforeEach(async () => {
    env = await startTestServer({ heartbeatIntervalMs: 300, tokenGraceMs: 2_000 });
  });

  afterEach(async () => {
    closeClients();
    await env.close();
  });

  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      assert.ok(Date.now() < deadline, `${what} did not happen within ${timeoutMs} ms`);
      await delay(100);
    }
  }

  it('linkd saves the new token, the old one works for the grace period and then not at all', async () => {
    const agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-')]);
    try {
      const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
      await watch.online(env.link.id).finally(() => watch.close());
      const old = env.linkToken;
      await linkClient(env.grpcUrl, env.userToken).rotateLinkToken({ linkId: env.link.id });
      const fresh = await until('the token file changing', async () => {
        const saved = (await readFile(env.linkTokenFile, 'utf8')).trim();
        return saved !== old ? saved : undefined;
      });
      assert.match(fresh, /^ll_/);
      await agent.waitForOutput(/link token rotated and saved/);
      assert.equal((await env.store.linkByToken(fresh))?.id, env.link.id, 'the new token works');
      assert.equal((await env.store.linkByToken(old))?.id, env.link.id, 'the old one still works, for now');
      await until('the old token expiring', async () => ((await env.store.linkByToken(old)) === undefined ? true : undefined), 10_000);
      assert.equal((await env.store.linkByToken(fresh))?.id, env.link.id);
      // linkd stays connected, and comes back with the new token after a restart.
      assert.ok(await env.registry.get(env.user.id, env.link.id));
      const refused = await new RawSession(env.grpcUrl, old, hello()).ended;
      assert.equal(refused?.code, Code.Unauthenticated);
    } finally {
      await agent.stop();
    }
    const again = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-')]);
    try {
      const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
      await watch.online(env.link.id).finally(() => watch.close());
    } finally {
      await again.stop();
    }
  });

  it('a machine killed after receiving the new token but before acknowledging it is not locked out', async () => {
    const session = new RawSession(env.grpcUrl, env.linkToken, hello()).keepAlive(100);
    await session.frame('welcome');
    await linkClient(env.grpcUrl, env.userToken).rotateLinkToken({ linkId: env.link.id });
    const rotate = await session.frame('rotateToken');
    const fresh = rotate.frame.case === 'rotateToken' ? rotate.frame.value.newToken : '';
    // It saved the token and died before saying so.
    await session.close();
    const next = new RawSession(env.grpcUrl, fresh, hello()).keepAlive(100);
    try {
      await next.frame('welcome');
      assert.equal((await env.store.linkByToken(env.linkToken))?.id, env.link.id, 'and the old token still works within the grace');
    } finally {
      await next.close();
    }
  });

  it('rotating the token of an offline machine is refused LINK_OFFLINE', async () => {
    const error = await linkClient(env.grpcUrl, env.userToken)
      .rotateLinkToken({ linkId: env.link.id })
      .then(() => undefined, (e) => ConnectError.from(e));
    assert.equal(error?.code, Code.FailedPrecondition);
    assert.equal(reasonOf(error), 'LINK_OFFLINE');
    assert.equal((await env.store.linkByToken(env.linkToken))?.id, env.link.id, 'the token is untouched');
  });
});
