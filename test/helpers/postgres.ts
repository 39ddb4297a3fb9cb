/**
 * One real Postgres for the whole test run (the same embedded binaries `npm start` uses, with fsync
 * off), started on first use and stopped by the root hook. Each caller gets a fresh database: empty
 * (`freshDatabase`), or a copy of one migrated once per run (`migratedDatabase`, what a test server
 * starts on). As root in a checkout the `postgres` user cannot reach, it runs from the same shared
 * copy `npm start` arranges; a cluster placed outside its temp dir is removed with it.
 *
 * In a parallel run the mocha main process starts it (`shareTestPostgres`, test/setup.ts) and hands
 * it to the workers in LINK_TEST_POSTGRES_URL; a worker uses it and leaves stopping it to that process.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import postgres, { type Sql } from 'postgres';
import { createLogger } from '../../common/log.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../control-plane/store/embedded.js';
import { migrate } from '../../control-plane/store/migrate.js';
import { repoRoot } from './processes.js';

/** The run's shared Postgres (a parallel run's workers): its URL, set by `shareTestPostgres`. */
export const SHARED_POSTGRES_ENV = 'LINK_TEST_POSTGRES_URL';
/** The database every `migratedDatabase` is copied from: sql/ applied, nothing else, never connected to afterwards. */
const MIGRATED_TEMPLATE = 't_migrated';

let server: Promise<EmbeddedDatabase> | undefined;
let serverDir: string | undefined;
let clusterDir: string | undefined;
let template: Promise<void> | undefined;

