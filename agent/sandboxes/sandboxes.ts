/**
 * The machine's sandboxes: where runs execute. Files live under linkd's data directory:
 *
 *   <root>/<handle>/                  the sandbox (a git worktree, or a plain directory)
 *   <root>/<handle>.json              what it is: provider, repository, branch, created, last used
 *   <data>/mirrors/<hash>.git         one bare mirror per remote repository, shared by its worktrees
 *
 * The root is `<data>/sandboxes`, or outside the data directory when that is inside a git work tree
 * (see sandboxRootFor). A local repository (an absolute path inside a workspace) gets worktrees of
 * its own (`git -C repo worktree add`), never a clone, set up from its `.worktreeinclude` or
 * `link.json` once each; `in-place` runs in the repository's folder itself and never removes it.
 *
 * Handles come from the control plane and are checked against a strict pattern; every path is
 * computed from them and checked to lie under the root. Concurrent ensures of one sandbox share one
 * operation; operations on one mirror are serialized. A new worktree asks the remote beside its
 * checkout (see mirrors.ts): the refs it starts from when the mirror was fetched in the last 30 s,
 * else a fetch (git's maintenance of the mirror then runs after the ensure); an existing one, and
 * one made again from its own branch, are ready without the network (a thread's later runs), the
 * mirror fetched in the background afterwards, at most every 30 s. Past `maxSandboxes`, the least
 * recently used idle sandbox that holds nothing that would be lost (a clean worktree, whose commits stay in the
 * mirror, or an empty directory) is evicted; it is made again on its next use.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, realpath, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from '../../common/log.js';
import { exists, writeFileAtomically } from '../../common/files.js';
import { git, gitOr } from './git.js';
import { addWorktree, checkedOut, fetchMirror, maintainMirror, makeMirror, removeWorktree } from './mirrors.js';
import { checkBranch, checkRepository, HANDLE, inside, invalid, isLocalRepository, PROVIDERS, SandboxError, type ProviderName } from '../../common/sandbox-names.js';
import { addLocalWorktree, checkLocalRepository, commonDir, defaultBranch, removeLocalWorktree } from './local-repositories.js';
import { readSetup, runSetup, type SetupResult } from './setup.js';

export interface SandboxSpecInit {
  handle: string;
  provider: string;
  repository: string;
  branch: string;
}

export interface SandboxMeta {
  handle: string;
  provider: ProviderName;
  repository: string;
  branch: string;
  createdAt: string;
  lastUsedAt: string;
  /** Where it is when not under the root: an in-place sandbox's repository folder. */
  path?: string;
}

export interface SandboxInfo extends SandboxMeta {
  path: string;
  /** The bare mirror (or a local repository's git directory) its worktree commits into. */
  mirror?: string;
  /** Set by the ensure that made a worktree with a set-up. */
  setup?: SetupResult;
}

export interface SandboxKeeperOptions {
  dataDir: string;
  log: Logger;
  /** Repository URL schemes the machine accepts (default https and ssh). */
  allowedSchemes?: Iterable<string>;
  /** Past this many sandboxes, idle ones are evicted (default 50). */
  maxSandboxes?: number;
  /** Whether a run is using the sandbox now. */
  busy?: (handle: string) => boolean;
  gitTimeoutMs?: number;
  /** Where sandboxes live (default `<data>/sandboxes`; see sandboxRootFor). */
  sandboxRoot?: string;
  /** The workspaces in force (resolved); local repositories must lie inside one. */
  workspaces?: () => readonly string[];
  /** The environment a worktree's set-up command runs with. */
  env?: NodeJS.ProcessEnv;
}

/**
 * A mirror fetched less than this long ago is taken to be the remote's as it probably is: a new
 * worktree of it checks the remote's refs it starts from instead of fetching. And an existing
 * worktree's mirror is fetched in the background at most this often.
 */
const REFRESH_INTERVAL_MS = 30_000;

/** An ensure records a sandbox's last use again only when the recorded one is older than this. */
const LAST_USE_RESOLUTION_MS = 60_000;

/** Whether two records are of the same sandbox, where it is, whenever used. */
function sameSandbox(a: SandboxMeta, b: SandboxMeta): boolean {
  return a.provider === b.provider && a.repository === b.repository && a.branch === b.branch && a.path === b.path && a.createdAt === b.createdAt;
}

