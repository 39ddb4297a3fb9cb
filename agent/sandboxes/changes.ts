/**
 * What a git sandbox changed against a base commit: every file git sees (untracked ones too,
 * ignored ones not), renames, deletions, binary files marked as such, with each file's unified
 * diff, capped so that the whole fits well inside one frame.
 *
 *   run start ─▶ HEAD (the run's base; the sandbox's first one is kept in <root>/<handle>.base)
 *   run end   ─▶ copy of the index ─▶ git add -A ─▶ git diff --cached <base> ─▶ RunChanges ─▶ done
 *
 * The worktree's own index is never written: `git add -A` goes into a temporary copy
 * (GIT_INDEX_FILE), so what the user (or the agent) staged stays as it was.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Logger } from '../../common/log.js';
import { FileDiffStatus, type RunChangesSchema } from '../../gen/link/v1/run_pb.js';
import type { EventInit } from '../runs/outbox.js';
import { SandboxError } from '../../common/sandbox-names.js';
import { git } from './git.js';
import type { SandboxInfo } from './sandboxes.js';

export type RunChangesInit = MessageInitShape<typeof RunChangesSchema>;
type FileDiffInit = NonNullable<RunChangesInit['files']>[number];

/** Files listed in one RunChanges; the rest are counted. */
export const MAX_FILES = 1000;
/** Patch text of all files together. */
export const MAX_PATCH_BYTES = 1024 * 1024;
/** Patch text of one file. */
export const MAX_FILE_PATCH_BYTES = 256 * 1024;
const MAX_PATH_BYTES = 4096;
const GIT_TIMEOUT_MS = 60_000;
const COMMIT = /^[0-9a-f]{40}$/;
/**
 * Settings a worktree's repository could carry that would make linkd's own git (outside any
 * bubblewrap) run a program: they are switched off for every command here.
 */
export const SAFE_GIT = ['-c', 'core.fsmonitor=false', '-c', 'core.hooksPath=/dev/null', '-c', 'diff.external=', '-c', 'core.pager=cat', '-c', 'core.quotepath=false'];
/**
 * Repository settings that make git run a program (or speak a protocol that does). A bubblewrap
 * sandbox's own config (local or worktree scope) can be written by what runs confined in it, so
 * linkd refuses to run git there while it has one: the program would run outside the sandbox. (A
 * worktree sandbox's runs are not confined: they could run any program themselves.)
 */
const UNSAFE_KEY = /^(filter\.|credential\.|protocol\.|includeif\.|include\.|core\.(fsmonitor|sshcommand|hookspath|pager|editor|askpass|gitproxy|alternaterefscommand|worktree)$|diff\.external$|sequence\.editor$|gpg\.|uploadpack\.|remote\.[^.]+\.(uploadpack|receivepack|vcs|proxy)$|http\.|.*\.(command|textconv|program|driver|helper|process|cmd)$)/;

/**
 * Throws UNSAFE_REPOSITORY_CONFIG when the repository's own config (not the user's global or the
 * system one) sets something that would make linkd's git run a program.
 */
export async function refuseUnsafeConfig(cwd: string): Promise<void> {
  const parts = (await git(['config', '--list', '--show-scope', '--name-only', '-z'], { cwd })).split('\0');
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const [scope, key] = [parts[i], parts[i + 1].toLowerCase()];
    if ((scope === 'local' || scope === 'worktree') && UNSAFE_KEY.test(key)) {
      throw new SandboxError('UNSAFE_REPOSITORY_CONFIG', `the sandbox's git config sets ${key}, which would run a program outside the sandbox; linkd does not run git there (remove it with git config --unset)`);
    }
  }
}

const DIFF_FLAGS = ['--cached', '--find-renames', '--no-ext-diff', '--no-textconv', '--no-color', '--ignore-submodules=none'];

/** The commit checked out in `cwd`, or undefined (not a repository, or no commit yet). */
export async function headCommit(cwd: string): Promise<string | undefined> {
  try {
    const head = (await git([...SAFE_GIT, 'rev-parse', '--verify', 'HEAD^{commit}'], { cwd, timeoutMs: GIT_TIMEOUT_MS })).trim();
    return COMMIT.test(head) ? head : undefined;
  } catch {
    return undefined;
  }
}

const baseFile = (root: string, handle: string) => join(root, `${handle}.base`);

/**
 * The commit the sandbox's first run started from (what its threads changed is measured from
 * there), or undefined when no run has been recorded in it.
 */
export async function firstBase(root: string, handle: string): Promise<string | undefined> {
  const text = (await readFile(baseFile(root, handle), 'utf8').catch(() => '')).trim();
  return COMMIT.test(text) ? text : undefined;
}

/** Forgets the sandbox's first base (call when the sandbox is deleted). */
export async function forgetBase(root: string, handle: string): Promise<void> {
  await rm(baseFile(root, handle), { force: true });
}

/**
 * The change in the work tree at `cwd` (committed since `base` or not, untracked files included)
 * against `base`. Throws when git fails; the caller decides what a missing diff means.
 */
