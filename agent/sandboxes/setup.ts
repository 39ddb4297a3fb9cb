/**
 * A new worktree's set-up, once per worktree, from its repository's main checkout:
 *
 *   link.json          {"setup": {"copy": [".env", "config/*.local.json"], "command": "npm ci"}}
 *   .worktreeinclude   one pattern per line (used when link.json names no `copy`)
 *
 * Patterns are gitignore-style (`*.env`, `config/`, `!keep.me`, `/top-only`; a plain path is a
 * pattern too; `#` starts a comment). The untracked files of the main checkout that match (ignored
 * ones included: that is what `.env` usually is) are copied into the new worktree at the same
 * paths; tracked files are in the worktree already. Then the command, if any, runs once with
 * `sh -c` in the worktree; its output and exit code are kept so the run that made the worktree
 * shows them, and a failure is reported, never hidden.
 */
import { spawn } from 'node:child_process';
import { copyFile, lstat, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { inside } from '../../common/sandbox-names.js';
import { LogLine_Stream } from '../../gen/link/v1/run_pb.js';
import { git } from './git.js';

export interface SetupResult {
  /** Relative paths copied (at most MAX_LISTED are listed). */
  copied: string[];
  command: string;
  exitCode: number;
  /** The end of the command's output, at most MAX_OUTPUT bytes. */
  output: string;
}

const MAX_LISTED = 200;
const MAX_OUTPUT = 16 * 1024;
const COMMAND_DEADLINE_MS = 15 * 60_000;

interface SetupPlan {
  patterns: string[];
  command: string;
}

/** What the repository asks for; undefined when it has no set-up. Throws on a malformed link.json. */
export async function readSetup(repository: string): Promise<SetupPlan | undefined> {
  let patterns: string[] | undefined;
  let command = '';
  const json = await readFile(join(repository, 'link.json'), 'utf8').catch(() => undefined);
  if (json !== undefined) {
    let setup: { copy?: unknown; command?: unknown } | undefined;
    try {
      setup = (JSON.parse(json) as { setup?: typeof setup }).setup;
    } catch (error) {
      throw new Error(`link.json is not valid JSON: ${(error as Error).message}`);
    }
    if (setup?.copy !== undefined) {
      if (!Array.isArray(setup.copy) || setup.copy.some((p) => typeof p !== 'string')) throw new Error('link.json: setup.copy must be a list of patterns');
      patterns = setup.copy as string[];
    }
    if (setup?.command !== undefined) {
      if (typeof setup.command !== 'string') throw new Error('link.json: setup.command must be a string');
      command = setup.command.trim();
    }
  }
  if (!patterns) {
    const include = await readFile(join(repository, '.worktreeinclude'), 'utf8').catch(() => undefined);
    patterns = include?.split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#')) ?? [];
  }
  return patterns.length > 0 || command ? { patterns, command } : undefined;
}

/** Runs the set-up of a new worktree. `env` is the environment of the command. */
export async function runSetup(repository: string, worktree: string, plan: SetupPlan, env: NodeJS.ProcessEnv): Promise<SetupResult> {
  const copied: string[] = [];
  if (plan.patterns.length > 0) {
    const listed = await git(['ls-files', '-z', '--others', '--ignored', ...plan.patterns.flatMap((p) => ['--exclude', p])], { cwd: repository });
    for (const file of listed.split('\0').filter(Boolean)) {
      const from = join(repository, file);
      const to = join(worktree, file);
      // Regular files only, and only into the worktree.
      const stat = await lstat(from).catch(() => undefined);
      if (!stat?.isFile() || !inside(worktree, to)) continue;
      await mkdir(dirname(to), { recursive: true });
      await copyFile(from, to);
      if (copied.length < MAX_LISTED) copied.push(file);
    }
  }
  if (!plan.command) return { copied, command: '', exitCode: 0, output: '' };
  const { exitCode, output } = await runCommand(plan.command, worktree, env);
  return { copied, command: plan.command, exitCode, output };
}

function runCommand(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ exitCode: number; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT);
    };
    const child = spawn('sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const timer = setTimeout(() => {
      keep(Buffer.from(`\nthe set-up command did not finish within ${COMMAND_DEADLINE_MS / 60_000} minutes and was stopped\n`));
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, COMMAND_DEADLINE_MS);
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ exitCode: -1, output: `cannot start the set-up command: ${error.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code ?? -1, output });
    });
  });
}

/**
 * Shows a worktree's set-up in the run that made it, as log lines on stderr prefixed `set-up: `:
 * what was copied, the command and its output, and how it ended. True when the command failed
 * (the caller then fails the run).
 */
export function reportSetup(setup: SetupResult, emit: (event: { event: { case: 'log'; value: { stream: LogLine_Stream; text: string } } }) => void): boolean {
  const say = (text: string) => emit({ event: { case: 'log', value: { stream: LogLine_Stream.STDERR, text: `set-up: ${text}` } } });
  if (setup.copied.length > 0) say(`copied from the main checkout: ${setup.copied.join(', ')}`);
  if (!setup.command) return false;
  say(`$ ${setup.command}`);
  for (const line of setup.output.replace(/\n$/, '').split('\n')) if (line) say(line);
  say(setup.exitCode === 0 ? 'done' : `failed with exit code ${setup.exitCode}`);
  return setup.exitCode !== 0;
}