async function start(): Promise<EmbeddedDatabase> {
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

/** The cluster's URL (its `postgres` database): the run's shared one, else this process's own. */
async function clusterUrl(): Promise<string> {
  return process.env[SHARED_POSTGRES_ENV] ?? (await start()).url;
}

async function createDatabase(template?: string): Promise<string> {
  const url = await clusterUrl();
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    await admin.unsafe(`create database ${name}${template ? ` template ${template}` : ''}`);
  } finally {
    await admin.end({ timeout: 1 });
  }
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** Makes the migrated template on this process's own cluster (once). */
function migratedTemplate(): Promise<void> {
  template ??= (async () => {
    const url = new URL(await createDatabase());
    const made = url.pathname.slice(1);
    const sql = postgres(url.toString(), { max: 1, onnotice: () => undefined });
    try {
      await migrate(sql, resolve(repoRoot, 'sql'));
    } finally {
      await sql.end({ timeout: 1 });
    }
    url.pathname = '/postgres';
    const admin = postgres(url.toString(), { max: 1, onnotice: () => undefined });
    try {
      await admin.unsafe(`alter database ${made} rename to ${MIGRATED_TEMPLATE}`);
    } finally {
      await admin.end({ timeout: 1 });
    }
  })();
  return template;
}

/** A new, empty database on the shared test server; returns its URL. */
export async function freshDatabase(): Promise<string> {
  return createDatabase();
}

/**
 * A new database with every migration of sql/ applied (a copy of one migrated once per run), as a
 * server that has started on it once leaves it; returns its URL. The server that opens it still
 * checks the migrations (their checksums) and finds nothing to apply.
 */
export async function migratedDatabase(): Promise<string> {
  if (!process.env[SHARED_POSTGRES_ENV]) await migratedTemplate();
  return createDatabase(MIGRATED_TEMPLATE);
}

/**
 * Starts this process's Postgres with its migrated template and hands both to the processes started
 * after it (a parallel run's workers) through LINK_TEST_POSTGRES_URL. `stopPostgres` stops it.
 */
export async function shareTestPostgres(): Promise<void> {
  const { url } = await start();
  await migratedTemplate();
  process.env[SHARED_POSTGRES_ENV] = url;
}

/** Stops this process's own server (root afterAll, the global teardown); a shared one is its starter's to stop. */
export async function stopPostgres(): Promise<void> {
  if (!server) return;
  const running = await server.catch(() => undefined);
  server = undefined;
  template = undefined;
  if (process.env[SHARED_POSTGRES_ENV] === running?.url) delete process.env[SHARED_POSTGRES_ENV];
  await running?.stop();
  const { rm } = await import('node:fs/promises');
  for (const dir of [serverDir, clusterDir]) if (dir) await rm(dir, { recursive: true, force: true });
  serverDir = clusterDir = undefined;
}


/** A Postgres of its own that a test may restart (`pg_ctl restart`) without disturbing other suites. */
export interface RestartablePostgres {
  /** A database on it, owned by the test's role (`link`, trust on loopback). */
  url: string;
  /** `pg_ctl restart -m <mode>`: `fast` ends sessions cleanly, `immediate` kills every backend (crash recovery). */
  restart(mode: 'fast' | 'immediate'): Promise<void>;
  /** `pg_ctl stop -m fast`: Postgres is down (connections refused) until `up()`. */
  down(): Promise<void>;
  /** Starts it again after `down()`. */
  up(): Promise<void>;
  /** Its port on 127.0.0.1. */
  port: number;
  /** Stops it and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a dedicated cluster (the embedded binaries, fsync off, commits synchronous) on a free port in its own temp
 * directory, listening on 127.0.0.1 only. As root it runs as the `postgres` OS user. The caller
 * owes `stop()`.
 */
export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const { chmod, chown, mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { execFile } = await import('node:child_process');
  const { freePort } = await import('../../common/net.js');
  // The same binaries as every other Postgres of the tests: as root, a copy the postgres user can
  // reach when it cannot enter this checkout.
  const { preparePostgresBinaries } = await import('../../control-plane/store/postgres-home.js');
  const { dirname } = await import('node:path');
  const bin = dirname((await preparePostgresBinaries()).postgres);
  const root = process.getuid?.() === 0;
  const run = (tool: string, args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const [command, argv] = root ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
      execFile(command, argv, { timeout: 60_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`${tool} ${args[0]} failed: ${stderr || error.message}`)) : resolve(stdout),
      );
    });
  const dir = await mkdtemp(join(tmpdir(), 'link-test-pg-own-'));
  if (root) {
    await chmod(dir, 0o700);
    const { execFileSync } = await import('node:child_process');
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString());
    await chown(dir, id('-u'), id('-g'));
  }
  const data = join(dir, 'data');
  const port = await freePort();
  await run('initdb', ['-D', data, '-U', 'link', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    // fsync off is safe here (the OS, which keeps what was written, does not crash), but commits
    // stay synchronous: with synchronous_commit off, `-m immediate` loses commits already
    // acknowledged (events acked to linkd, which then forgets them), as a real crash would.
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c max_connections=100',
  ].join(' ');
  const ctl = (args: string[]) => run('pg_ctl', ['-D', data, '-w', '-t', '60', '-l', join(dir, 'log'), '-o', options, ...args]);
  await ctl(['start']);
  let stopped = false;
  return {
    url: `postgres://link@127.0.0.1:${port}/postgres`,
    port,
    restart: async (mode) => {
      await ctl(['-m', mode, 'restart']);
    },
    down: async () => {
      await ctl(['-m', 'fast', 'stop']);
    },
    up: async () => {
      await ctl(['start']);
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await ctl(['-m', 'immediate', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The test's own connections to a test server's database and to its cluster, to take the server's
 * LISTEN away for a while (a replica that missed notifications). Connects on first use; the caller
 * owes `end()`.
 */
export class DatabaseAdmin {
  /** One connection to the database; it stays open through `whileNotListening`. */
  readonly sql: Sql;
  private readonly cluster: Sql;

  constructor(private readonly databaseUrl: string) {
    this.sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
    const clusterUrl = new URL(databaseUrl);
    clusterUrl.pathname = '/postgres';
    this.cluster = postgres(clusterUrl.toString(), { max: 1, onnotice: () => undefined });
  }

  /**
   * Kills the server's listening backend and keeps it from listening again (the database takes no
   * new connections; those already open, `sql` and the server's pool, go on) while `act` runs with
   * `sql`; then lets it connect again.
   */
  async whileNotListening(act: (sql: Sql) => Promise<void>): Promise<void> {
    await this.sql`select 1`;
    const database = new URL(this.databaseUrl).pathname.slice(1);
    await this.cluster.unsafe(`alter database "${database}" allow_connections false`);
    try {
      const killed = await this.sql<{ pid: number }[]>`
        select pid from pg_stat_activity, pg_terminate_backend(pid)
        where datname = current_database() and pid <> pg_backend_pid() and query ilike 'listen %'`;
      if (killed.length === 0) throw new Error('the listening backend was not found');
      const pids = killed.map((k) => k.pid);
      const deadline = Date.now() + 20_000;
      while ((await this.sql`select 1 from pg_stat_activity where pid = any(${pids})`).length > 0) {
        if (Date.now() > deadline) throw new Error('the listening backend did not go within 20000 ms');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await act(this.sql);
    } finally {
      await this.cluster.unsafe(`alter database "${database}" allow_connections true`);
    }
  }

  async end(): Promise<void> {
    for (const sql of [this.sql, this.cluster]) await sql.end({ timeout: 1 });
  }
}
