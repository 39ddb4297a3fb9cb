/** git, run without a terminal prompt and with a deadline. */
import { execFile } from 'node:child_process';
import { SandboxError } from '../../common/sandbox-names.js';
import type { SandboxFailure } from '../../common/reasons.js';

const GIT_ENV = { GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', SSH_ASKPASS: 'true', GCM_INTERACTIVE: 'never', LC_ALL: 'C' };

export function git(args: string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      { cwd: options.cwd, timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024, env: { ...(options.env ?? process.env), ...GIT_ENV }, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (error) {
          const why = (stderr || error.message).trim().split('\n').slice(-3).join(' ');
          reject(Object.assign(new Error(`git ${args[0]} failed: ${why}`), { stderr, code: (error as { code?: unknown }).code }));
        } else resolve(stdout);
      },
    );
  });
}

/** Runs git; a failure becomes a SandboxError with `reason`. */
export async function gitOr(reason: SandboxFailure, args: string[], options: Parameters<typeof git>[1] = {}): Promise<string> {
  try {
    return await git(args, options);
  } catch (error) {
    throw new SandboxError(reason, (error as Error).message);
  }
}

/** True when `ref` exists in the repository at `cwd`. */
export async function hasRef(cwd: string, ref: string): Promise<boolean> {
  try {
    await git(['show-ref', '--verify', '--quiet', ref], { cwd });
    return true;
  } catch {
    return false;
  }
}
