/**
 * linkd runs only what is signed by the key pinned at pairing: a control plane that is not the
 * machine's own (a wrong --server, a spoofed name, a man in the middle) gets nothing run, and the
 * machine says why. A rotated key reaches linkd endorsed by the old one.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { rawPublicKey, endorseKey } from '../common/dispatch.js';
import { RunStatus } from '../gen/link/v1/run_pb.js';
import { reasonOf } from '../common/errors.js';
import { closeClients, Code, ConnectError, linkClient, LinkWatch } from './helpers/clients.js';
import { FAKE_SANDBOX_HANDLE, startFakeControlPlane, type FakeControlPlane } from './helpers/fake-control-plane.js';
import { repoRoot, runLinkd, spawnLinkd, spawnTracked, type TestProcess } from './helpers/processes.js';
import { collect, threadClient } from './helpers/runs.js';
import { startTestServer, TEST_KEY_SECRET, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

describe('linkd trusts only the dispatch key pinned at pairing', () => {
  let fake: FakeControlPlane | undefined;
  let agent: TestProcess | undefined;

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    await fake?.close();
    fake = undefined;
  });

  /** A machine's linkd directories with a token file (a copied one will do) and, if given, link.json. */
  async function machine(pinnedKey?: Buffer) {
    const home = await tempDir('linkd-trust-');
    const tokenFile = join(home, 'config', 'token');
    await mkdir(dirname(tokenFile), { recursive: true });
    await writeFile(tokenFile, 'll_a-copied-token\n', { mode: 0o600 });
    if (pinnedKey) {
      const saved = { server: '', linkId: 'lnk_real', linkName: 'laptop', userName: 'me', dispatchPublicKey: pinnedKey.toString('base64'), pairedAt: new Date().toISOString() };
      await writeFile(join(home, 'config', 'link.json'), JSON.stringify(saved), { mode: 0o600 });
    }
    return { home, tokenFile, marker: join(home, 'ran') };
  }

  const otherKey = () => generateKeyPairSync('ed25519');

  it('without link.json a signed dispatch is refused NO_KEY, nothing runs, and start, status and doctor say why', async () => {
    const m = await machine();
    fake = await startFakeControlPlane({ command: `touch ${m.marker}` });
    agent = spawnLinkd(['start', '--server', fake.url, '--token-file', m.tokenFile, '--data-dir', m.home]);
    await agent.waitForOutput(/"level":50.*no dispatch key pinned at pairing.*linkd login --code/);
    assert.equal((await fake.hello).dispatchKeyMissing, true, 'Hello says the machine cannot verify dispatches');
    const answer = await fake.answer;
    assert.equal(answer.accepted, false, 'the dispatch was refused');
    assert.equal(!answer.accepted && answer.rejected.reason, 'NO_KEY');
    assert.equal(existsSync(m.marker), false, 'the command did not run');

    const status = await runLinkd(['status', '--data-dir', m.home]);
    assert.notEqual(status.code, 0, status.output);
    assert.match(status.output, /cannot run anything: .*no dispatch key pinned at pairing.*linkd login --code/);
    const doctor = await runLinkd(['doctor', '--server', fake.url, '--token-file', m.tokenFile, '--data-dir', m.home]);
    assert.equal(doctor.code, 1, doctor.output);
    assert.match(doctor.output, /FIX\s+dispatch key\s+no dispatch key pinned at pairing .*NO_KEY\)\n\s+→ pair this machine again.*linkd login --code/);
  });

  it('with link.json pinning another key, the dispatch is refused KEY_MISMATCH and nothing runs', async () => {
    const m = await machine(rawPublicKey(otherKey().publicKey));
    fake = await startFakeControlPlane({ command: `touch ${m.marker}` });
    agent = spawnLinkd(['start', '--server', fake.url, '--token-file', m.tokenFile, '--data-dir', m.home]);
    const answer = await fake.answer;
    assert.equal(!answer.accepted && answer.rejected.reason, 'KEY_MISMATCH');
    assert.equal(existsSync(m.marker), false, 'the command did not run');
    await agent.waitForOutput(/not the one pinned at pairing/);
  });

  it("orders from a control plane that is not the machine's own are refused: sandbox operations (unsigned or signed), a token rotation, a Shutdown", async () => {
    for (const pinned of [undefined, rawPublicKey(otherKey().publicKey)]) {
      const m = await machine(pinned);
      const tokenBefore = (await readFile(m.tokenFile, 'utf8')).trim();
      fake = await startFakeControlPlane({ command: `touch ${m.marker}`, orders: true });
      agent = spawnLinkd(['start', '--server', fake.url, '--token-file', m.tokenFile, '--data-dir', m.home]);
      const replies = await fake.sandboxReplies;
      const failure = (opId: string) => {
        const result = replies.get(opId)?.result;
        return result?.case === 'failure' ? result.value.reason : `not refused: ${result?.case}`;
      };
      assert.equal(failure('op_unsigned'), 'UNSIGNED');
      assert.equal(failure('op_signed'), pinned ? 'KEY_MISMATCH' : 'NO_KEY');
      const made = execFileSync('find', [m.home, '-name', FAKE_SANDBOX_HANDLE], { encoding: 'utf8' });
      assert.equal(made, '', 'no sandbox was made on the machine');
      await fake.secondHello;
      assert.equal((await readFile(m.tokenFile, 'utf8')).trim(), tokenBefore, 'the token file was not replaced');
      assert.equal(agent.running, true, 'a Shutdown from it does not stop linkd for good: it came back');
      await agent.stop();
      agent = undefined;
      await fake.close();
      fake = undefined;
    }
  });

  it('a chain from the pinned key that the pinned key did not sign is refused, and the pin stays', async () => {
    const pinned = rawPublicKey(otherKey().publicKey);
    const m = await machine(pinned);
    fake = await startFakeControlPlane({
      command: `touch ${m.marker}`,
      // The fake server claims the machine's key endorsed its own: it can only sign with its own key.
      chain: (own) => [
        { publicKey: pinned, endorsement: Buffer.alloc(0) },
        { publicKey: own.publicKey, endorsement: endorseKey(own.publicKey, own.privateKey) },
      ],
    });
    agent = spawnLinkd(['start', '--server', fake.url, '--token-file', m.tokenFile, '--data-dir', m.home]);
    const answer = await fake.answer;
    assert.equal(!answer.accepted && answer.rejected.reason, 'KEY_MISMATCH');
    assert.equal(existsSync(m.marker), false, 'the command did not run');
    const saved = JSON.parse(await readFile(join(m.home, 'config', 'link.json'), 'utf8'));
    assert.equal(saved.dispatchPublicKey, pinned.toString('base64'), 'the pin did not move');
  });
});

