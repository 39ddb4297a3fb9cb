/**
 * Workspaces: the folders the machine's owner lets linkd work in. Only the machine sets them —
 * `linkd workspace add DIR` (saved in `<data>/workspaces.json`), `--workspace DIR` on `linkd start`,
 * `LINKD_WORKSPACES` (colon-separated) or the `--config` file — and the control plane can never
 * widen the list: a local repository is worked on only when its resolved path lies inside one.
 *
 * Also where sandboxes live: never inside a git work tree, so that nothing above a sandbox can be
 * mistaken for its repository.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileAtomically } from '../../common/files.js';
import { inside } from '../../common/sandbox-names.js';
import { git } from './git.js';

/** At most this many workspaces (the control plane refuses longer lists in capabilities). */
export const MAX_WORKSPACES = 64;

const FILE = 'workspaces.json';

/** The workspaces saved with `linkd workspace add`, as written (absolute paths). */
export async function savedWorkspaces(dataDir: string): Promise<string[]> {
  try {
    const parsed = JSON.parse(await readFile(join(dataDir, FILE), 'utf8')) as { workspaces?: unknown };
    return Array.isArray(parsed.workspaces) ? parsed.workspaces.filter((w): w is string => typeof w === 'string') : [];
  } catch {
    return [];
  }
}

async function save(dataDir: string, workspaces: string[]): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await writeFileAtomically(join(dataDir, FILE), `${JSON.stringify({ workspaces }, null, 2)}\n`);
}

/** Adds a folder (resolved; it must exist and be a directory). Returns the resolved path. */
export async function addWorkspace(dataDir: string, dir: string): Promise<string> {
  const real = await realDirectory(dir);
  const saved = await savedWorkspaces(dataDir);
  if (!saved.includes(real)) {
    if (saved.length >= MAX_WORKSPACES) throw new Error(`at most ${MAX_WORKSPACES} workspaces`);
    await save(dataDir, [...saved, real]);
  }
  return real;
}

/** Removes a saved folder (as given or resolved); false when it was not saved. */
export async function removeWorkspace(dataDir: string, dir: string): Promise<boolean> {
  const saved = await savedWorkspaces(dataDir);
  const given = resolve(dir);
  const real = await realpath(given).catch(() => given);
  const kept = saved.filter((w) => w !== given && w !== real);
  if (kept.length === saved.length) return false;
  await save(dataDir, kept);
  return true;
}

/**
 * The workspaces in force: the saved ones and those given on the command line, resolved, de-duplicated,
 * existing directories only (`missing` says which were skipped). Read again at every probe, so
 * `linkd workspace add` takes effect without a restart.
 */
export async function activeWorkspaces(dataDir: string, given: readonly string[] = []): Promise<{ workspaces: string[]; missing: string[] }> {
  const workspaces: string[] = [];
  const missing: string[] = [];
  for (const dir of [...given, ...(await savedWorkspaces(dataDir))]) {
    try {
      const real = await realDirectory(dir);
      if (!workspaces.includes(real)) workspaces.push(real);
    } catch {
      missing.push(dir);
    }
  }
  return { workspaces: workspaces.slice(0, MAX_WORKSPACES), missing };
}

/** `--workspace DIR` / LINKD_WORKSPACES ("a:b") / a config file's list (joined with ","). */
export function parseWorkspaces(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(/[:,]/).map((s) => s.trim()).filter(Boolean).map((s) => resolve(s.replace(/^~(?=\/|$)/, homedir())))];
}

/** The resolved path of `path` when it lies inside (or is) one of the resolved `workspaces`. */
export async function inWorkspace(workspaces: readonly string[], path: string): Promise<string | undefined> {
  const real = await realpath(path).catch(() => undefined);
  if (!real) return undefined;
  return workspaces.some((w) => w === real || inside(w, real)) ? real : undefined;
}

/**
 * Where sandboxes live: `<data>/sandboxes`, unless the data directory is inside a git work tree
 * (as `./.data` in a checkout is); then `$XDG_STATE_HOME/linkd/<hash of the data dir>/sandboxes`
 * (`~/.local/state/...`), so that no sandbox is ever inside a repository.
 */
export async function sandboxRootFor(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const data = resolve(dataDir);
  await mkdir(data, { recursive: true, mode: 0o700 });
  let inRepository = false;
  try {
    const answer = await git(['rev-parse', '--is-inside-work-tree'], { cwd: data, timeoutMs: 10_000, env: { ...env, GIT_DIR: undefined, GIT_WORK_TREE: undefined } });
    inRepository = answer.trim() === 'true';
  } catch {
    // not in a repository (or no git): the data directory is fine
  }
  if (!inRepository) return join(data, 'sandboxes');
  const state = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(state, 'linkd', createHash('sha256').update(data).digest('hex').slice(0, 12), 'sandboxes');
}

async function realDirectory(dir: string): Promise<string> {
  const real = await realpath(resolve(dir.replace(/^~(?=\/|$)/, homedir())));
  if (!(await stat(real)).isDirectory()) throw new Error(`${dir} is not a directory`);
  return real;
}