/** Keeps this machine's sandboxes: makes, syncs, lists, evicts and removes them under <data>/sandboxes. */
export class SandboxKeeper {
  readonly root: string;
  readonly mirrors: string;
  private readonly allowed: Set<string>;
  private readonly inFlight = new Map<string, Promise<SandboxInfo>>();
  private readonly mirrorLocks = new Map<string, Promise<unknown>>();
  private resolvedRoot: string | undefined;
  /** When each mirror was last fetched (or a background fetch of it started). */
  private readonly fetchedAt = new Map<string, number>();
  private readonly refreshing = new Set<Promise<void>>();

  constructor(private readonly options: SandboxKeeperOptions) {
    this.root = resolve(options.sandboxRoot ?? join(options.dataDir, 'sandboxes'));
    this.mirrors = resolve(options.dataDir, 'mirrors');
    this.allowed = new Set([...(options.allowedSchemes ?? ['https', 'ssh'])].map((s) => s.toLowerCase()));
  }

  /** Checks a spec without touching the disk; throws INVALID_FIELD. */
  check(spec: SandboxSpecInit): void {
    if (!HANDLE.test(spec.handle)) throw invalid('handle', 'a sandbox handle is "sbx_" and 20 lowercase letters or digits');
    if (!(PROVIDERS as readonly string[]).includes(spec.provider)) throw invalid('provider', `unknown sandbox provider "${spec.provider}"`);
    if (spec.provider === 'directory') {
      if (spec.repository) throw invalid('repository', 'a directory sandbox has no repository');
      if (spec.branch) checkBranch(spec.branch);
    } else if (isLocalRepository(spec.repository) || spec.provider === 'in-place') {
      if (!isLocalRepository(spec.repository)) throw invalid('repository', 'an in-place sandbox needs a local repository (an absolute path on the machine)');
      if (spec.repository.length > 4096 || /[\x00-\x1f\x7f]/.test(spec.repository)) throw invalid('repository', 'invalid repository path');
      if (spec.provider === 'in-place') {
        if (spec.branch) throw invalid('branch', 'an in-place sandbox runs on the folder\'s current branch; name no branch');
      } else checkBranch(spec.branch);
    } else {
      if (!spec.repository) throw invalid('repository', `a ${spec.provider} sandbox needs a repository`);
      checkRepository(spec.repository, this.allowed);
      checkBranch(spec.branch);
    }
  }

  /** Finds or makes the sandbox. Concurrent calls for one handle share one operation. */
  ensure(spec: SandboxSpecInit): Promise<SandboxInfo> {
    try {
      this.check(spec);
    } catch (error) {
      return Promise.reject(error);
    }
    const running = this.inFlight.get(spec.handle);
    if (running) return running;
    const operation = this.make(spec).finally(() => this.inFlight.delete(spec.handle));
    this.inFlight.set(spec.handle, operation);
    return operation;
  }

  /** Removes a sandbox's files. SANDBOX_BUSY while a run uses it. */
  async delete(handle: string): Promise<void> {
    if (!HANDLE.test(handle)) throw invalid('handle', 'a sandbox handle is "sbx_" and 20 lowercase letters or digits');
    if (this.options.busy?.(handle) || this.inFlight.has(handle)) throw new SandboxError('SANDBOX_BUSY', `sandbox ${handle} is in use by a run`);
    await this.remove(handle);
  }

  /** Whether a run uses the sandbox now, or it is being made: git actions on it are refused then. */
  isBusy(handle: string): boolean {
    return Boolean(this.options.busy?.(handle)) || this.inFlight.has(handle);
  }

  async get(handle: string): Promise<SandboxInfo | undefined> {
    if (!HANDLE.test(handle)) return undefined;
    const meta = await this.readMeta(handle);
    return meta && this.info(meta);
  }