describe('the control plane and a machine that is not paired properly', () => {
  let env: TestServer;
  let agent: TestProcess | undefined;

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    closeClients();
    await env.close();
  });

  it('shows it as unable to run, and refuses SendMessage LINK_NOT_PAIRED before anything is queued', async () => {
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    // The token alone, copied elsewhere: no link.json beside it.
    const home = await tempDir('linkd-copied-');
    const tokenFile = join(home, 'token');
    await writeFile(tokenFile, await readFile(env.linkTokenFile), { mode: 0o600 });
    agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', tokenFile, '--data-dir', home]);
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    const online = await watch.online(env.link.id).finally(() => watch.close());
    assert.equal(online.dispatchKeyMissing, true, 'the page learns the machine cannot run');

    const threads = threadClient(env.grpcUrl, env.userToken);
    const { thread } = await threads.createThread({});
    const refused = await threads.sendMessage({ threadId: thread!.id, text: 'true', harness: 'shell', linkId: env.link.id }).then(
      () => assert.fail('SendMessage was accepted'),
      (error: unknown) => ConnectError.from(error),
    );
    assert.equal(refused.code, Code.FailedPrecondition);
    assert.equal(reasonOf(refused), 'LINK_NOT_PAIRED');
    assert.match(refused.rawMessage, /not paired properly.*linkd login --code/);
    const stored = await threads.getThread({ threadId: thread!.id });
    assert.equal(stored.runs.length, 0, 'no run was queued');
  });
});

describe('rotating the control plane\'s dispatch key', () => {
  let env: TestServer;
  let agent: TestProcess | undefined;

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    closeClients();
    await env.close();
  });

  it('link-server rotate-dispatch-key: after a restart linkd follows the endorsed chain, saves the new pin and runs what the new key signs', async () => {
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    const linkFile = join(dirname(env.linkTokenFile), 'link.json');
    const before = JSON.parse(await readFile(linkFile, 'utf8')).dispatchPublicKey as string;
    const home = await tempDir('linkd-rotate-');
    agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', home]);
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    await watch.online(env.link.id).finally(() => watch.close());

    const serverDir = await tempDir('link-server-');
    const keyFile = join(serverDir, 'signing.secret');
    await writeFile(keyFile, `${TEST_KEY_SECRET.toString('base64')}\n`, { mode: 0o600 });
    const rotate = spawnTracked('link-server rotate-dispatch-key', process.execPath, [
      join(repoRoot, 'bin', 'link-server.js'), 'rotate-dispatch-key', '--database-url', env.databaseUrl, '--key-file', keyFile, '--data-dir', serverDir,
    ]);
    const { code } = await rotate.waitForExit(30_000);
    assert.equal(code, 0, rotate.output);
    const rotated = /^([A-Za-z0-9+/=]{44})$/m.exec(rotate.output)?.[1];
    assert.ok(rotated && rotated !== before, `a new public key was printed: ${rotate.output}`);

    // The control plane restarts (a new replica on the same database and port) and signs with the new key.
    const grpcPort = env.server.grpcPort;
    const oldLink = env.link;
    await env.close();
    env = await startTestServer({ databaseUrl: env.databaseUrl, grpcPort, heartbeatIntervalMs: 500 });
    await agent.waitForOutput(/saved the new dispatch key/, 30_000);
    assert.equal(JSON.parse(await readFile(linkFile, 'utf8')).dispatchPublicKey, rotated, 'link.json pins the new key');

    const marker = join(home, 'ran-with-new-key');
    const threads = threadClient(env.grpcUrl, env.userToken);
    const { thread } = await threads.createThread({});
    const { runId } = await threads.sendMessage({ threadId: thread!.id, text: `touch ${marker}`, harness: 'shell', linkId: oldLink.id });
    const events = await collect(threads, runId);
    const done = events.at(-1)?.event;
    assert.equal(done?.case === 'done' && done.value.status, RunStatus.COMPLETED, JSON.stringify(done));
    assert.equal(existsSync(marker), true, 'the run signed by the new key ran');
  });
});