export async function sandboxChanges(cwd: string, base: string, options: { confined: boolean }): Promise<RunChangesInit> {
  if (!COMMIT.test(base)) throw new Error('the base is not a commit id');
  const scratch = await mkdtemp(join(tmpdir(), 'link-index-'));
  try {
    const index = join(scratch, 'index');
    const realIndex = (await git([...SAFE_GIT, 'rev-parse', '--path-format=absolute', '--git-path', 'index'], { cwd })).trim();
    // Starting from the real index saves hashing every file again; without one, add -A builds it.
    await copyFile(realIndex, index).catch(() => undefined);
    if (options.confined) await refuseUnsafeConfig(cwd);
    const env = { ...process.env, GIT_INDEX_FILE: index };
    await git([...SAFE_GIT, 'add', '--all', '--ignore-errors', '--', '.'], { cwd, env, timeoutMs: GIT_TIMEOUT_MS });
    const numstat = await git([...SAFE_GIT, 'diff', ...DIFF_FLAGS, '--numstat', '-z', base, '--'], { cwd, env, timeoutMs: GIT_TIMEOUT_MS });
    const nameStatus = await git([...SAFE_GIT, 'diff', ...DIFF_FLAGS, '--name-status', '-z', base, '--'], { cwd, env, timeoutMs: GIT_TIMEOUT_MS });
    const all = combine(parseNumstat(numstat), parseNameStatus(nameStatus));
    const files = all.slice(0, MAX_FILES);
    const patches = await readPatches(cwd, env, base, files);
    let truncated = all.length > files.length;
    let shownBytes = 0;
    files.forEach((file, i) => {
      const patch = patches.texts[i];
      if (file.binary) return;
      if (patch !== undefined) {
        file.patch = patch;
        shownBytes += Buffer.byteLength(patch);
      }
      if (patch === undefined || patches.cut.has(i)) {
        file.patchTruncated = true;
        truncated = true;
      }
    });
    const note = truncated
      ? `diff truncated: ${all.length} files, ${formatBytes(patches.totalBytes)}${patches.complete ? '' : ' or more'} of patches; ${files.length} files and ${formatBytes(shownBytes)} shown`
      : '';
    return { baseCommit: base, files, truncated, omittedFiles: all.length - files.length, note };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Follows one run in a git sandbox: `begin` notes HEAD (and the sandbox's first base); `emitter`
 * wraps the run's emit so that, when the harness reports `done`, the run's change goes out first.
 * A change that cannot be computed is logged and left out; the run still ends.
 */
export class RunChangeRecorder {
  private constructor(
    private readonly cwd: string,
    private readonly base: string,
    private readonly confined: boolean,
    private readonly log: Logger,
  ) {}

  /** Undefined for a directory sandbox (nothing to diff against: its changes are not recorded). */
  static async begin(root: string, sandbox: SandboxInfo, log: Logger): Promise<RunChangeRecorder | undefined> {
    if (sandbox.provider === 'directory') return undefined;
    const base = await headCommit(sandbox.path);
    if (!base) return undefined;
    if (!(await firstBase(root, sandbox.handle))) await writeFile(baseFile(root, sandbox.handle), `${base}\n`, { mode: 0o600 }).catch(() => undefined);
    return new RunChangeRecorder(sandbox.path, base, sandbox.provider === 'bwrap', log);
  }

  /** An emit that sends the run's change just before its `done`. */
  emitter(emit: (event: EventInit) => void): (event: EventInit) => void {
    return (event) => {
      if (event.event?.case !== 'done') return emit(event);
      void sandboxChanges(this.cwd, this.base, { confined: this.confined })
        .then((changes) => emit({ event: { case: 'changes', value: changes } }))
        .catch((error: Error) => this.log.warn({ err: error.message }, 'cannot tell what the run changed'))
        .finally(() => emit(event));
    };
  }
}

function parseNumstat(out: string): { path: string; oldPath: string; additions: number; deletions: number; binary: boolean }[] {
  const parts = out.split('\0');
  const rows = [];
  for (let i = 0; i < parts.length; i++) {
    const fields = /^(-|\d+)\t(-|\d+)\t(.*)$/s.exec(parts[i]);
    if (!fields) continue;
    const [, added, deleted, rest] = fields;
    let path = rest;
    let oldPath = '';
    // A rename: an empty path, then the old and the new one.
    if (rest === '') {
      oldPath = parts[++i] ?? '';
      path = parts[++i] ?? '';
    }
    rows.push({ path, oldPath, additions: added === '-' ? 0 : Number(added), deletions: deleted === '-' ? 0 : Number(deleted), binary: added === '-' && deleted === '-' });
  }
  return rows;
}

function parseNameStatus(out: string): Map<string, FileDiffStatus> {
  const parts = out.split('\0');
  const statuses = new Map<string, FileDiffStatus>();
  for (let i = 0; i < parts.length; i++) {
    const code = parts[i];
    if (!/^[A-Z]\d*$/.test(code)) continue;
    if (code.startsWith('R') || code.startsWith('C')) {
      i++;
      statuses.set(parts[++i] ?? '', code.startsWith('R') ? FileDiffStatus.RENAMED : FileDiffStatus.ADDED);
    } else {
      statuses.set(parts[++i] ?? '', code === 'A' ? FileDiffStatus.ADDED : code === 'D' ? FileDiffStatus.DELETED : FileDiffStatus.MODIFIED);
    }
  }
  return statuses;
}

function combine(rows: ReturnType<typeof parseNumstat>, statuses: Map<string, FileDiffStatus>): (FileDiffInit & { binary: boolean })[] {
  return rows.map((row) => ({
    path: clip(row.path),
    oldPath: clip(row.oldPath),
    status: statuses.get(row.path) ?? (row.oldPath ? FileDiffStatus.RENAMED : FileDiffStatus.MODIFIED),
    binary: row.binary,
    additions: row.additions,
    deletions: row.deletions,
    patch: '',
    patchTruncated: false,
  }));
}

const clip = (path: string) => (Buffer.byteLength(path) <= MAX_PATH_BYTES ? path : Buffer.from(path).subarray(0, MAX_PATH_BYTES).toString('utf8'));

/**
 * Reads `git diff -p` as a stream, one file per `diff --git` line (in the order --numstat lists
 * them), keeping at most MAX_FILE_PATCH_BYTES of each and MAX_PATCH_BYTES of all; git is stopped
 * once nothing more would be kept. `cut` holds the files whose patch is incomplete.
 */
function readPatches(cwd: string, env: NodeJS.ProcessEnv, base: string, files: FileDiffInit[]): Promise<Patches> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', [...SAFE_GIT, 'diff', ...DIFF_FLAGS, '--patch', base, '--'], {
      cwd,
      env: { ...env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: GIT_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    const splitter = new PatchSplitter(files.length, () => child.kill('SIGKILL'));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => splitter.data(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      splitter.end();
      if (!splitter.stopped && code !== 0) return reject(new Error(`git diff exited with ${code}`));
      resolve({ texts: splitter.texts, cut: splitter.cut, totalBytes: splitter.totalBytes, complete: !splitter.stopped });
    });
  });
}