  async list(): Promise<SandboxInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return [];
    }
    const handles = names.filter((name) => name.endsWith('.json') && HANDLE.test(name.slice(0, -'.json'.length))).map((name) => name.slice(0, -'.json'.length));
    const metas = await Promise.all(handles.map((handle) => this.readMeta(handle)));
    const out = metas.flatMap((meta) => (meta ? [this.info(meta)] : []));
    return out.sort((a, b) => b.lastUsedAt.localeCompare(a.lastUsedAt));
  }

  /** Marks a sandbox used now (for eviction order). */
  async touch(handle: string): Promise<void> {
    const meta = await this.readMeta(handle);
    if (meta) await this.writeMeta({ ...meta, lastUsedAt: new Date().toISOString() });
  }

  /**
   * Removes sandboxes whose branch is merged into the repository's default branch and whose
   * worktree is clean; says why it kept each of the others.
   */
  async prune(): Promise<{ removed: SandboxInfo[]; kept: { sandbox: SandboxInfo; why: string }[] }> {
    const removed: SandboxInfo[] = [];
    const kept: { sandbox: SandboxInfo; why: string }[] = [];
    for (const sandbox of await this.list()) {
      const why = await this.whyKeep(sandbox);
      if (why) kept.push({ sandbox, why });
      else {
        await this.remove(sandbox.handle);
        removed.push(sandbox);
      }
    }
    return { removed, kept };
  }

  private async whyKeep(sandbox: SandboxInfo): Promise<string | undefined> {
    if (this.options.busy?.(sandbox.handle)) return 'a run is using it';
    if (sandbox.provider === 'directory') return 'a directory sandbox has no branch to be merged';
    if (sandbox.provider === 'in-place') return 'it is the repository\'s own folder';
    if (!(await exists(sandbox.path))) return undefined;
    const dirty = await this.dirty(sandbox);
    if (dirty) return dirty;
    if (isLocalRepository(sandbox.repository)) {
      const base = await defaultBranch(sandbox.repository, '');
      const merged = base ? await git(['merge-base', '--is-ancestor', `refs/heads/${sandbox.branch}`, `refs/heads/${base}`], { cwd: sandbox.repository }).then(() => true, () => false) : false;
      return merged ? undefined : `branch ${sandbox.branch} is not merged into ${base || 'the default branch'}`;
    }
    try {
      await gitOr('GIT_FAILED', ['fetch', '--prune', '--quiet', 'origin'], { cwd: sandbox.mirror, timeoutMs: this.options.gitTimeoutMs });
      await git(['merge-base', '--is-ancestor', `refs/heads/${sandbox.branch}`, 'refs/remotes/origin/HEAD'], { cwd: sandbox.mirror });
      return undefined;
    } catch (error) {
      if ((error as { code?: unknown }).code === 1) return `branch ${sandbox.branch} is not merged into the default branch`;
      return `cannot tell whether ${sandbox.branch} is merged: ${(error as Error).message}`;
    }
  }

  /** Why a worktree holds work that removing it would lose, or undefined when it is clean. */
  private async dirty(sandbox: SandboxInfo): Promise<string | undefined> {
    try {
      const status = await git(['status', '--porcelain'], { cwd: sandbox.path });
      return status.trim() ? 'the worktree has uncommitted changes' : undefined;
    } catch (error) {
      return `cannot read the worktree's status: ${(error as Error).message}`;
    }
  }

  private async make(spec: SandboxSpecInit): Promise<SandboxInfo> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const root = await this.realRoot();
    const path = join(root, spec.handle);
    if (!inside(root, resolve(path))) throw invalid('handle', 'the sandbox path is outside the sandbox root');
    const now = new Date().toISOString();
    const previous = await this.readMeta(spec.handle);
    if (previous && (previous.provider !== spec.provider || previous.repository !== spec.repository || previous.branch !== spec.branch)) {
      throw invalid('handle', `sandbox ${spec.handle} exists here with another provider, repository or branch`);
    }
    const meta: SandboxMeta = {
      handle: spec.handle,
      provider: spec.provider as ProviderName,
      repository: spec.repository,
      branch: spec.branch,
      createdAt: previous?.createdAt ?? now,
      lastUsedAt: now,
    };
    let made = false;
    /** The mirror was fetched by this ensure, its maintenance left for later. */
    let fetched = false;
    let setup: SetupResult | undefined;
    if (spec.provider === 'directory') {
      made = !(await exists(path));
      await mkdir(path, { recursive: true, mode: 0o700 });
    } else if (isLocalRepository(spec.repository)) {
      const repository = await checkLocalRepository(this.options.workspaces?.() ?? [], spec.repository);
      if (spec.provider === 'in-place') meta.path = repository;
      else {
        await this.withMirror(repository, async () => {
          if (await exists(join(path, '.git'))) return;
          const plan = await readSetup(repository).catch((error: Error) => {
            throw new SandboxError('SETUP_FAILED', error.message);
          });
          await rm(path, { recursive: true, force: true });
          await addLocalWorktree(repository, path, spec.branch, this.options.gitTimeoutMs);
          made = true;
          if (plan) setup = await runSetup(repository, path, plan, { ...(this.options.env ?? process.env), GIT_CEILING_DIRECTORIES: dirname(path) });
        });
      }
    } else {
      const mirror = this.mirrorPath(spec.repository);
      await this.withMirror(mirror, async () => {
        const madeNow = await makeMirror(mirror, spec.repository, this.options.gitTimeoutMs);
        if (madeNow) this.fetchedAt.set(mirror, Date.now());
        // A worktree never recorded and never checked out is what an ensure stopped half-way
        // left: made again. Anything else there is kept as it is.
        if ((await exists(join(path, '.git'))) && (previous || (await checkedOut(path)))) return;
        const last = this.fetchedAt.get(mirror);
        const state = madeNow ? 'fetched' : last !== undefined && Date.now() - last < REFRESH_INTERVAL_MS ? 'recent' : 'stale';
        const started = Date.now();
        fetched = await addWorktree(mirror, path, spec.branch, state, this.options.gitTimeoutMs);
        if (fetched) this.fetchedAt.set(mirror, started);
        made = true;
      });
      // What the repository brought in is checked once, as it comes; what runs do later is theirs.
      const escape = made && (await symlinkOutside(path));
      if (escape) {
        await this.withMirror(mirror, () => removeWorktree(mirror, path));
        throw invalid('repository', `the repository has a symlink, ${escape}, that points outside its sandbox`);
      }
      if (fetched) this.inBackground(mirror, () => maintainMirror(mirror, this.options.gitTimeoutMs), 'cannot run git\'s maintenance of the mirror');
      else this.refreshLater(mirror);
    }
    // The last use is for eviction order: to the minute is enough, and spares a later run's ensure
    // a synced write.
    if (made || !previous || !sameSandbox(previous, meta) || Date.now() - Date.parse(previous.lastUsedAt) >= LAST_USE_RESOLUTION_MS) await this.writeMeta(meta);
    if (made) this.options.log.info({ handle: spec.handle, provider: spec.provider, branch: spec.branch, path }, 'sandbox made');
    await this.evictPastCap(spec.handle);
    return { ...this.info(meta), setup };
  }

  /**
   * After an ensure that did not fetch (an existing worktree, or a new one of the mirror's own branch
   * or checked against the remote's refs): fetches its mirror in the background (not awaited by the
   * ensure; at most once per REFRESH_INTERVAL_MS per mirror), so that the remote's branches a run
   * looks at (`origin/main`) are recent without a run waiting for the network. Such a worktree needs
   * nothing more from the remote: its branch is its own and never updated from it. A failure is
   * logged; the next new worktree of the mirror fetches (and fails) on its own.
   */
  private refreshLater(mirror: string): void {
    const last = this.fetchedAt.get(mirror);
    if (last !== undefined && Date.now() - last < REFRESH_INTERVAL_MS) return;
    this.fetchedAt.set(mirror, Date.now());
    this.inBackground(mirror, () => fetchMirror(mirror, this.options.gitTimeoutMs), 'cannot fetch the mirror of an existing sandbox; runs go on with what it has');
  }

  /** Runs `work` on the mirror when the operations queued on it are done; a failure is logged. */
  private inBackground(mirror: string, work: () => Promise<void>, failure: string): void {
    const running = this.withMirror(mirror, work)
      .catch((error: Error) => this.options.log.warn({ mirror, err: error.message }, failure))
      .finally(() => this.refreshing.delete(running));
    this.refreshing.add(running);
  }

  /** Resolves when no background fetch or maintenance is running (for a clean stop, and for tests). */
  async settled(): Promise<void> {
    while (this.refreshing.size > 0) await Promise.all(this.refreshing);
  }

  private async remove(handle: string): Promise<void> {
    const meta = await this.readMeta(handle);
    const path = join(await this.realRoot(), handle);
    if (meta?.provider === 'in-place') {
      // The repository's own folder: only the record goes.
    } else if (meta && isLocalRepository(meta.repository)) {
      await this.withMirror(meta.repository, () => removeLocalWorktree(meta.repository, path));
    } else if (meta && meta.provider !== 'directory') {
      const mirror = this.mirrorPath(meta.repository);
      await this.withMirror(mirror, () => removeWorktree(mirror, path));
    } else {
      await rm(path, { recursive: true, force: true });
    }
    await rm(join(this.root, `${handle}.json`), { force: true });
    this.options.log.info({ handle }, 'sandbox removed');
  }

  private async evictPastCap(keep: string): Promise<void> {
    const max = this.options.maxSandboxes ?? 50;
    const all = await this.list();
    let over = all.length - max;
    // Least recently used first.
    for (const sandbox of all.reverse()) {
      if (over <= 0) break;
      if (sandbox.handle === keep || sandbox.provider === 'in-place' || this.inFlight.has(sandbox.handle) || this.options.busy?.(sandbox.handle)) continue;
      const holds = sandbox.provider === 'directory' ? ((await readdir(sandbox.path).catch(() => [])).length > 0 ? 'files' : undefined) : await this.dirty(sandbox);
      if (holds) continue;
      this.options.log.info({ handle: sandbox.handle, max }, 'evicting the least recently used idle sandbox');
      await this.remove(sandbox.handle);
      over--;
    }
  }

  private mirrorPath(repository: string): string {
    return join(this.mirrors, `${createHash('sha256').update(repository).digest('hex').slice(0, 32)}.git`);
  }

  private withMirror<T>(mirror: string, work: () => Promise<T>): Promise<T> {
    const previous = this.mirrorLocks.get(mirror) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.mirrorLocks.set(mirror, next);
    void next.finally(() => {
      if (this.mirrorLocks.get(mirror) === next) this.mirrorLocks.delete(mirror);
    }).catch(() => undefined);
    return next;
  }

  private async realRoot(): Promise<string> {
    this.resolvedRoot ??= await realpath(this.root);
    return this.resolvedRoot;
  }

  private info(meta: SandboxMeta): SandboxInfo {
    const mirror = meta.provider === 'directory' ? undefined : isLocalRepository(meta.repository) ? commonDir(meta.repository) : this.mirrorPath(meta.repository);
    return { ...meta, path: meta.path ?? join(this.resolvedRoot ?? this.root, meta.handle), mirror };
  }

  private async readMeta(handle: string): Promise<SandboxMeta | undefined> {
    try {
      await this.realRoot();
      return JSON.parse(await readFile(join(this.root, `${handle}.json`), 'utf8')) as SandboxMeta;
    } catch {
      return undefined;
    }
  }

  private async writeMeta(meta: SandboxMeta): Promise<void> {
    const file = join(this.root, `${meta.handle}.json`);
    await writeFileAtomically(file, JSON.stringify(meta, null, 2));
  }
}

/** The first symlink under `dir` (not in .git) whose target lies outside `dir`, or undefined. */
async function symlinkOutside(dir: string): Promise<string | undefined> {
  // Folders side by side (a checkout has thousands of entries): one of the escapes, if any.
  const walk = async (current: string): Promise<string | undefined> => {
    const below: Promise<string | undefined>[] = [];
    for (const entry of await readdir(current, { withFileTypes: true })) {
      if (current === dir && entry.name === '.git') continue;
      const path = join(current, entry.name);
      if (entry.isSymbolicLink()) {
        const target = resolve(dirname(path), await readlink(path));
        if (!inside(dir, target)) return path.slice(dir.length + 1);
      } else if (entry.isDirectory()) below.push(walk(path));
    }
    return (await Promise.all(below)).find(Boolean);
  };
  const stat = await lstat(dir).catch(() => undefined);
  return stat?.isDirectory() ? walk(dir) : undefined;
}
