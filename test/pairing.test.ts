/**
 * Pairing a machine: a one-time code from the user, traded by the real `linkd login` for a link.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMetadataOf, reasonOf } from '../common/errors.js';
import { LinkState } from '../gen/link/v1/types_pb.js';
import { closeClients, Code, ConnectError, linkClient, LinkWatch } from './helpers/clients.js';
import { spawnLinkd } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

describe('pairing a machine', () => {
  let env: TestServer;
  let watch: LinkWatch | undefined;

  beforeEach(async () => {
    env = await startTestServer();
  });

  afterEach(async () => {
    await watch?.close();
    watch = undefined;
    closeClients();
    await env.close();
  });

  async function loginWith(code: string, dir?: string) {
    const home = dir ?? (await tempDir('linkd-'));
    const login = spawnLinkd(['login', '--server', env.grpcUrl, '--code', code, '--token-file', join(home, 'config', 'token'), '--data-dir', home]);
    const { code: exit } = await login.waitForExit(20_000);
    return { exit, output: login.output, home };
  }

  it('linkd login trades the code for a link, and linkd start brings it online', async () => {
    watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    const pairing = await linkClient(env.grpcUrl, env.userToken).startPairing({ linkName: 'build box' });
    assert.match(pairing.code, /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    assert.equal(pairing.command, `linkd login --server ${env.grpcUrl} --code ${pairing.code}`);
    assert.ok(pairing.expiresAt && Number(pairing.expiresAt.seconds) * 1000 > Date.now() + 9 * 60_000, 'valid for ten minutes');

    const { exit, output, home } = await loginWith(pairing.code.toLowerCase());
    assert.equal(exit, 0, output);
    assert.match(output, /now linked to Link as "build box"/);
    const tokenFile = join(home, 'config', 'token');
    assert.equal((await stat(tokenFile)).mode & 0o777, 0o600, 'the token file is private');
    const saved = JSON.parse(await readFile(join(home, 'config', 'link.json'), 'utf8'));
    assert.equal(saved.server, env.grpcUrl);
    const { publicKey } = await env.store.dispatchKey();
    assert.equal(saved.dispatchPublicKey, publicKey.toString('base64'), 'linkd keeps the dispatch-verification key');

    // No --server: linkd start uses the one it logged in with.
    const agent = spawnLinkd(['start', '--token-file', tokenFile, '--data-dir', home]);
    try {
      const online = await watch.online(saved.linkId, 20_000);
      assert.equal(online.name, 'build box');
      const { links } = await linkClient(env.grpcUrl, env.userToken).listLinks({});
      assert.ok(links.some((l) => l.id === saved.linkId && l.state === LinkState.ONLINE));
    } finally {
      await agent.stop();
    }
  });

  it('a code works once', async () => {
    const { code } = await linkClient(env.grpcUrl, env.userToken).startPairing({});
    assert.equal((await loginWith(code)).exit, 0);
    const again = await loginWith(code);
    assert.equal(again.exit, 1);
    assert.match(again.output, /already used.*\(PAIRING_CODE_USED\)/);
  });

  it('concurrent attempts with one code: exactly one gets a link', async () => {
    const { code } = await linkClient(env.grpcUrl, env.userToken).startPairing({});
    const anonymous = linkClient(env.grpcUrl);
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => anonymous.completePairing({ code, machineId: `m${i}`, hostname: `h${i}` })),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.equal(reasonOf(r.reason), 'PAIRING_CODE_USED');
  });

  it('an expired code is refused', async () => {
    const { code } = await env.store.createPairingCode(env.user.id, '', -1_000);
    const result = await loginWith(code);
    assert.equal(result.exit, 1);
    assert.match(result.output, /expired.*\(PAIRING_CODE_EXPIRED\)/);
  });

  it('a guessed code is refused, and guessing is rate-limited', async () => {
    const anonymous = linkClient(env.grpcUrl);
    const attempt = (code: string) =>
      anonymous.completePairing({ code, machineId: 'guesser', hostname: 'guesser' }).then(
        () => undefined,
        (e) => ConnectError.from(e),
      );
    const first = await attempt('AAAA-AAAA');
    assert.equal(first?.code, Code.NotFound);
    assert.equal(reasonOf(first), 'PAIRING_CODE_INVALID');
    for (let i = 0; i < 9; i++) await attempt(`ZZZZ-ZZ${String(i).padStart(2, '0')}`);
    // Past ten wrong codes a minute, even a right one is turned away for now.
    const { code } = await linkClient(env.grpcUrl, env.userToken).startPairing({});
    const limited = await attempt(code);
    assert.equal(limited?.code, Code.ResourceExhausted);
    assert.equal(reasonOf(limited), 'RATE_LIMITED');
    assert.ok(Number(errorMetadataOf(limited).retry_after_ms) > 0, 'it says when to try again');
  });

  it('a pairing code is only issued to a logged-in user', async () => {
    const error = await linkClient(env.grpcUrl).startPairing({}).catch((e) => ConnectError.from(e));
    assert.equal((error as ConnectError).code, Code.Unauthenticated);
  });
});