type Patches = { texts: (string | undefined)[]; cut: Set<number>; totalBytes: number; complete: boolean };

/** Splits `git diff -p` output into one patch per file within the limits readPatches describes. */
class PatchSplitter {
  readonly texts: (string | undefined)[] = [];
  readonly cut = new Set<number>();
  totalBytes = 0;
  /** Nothing more would be kept: git was stopped. */
  stopped = false;
  private index = -1;
  private current: string[] = [];
  private currentBytes = 0;
  private kept = 0;
  private partial = '';
  /** Inside one enormous line (minified code): counted and dropped up to its end, never held. */
  private skipping = false;

  constructor(
    private readonly fileCount: number,
    private readonly kill: () => void,
  ) {}

  data(chunk: string): void {
    if (this.stopped) return;
    this.partial += chunk;
    let at: number;
    while (!this.stopped && (at = this.partial.indexOf('\n')) >= 0) {
      if (this.skipping) {
        this.totalBytes += Buffer.byteLength(this.partial.slice(0, at + 1));
        this.skipping = false;
      } else this.line(this.partial.slice(0, at + 1));
      this.partial = this.partial.slice(at + 1);
    }
    if (this.partial.length > MAX_FILE_PATCH_BYTES) {
      this.totalBytes += Buffer.byteLength(this.partial);
      if (this.index >= 0) this.cut.add(this.index);
      this.partial = '';
      this.skipping = true;
    }
  }

  /** The output ended: the last line and the last file's patch. */
  end(): void {
    if (!this.stopped && this.partial && !this.skipping) this.line(this.partial);
    if (!this.stopped) this.close();
    else if (this.index >= 0 && this.index < this.fileCount && this.texts[this.index] === undefined) {
      this.texts[this.index] = this.current.join('');
      this.cut.add(this.index);
    }
  }

  private line(text: string): void {
    const bytes = Buffer.byteLength(text);
    this.totalBytes += bytes;
    if (text.startsWith('diff --git ')) {
      this.close();
      this.index++;
      this.current = [];
      this.currentBytes = 0;
      if (this.index >= this.fileCount || this.kept >= MAX_PATCH_BYTES) return this.stop();
    }
    if (this.index < 0 || this.index >= this.fileCount) return;
    if (this.currentBytes + bytes > MAX_FILE_PATCH_BYTES || this.kept + bytes > MAX_PATCH_BYTES) {
      this.cut.add(this.index);
      if (this.kept + bytes > MAX_PATCH_BYTES) this.kept = MAX_PATCH_BYTES;
      return;
    }
    this.current.push(text);
    this.currentBytes += bytes;
    this.kept += bytes;
  }

  private close(): void {
    if (this.index >= 0 && this.index < this.fileCount) this.texts[this.index] = this.current.join('');
  }

  private stop(): void {
    this.stopped = true;
    this.kill();
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
