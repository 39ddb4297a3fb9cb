/**
 * Runs a harness command inside bubblewrap: the whole filesystem read-only, the home directory
 * replaced by an empty one (with only the CLIs' own config and cache put back), a fresh /tmp, its own
 * PID namespace, and write access to its sandbox (and the mirror its worktree commits into) only.
 * The network stays: the CLIs need their model APIs.
 */
import { delimiter, isAbsolute, join, relative } from 'node:path';
import type { HarnessCommand } from '../harnesses/harness.js';

/** What the CLIs keep under the home directory and need to write (their login, sessions, caches). */
const HOME_STATE = ['.claude', '.claude.json', '.codex', '.gemini', '.cache', '.npm'];

export interface BwrapOptions {
  sandbox: string;
  /** The bare mirror of a worktree sandbox. */
  mirror?: string;
  home: string;
  env: NodeJS.ProcessEnv;
}

export function inBwrap(command: HarnessCommand, options: BwrapOptions): HarnessCommand {
  const { sandbox, mirror, home, env } = options;
  const under = (path: string) => {
    const rel = relative(home, path);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  };
  const args = ['--die-with-parent', '--unshare-pid', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--tmpfs', home];
  // Programs the user installed under their home (nvm, ~/.local/bin, …) stay runnable, read-only.
  for (const dir of (env.PATH ?? '').split(delimiter)) if (isAbsolute(dir) && under(dir)) args.push('--ro-bind-try', dir, dir);
  const state = HOME_STATE.map((name) => join(home, name));
  for (const variable of ['CODEX_HOME', 'CLAUDE_CONFIG_DIR']) {
    const value = env[variable];
    if (value && isAbsolute(value)) state.push(value);
  }
  for (const path of state) args.push('--bind-try', path, path);
  if (mirror) args.push('--bind', mirror, mirror);
  args.push('--bind', sandbox, sandbox, '--setenv', 'TMPDIR', '/tmp', '--chdir', sandbox, '--', command.file, ...command.args);
  return { file: 'bwrap', args, env: command.env };
}
