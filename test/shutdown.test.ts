/**
 * Staged shutdown of the control plane: Drain first, then a bounded close even when clients hang.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chmod, readFile } from 'node:fs/promises';
import { Code } from '@connectrpc/connect';
import { closeClients, hello, pairLink, RawSession } from './helpers/clients.js';
import { delay, repoRoot, spawnTracked } from './helpers/processes.js';
import { startTestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';
import { freshDatabase } from './helpers/postgres.js';
import postgres from 'postgres';

describe('control-plane shutdown', () => {
  afterEach(() => closeClients());

  it('close() sends Drain and finishes even when an agent ignores it', async () => {
    const env = await startTestServer({ drainGraceMs: 300 });
    const stubborn = new RawSession(env.grpcUrl, env.linkToken, hello());
    await stubborn.frame('welcome');
    await env.close(); // fails if a session or connection outlives it
    const drain = await stubborn.frame('drain');
    assert.equal(drain.frame.case === 'drain' && drain.frame.value.reason, 'the control plane is shutting down');
    const ending = await stubborn.end();
    assert.ok(ending === undefined || ending.code === Code.Unavailable || ending.code === Code.Canceled, `ended with ${ending?.message}`);
  });

  it('close() waits for an ended session to store when its link was last seen before it closes the store', async () => {
    const env = await startTestServer({ drainGraceMs: 300 });
    const session = new RawSession(env.grpcUrl, env.linkToken, hello());
    await session.frame('welcome');
    // Another connection holds the link's row: the session's last write waits for it.
    const sql = postgres(env.databaseUrl, { max: 1, onnotice: () => undefined });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const holding = new Promise<void>((resolve) => (locked = resolve));
    const holder = sql.begin(async (tx) => {
      await tx`select 1 from links where id = ${env.link.id} for update`;
      locked();
      await released;
    });
    try {
      await holding;
      const endedAt = Date.now();
      await session.close();
      const closing = env.close(); // fails if a session outlives it
      // The row is let go when close() returns, or after 4 s (within close()'s wait for ending sessions).
      await Promise.race([closing.catch(() => undefined), delay(4_000)]);
      release();
      await holder;
      await closing;
      const [row] = await sql<{ last_seen_at: Date }[]>`select last_seen_at from links where id = ${env.link.id}`;
      assert.ok(row.last_seen_at.getTime() >= endedAt, `last seen ${row.last_seen_at.toISOString()}, before the session ended at ${new Date(endedAt).toISOString()}`);
    } finally {
      release();
      await holder.catch(() => undefined);
      await sql.end({ timeout: 1 });
    }
  });

  it('link-server exits 0 on SIGTERM with a hanging agent, and refuses new sessions while draining', async () => {
    const dataDir = await tempDir('link-server-');
    if (process.getuid?.() === 0) await chmod(dataDir, 0o711); // the embedded Postgres runs as `postgres`
    const server = spawnTracked('link-server', process.execPath, [
      join(repoRoot, 'bin', 'link-server.js'),
      '--grpc-port', '0', '--http-port', '0', '--data-dir', dataDir, '--drain-grace', '1500',
    ]);
    await server.waitForOutput(/"msg":"Link is running/);
    const info = JSON.parse(await readFile(join(dataDir, 'server.json'), 'utf8'));
    const url = `http://127.0.0.1:${info.grpcPort}`;
    const { token } = await pairLink(url, (await readFile(info.userTokenFile, 'utf8')).trim());
    const stubborn = new RawSession(url, token, hello());
    await stubborn.frame('welcome');

    server.child.kill('SIGTERM');
    await stubborn.frame('drain');
    // While it drains, a new session is turned away with a reason that says to retry.
    let refused;
    for (let i = 0; i < 20 && !refused; i++) {
      const late = new RawSession(url, token, hello());
      const ended = await late.end();
      if (ended) refused = ended;
      else await delay(50);
    }
    assert.ok(refused, 'a session opened during the drain is refused');
    assert.ok([Code.Unavailable].includes(refused.code), `refused with ${refused.message}`);

    const { code } = await server.waitForExit(10_000);
    assert.equal(code, 0);
    await stubborn.end();
  });

  it('link-server with an external database starts in a data directory that does not exist yet, and stops on SIGTERM', async () => {
    const dataDir = join(await tempDir('link-server-'), 'not', 'made', 'yet');
    const server = spawnTracked('link-server', process.execPath, [
      join(repoRoot, 'bin', 'link-server.js'),
      'serve', '--grpc-port', '0', '--http-port', '0', '--data-dir', dataDir, '--database-url', await freshDatabase(), '--local-login', 'off',
    ]);
    await server.waitForOutput(/"msg":"Link is running/);
    const info = JSON.parse(await readFile(join(dataDir, 'server.json'), 'utf8'));
    assert.equal((await fetch(`http://127.0.0.1:${info.httpPort}/readyz`)).status, 200);
    server.child.kill('SIGTERM');
    assert.equal((await server.waitForExit(10_000)).code, 0);
  });
});
