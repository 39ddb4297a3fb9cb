/**
 * Real processes started by tests: every one is tracked, its output kept, and the root hook in
 * test/setup.ts fails the test that leaves one running (and kills it).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(fileURLToPath(import.meta.url), '..', '..', '..');

const live = new Set<TestProcess>();

export class TestProcess {
  output = '';
  private wake: () => void = () => undefined;
  private changed = new Promise<void>((r) => (this.wake = r));
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    live.add(this);
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString();
      const wake = this.wake;
      this.changed = new Promise<void>((r) => (this.wake = r));
      wake();
      if (process.env.LINK_TEST_VERBOSE) process.stderr.write(`[${name}] ${chunk}`);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolveExit) =>
      child.once('exit', (code, signal) => {
        live.delete(this);
        resolveExit({ code, signal });
      }),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves once the output matches `pattern`; rejects at the deadline or when the process exits first. */
  async waitForOutput(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.output);
      if (match) return match;
      if (!this.running) throw new Error(`${this.name} exited before printing ${pattern}:\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms:\n${this.tail()}`);
      await Promise.race([this.changed, this.exited, delay(Math.max(1, deadline - Date.now()))]);
    }
  }

  /** Waits for the exit, at most `timeoutMs`; then kills it and throws. */
  async waitForExit(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(new Error(`${this.name} did not exit within ${timeoutMs} ms:\n${this.tail()}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sent again this long after the first stop signal (linkd: the second signal cancels its runs at once). */
  repeatStopAfterMs: number | undefined;

  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const again = this.repeatStopAfterMs === undefined ? undefined : setTimeout(() => this.running && this.child.kill(signal), this.repeatStopAfterMs);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    clearTimeout(again);
  }

  tail(chars = 3000): string {
    return this.output.slice(-chars);
  }
}

export function spawnTracked(name: string, command: string, args: string[], options: SpawnOptions = {}): TestProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  return new TestProcess(name, child);
}

/** Starts `linkd <args>` from bin/, as a user would. */
export function spawnLinkd(args: string[], env: NodeJS.ProcessEnv = {}): TestProcess {
  const child = spawnTracked(`linkd ${args[0]}`, process.execPath, [join(repoRoot, 'bin', 'linkd.js'), ...args], {
    env: { ...process.env, ...env },
  });
  // A test that stops linkd mid-run does not wait for the run: the second signal cancels it.
  child.repeatStopAfterMs = 500;
  return child;
}

/** Runs a linkd command to its end (with a deadline): its exit code and its output. */
export async function runLinkd(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<{ code: number | null; output: string }> {
  const child = spawnLinkd(args, env);
  const { code } = await child.waitForExit(timeoutMs);
  return { code, output: child.output };
}

/** Processes still running; the root hook kills these and fails the test. */
export function liveProcesses(): TestProcess[] {
  return [...live];
}

/** Resolves after `ms`; its timer does not keep the process alive. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
