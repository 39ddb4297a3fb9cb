/**
 * The embedded default (`npm start`'s code path): a real Postgres owned by the control plane in its
 * data directory, and a local linkd paired with the local user through a pairing code.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { UserService } from '../gen/link/v1/user_service_pb.js';
import { LinkState } from '../gen/link/v1/types_pb.js';
import { startLocalStack, type LocalStack } from '../scripts/local-stack.js';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { repoRoot, spawnTracked, TestProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

describe('the embedded default', () => {
  let stack: LocalStack | undefined;

  afterEach(async () => {
    closeClients();
    await stack?.stop();
    stack = undefined;
  });

  async function start(dataDir: string) {
    stack = await startLocalStack({ dataDir, grpcPort: 0, httpPort: 0, stdio: 'pipe' });
    new TestProcess('link-server (stack)', stack.server);
    new TestProcess('linkd (stack)', stack.agent!);
    const token = (await readFile(stack.userTokenFile, 'utf8')).trim();
    const url = `http://${stack.grpcAddress}`;
    const users = createClient(
      UserService,
      createGrpcTransport({ baseUrl: url, interceptors: [(next) => (req) => (req.header.set('authorization', `Bearer ${token}`), next(req))] }),
    );
    const { user } = await users.getCurrentUser({});
    const watch = new LinkWatch(linkClient(url, token));
    try {
      const { links } = await linkClient(url, token).listLinks({});
      assert.equal(links.length, 1, 'one machine: this one');
      await watch.online(links[0].id, 30_000);
      return { user: user!, linkId: links[0].id, linkToken: (await readFile(stack.linkTokenFile, 'utf8')).trim() };
    } finally {
      await watch.close();
    }
  }

  it('keeps the same user, link and pairing across restarts on one data directory', async () => {
    const dataDir = await tempDir('link-embedded-');
    const first = await start(dataDir);
    assert.equal(first.user.local, true);
    assert.equal(first.user.admin, true);
    await stack!.stop();
    closeClients();

    const second = await start(dataDir);
    assert.equal(second.user.id, first.user.id, 'the same local user');
    assert.equal(second.linkId, first.linkId, 'the same link, online again');
    assert.equal(second.linkToken, first.linkToken, 'not paired again');
  });

  it('a control plane that was SIGKILLed starts again on its data directory', async () => {
    const dataDir = await tempDir('link-embedded-');
    const first = await start(dataDir);
    await stack!.stopAgent();
    stack!.server.kill('SIGKILL');
    await new Promise((resolve) => stack!.server.once('exit', resolve));
    // Its Postgres outlived it; the next start stops that one and carries on.
    const second = await start(dataDir);
    assert.equal(second.linkId, first.linkId);
    const { links } = await linkClient(`http://${stack!.grpcAddress}`, (await readFile(stack!.userTokenFile, 'utf8')).trim()).listLinks({});
    assert.equal(links[0].state, LinkState.ONLINE);
  });

  it('runs as a normal (non-root) user too', async () => {
    const dataDir = await tempDir('link-embedded-user-');
    let command = process.execPath;
    let args = [join(repoRoot, 'bin', 'link-server.js'), '--grpc-port', '0', '--http-port', '0', '--data-dir', join(dataDir, 'server')];
    if (process.getuid?.() === 0) {
      // As root, run it as an unprivileged account that owns its data directory.
      spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'link-test-user']);
      spawnSync('chown', ['link-test-user', dataDir]);
      await chmod(dataDir, 0o755);
      args = ['-u', 'link-test-user', '--', command, ...args];
      command = 'runuser';
    }
    const server = spawnTracked('link-server (normal user)', command, args, { env: { ...process.env, HOME: dataDir } });
    await server.waitForOutput(/"msg":"Link is running/, 60_000);
    const info = JSON.parse(await readFile(join(dataDir, 'server', 'server.json'), 'utf8'));
    assert.notEqual(info.pid, undefined);
    const owner = (await stat(join(dataDir, 'server', 'postgres', 'PG_VERSION'))).uid;
    assert.notEqual(owner, 0, 'the database files do not belong to root');
    // Signal link-server itself (runuser may sit between): it drains, stops its database, exits 0.
    process.kill(info.pid, 'SIGTERM');
    assert.equal((await server.waitForExit(30_000)).code, 0, server.tail());
  });
});
