/**
 * The dispatch signing key at rest, with real `link-server serve` processes on a real Postgres: the
 * database holds it only sealed with the key file; a wrong or missing key file stops the server
 * (it never makes a new key); a plaintext key left by an earlier version is sealed on start.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { rawPublicKey } from '../common/dispatch.js';
import { isSealed, openPrivateKey } from '../control-plane/store/dispatch-keys.js';
import { migrate } from '../control-plane/store/migrate.js';
import { freshDatabase } from './helpers/postgres.js';
import { repoRoot, spawnTracked, type TestProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

/** The PKCS#8 header of every Ed25519 private key: a stored plaintext key starts with it. */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

function serve(databaseUrl: string, dataDir: string, extra: string[] = []): TestProcess {
  return spawnTracked('link-server', process.execPath, [
    join(repoRoot, 'bin', 'link-server.js'), 'serve', '--database-url', databaseUrl, '--data-dir', dataDir,
    '--grpc-port', '0', '--http-port', '0', '--local-login', 'off', ...extra,
  ]);
}

async function startedAndStopped(server: TestProcess): Promise<void> {
  await server.waitForOutput(/Link is running at/, 30_000);
  await server.stop();
}

async function storedKeys(databaseUrl: string) {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  try {
    const dispatch = await sql<{ generation: number; public_key: Buffer; private_key: Buffer }[]>`select generation, public_key, private_key from dispatch_keys order by generation`;
    const server = await sql<{ name: string; private_key: Buffer }[]>`select name, private_key from server_keys`;
    return { dispatch, server };
  } finally {
    await sql.end({ timeout: 1 });
  }
}

const secretOf = async (file: string) => Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');

describe('the dispatch signing key at rest', () => {
  it('is sealed in Postgres with a 0600 key file in the data dir; a wrong or missing key file stops the server', async () => {
    const databaseUrl = await freshDatabase();
    const dataDir = await tempDir('link-server-');
    await startedAndStopped(serve(databaseUrl, dataDir));
    const keyFile = join(dataDir, 'signing.secret');
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600, 'the key file is private');

    const { dispatch, server } = await storedKeys(databaseUrl);
    assert.equal(dispatch.length, 1);
    for (const bytes of [...dispatch.map((r) => r.private_key), ...server.map((r) => r.private_key)]) {
      assert.equal(bytes.includes(PKCS8_ED25519), false, 'no plaintext PKCS#8 key in the database');
      assert.equal(bytes.toString('latin1').includes('PRIVATE KEY'), false, 'no PEM key in the database');
    }
    const der = openPrivateKey(await secretOf(keyFile), 1, dispatch[0].public_key, dispatch[0].private_key);
    assert.ok(der.subarray(0, PKCS8_ED25519.length).equals(PKCS8_ED25519), 'the key file opens it');

    const wrong = join(dataDir, 'wrong.secret');
    await writeFile(wrong, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    const refused = serve(databaseUrl, dataDir, ['--key-file', wrong]);
    assert.equal((await refused.waitForExit(30_000)).code, 1);
    assert.match(refused.output, /the key file .*wrong\.secret does not open the dispatch signing key in the database/);

    const missing = join(dataDir, 'missing.secret');
    const noFile = serve(databaseUrl, dataDir, ['--key-file', missing]);
    assert.equal((await noFile.waitForExit(30_000)).code, 1);
    assert.match(noFile.output, /sealed, and there is no key file at .*missing\.secret: restore the key file/);
    assert.equal(existsSync(missing), false, 'no new key file was made');
    const after = await storedKeys(databaseUrl);
    assert.deepEqual(after.dispatch.map((r) => r.public_key.toString('hex')), dispatch.map((r) => r.public_key.toString('hex')), 'no new key was made');
  });

  it('a plaintext key left by an earlier version is sealed in place on the first start with a key file, and stays the same key', async () => {
    // The database as the version before sealing left it: migrations up to 0004, the key in plaintext.
    const databaseUrl = await freshDatabase();
    const oldSql = await tempDir('link-sql-');
    for (const file of ['0001_accounts.sql', '0002_runs.sql', '0003_sandboxes.sql', '0004_token_rotation.sql']) await cp(join(repoRoot, 'sql', file), join(oldSql, file));
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
    try {
      await migrate(sql, oldSql);
      await sql`insert into server_keys (name, public_key, private_key) values ('dispatch', ${rawPublicKey(publicKey)}, ${der})`;
    } finally {
      await sql.end({ timeout: 1 });
    }

    const dataDir = await tempDir('link-server-');
    await mkdir(dataDir, { recursive: true });
    await startedAndStopped(serve(databaseUrl, dataDir));
    const { dispatch, server } = await storedKeys(databaseUrl);
    assert.deepEqual(server.map((r) => r.name).filter((n) => n === 'dispatch'), [], 'the old row is gone');
    assert.equal(dispatch.length, 1);
    assert.ok(dispatch[0].public_key.equals(rawPublicKey(publicKey)), 'the same key: paired machines still trust it');
    assert.ok(isSealed(dispatch[0].private_key) && !dispatch[0].private_key.includes(PKCS8_ED25519), 'sealed');
    assert.ok(openPrivateKey(await secretOf(join(dataDir, 'signing.secret')), 1, dispatch[0].public_key, dispatch[0].private_key).equals(der));
  });
});
