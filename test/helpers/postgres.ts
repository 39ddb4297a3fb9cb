/**
 * One real Postgres for the whole test run (the same embedded binaries `npm start` uses, with fsync
 * off), started on first use and stopped by the root hook. Each caller gets a fresh database. As root
 * in a checkout the `postgres` user cannot reach, it runs from the same shared copy `npm start`
 * arranges; a cluster placed outside its temp dir is removed with it.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { createLogger } from '../../common/log.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../control-plane/store/embedded.js';

let server: Promise<EmbeddedDatabase> | undefined;
let serverDir: string | undefined;
let clusterDir: string | undefined;

async function cluster(): Promise<EmbeddedDatabase> {
  server ??= (async () => {
    // Outside the per-test temp dirs, which are removed after each test.
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'link-test-pg-'));
    serverDir = dir;
    const database = await startEmbeddedPostgres(dir, createLogger({ name: 'test-postgres', level: 'silent' }), {
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '300' },
    });
    if (database.clusterOutside) clusterDir = database.clusterDir;
    return database;
  })();
  return server;
}

/** A new, empty database on the shared test server; returns its URL. */
export async function freshDatabase(): Promise<string> {
  const { url } = await cluster();
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end({ timeout: 1 });
  }
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** Stops the shared server (root afterAll). */
export async function stopPostgres(): Promise<void> {
  if (!server) return;
  const running = await server.catch(() => undefined);
  server = undefined;
  await running?.stop();
  const { rm } = await import('node:fs/promises');
  for (const dir of [serverDir, clusterDir]) if (dir) await rm(dir, { recursive: true, force: true });
  serverDir = clusterDir = undefined;
}

