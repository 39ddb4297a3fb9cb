/**
 * One harness CLI process for one run: its own process group, its output split into lines and
 * parsed into events, an idle timeout (time without output, not wall time), and a staged stop:
 * the CLI's interrupt signal, then SIGTERM to the group, then SIGKILL after a grace period.
 *
 * An interactive adapter's CLI gets a stdin pipe (`RunIo.input`) and its parser's `start()` right
 * after the spawn; while the run waits for the user (`holdIdle(true)`), the idle timeout does not
 * run. Before the terminal events, requests still pending are closed (`interactions.closeAll`).
 *
 * `steer` hands a message to the parser for the running turn; `interrupt` asks the CLI to end its
 * turn its own way (the run ends INTERRUPTED with its session), and falls back to the staged stop
 * when the adapter has no interrupt or the CLI has not exited within the grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import type { RunPayload } from '../../gen/link/v1/run_pb.js';
import type { EventInit } from '../runs/outbox.js';
import type { HarnessAdapter, HarnessCommand, HarnessInput, InteractionChannel, OutputParser } from './harness.js';
import { RunFailure, type StopReason } from '../../common/reasons.js';

export interface HarnessProcessOptions {
  adapter: HarnessAdapter;
  payload: RunPayload;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Receives every event, the terminal `done` last. */
  emit: (event: EventInit) => void;
  idleTimeoutMs: number;
  /** From the interrupt to SIGTERM, and from SIGTERM to SIGKILL. */
  stopGraceMs: number;
  /** Rewrites the command line (to run it inside bubblewrap). */
  wrap?: (command: HarnessCommand) => HarnessCommand;
  /** The run's interactions, for interactive adapters (agent/runs/interactions.ts). */
  interactions?: InteractionChannel & { closeAll(): void };
}

export class HarnessProcess {
  private readonly child: ChildProcess;
  private readonly parser: OutputParser;
  private readonly readers: Interface[] = [];
  private idleTimer: NodeJS.Timeout | undefined;
  /** The run waits for the user: no idle timeout meanwhile. */
  private idleHeld = false;
  private stopping: { reason: StopReason } | undefined;
  /** The user interrupted the turn (the run ends INTERRUPTED however the CLI then exits). */
  private interrupted = false;
  private readonly killed: string[] = [];
  readonly exited: Promise<void>;

  /** Set when the CLI could not be started (not found, not executable). */
  private spawnError: Error | undefined;

  constructor(private readonly options: HarnessProcessOptions) {
    const { adapter, payload, cwd } = options;
    const command = options.wrap ? options.wrap(adapter.command(payload, cwd)) : adapter.command(payload, cwd);
    const interactive = adapter.interactive === true && options.interactions !== undefined;
    this.child = spawn(command.file, command.args, {
      cwd,
      env: { ...options.env, ...command.env },
      stdio: [interactive ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so the whole tree can be signalled
    });
    this.child.once('error', (error) => (this.spawnError = error));
    this.parser = interactive
      ? adapter.parser(payload, cwd, { input: this.input(), interactions: options.interactions!, emit: (event) => options.emit(event) })
      : adapter.parser(payload, cwd);
    this.readOutput();
    this.exited = this.watchExit();
    this.touch();
    if (this.child.pid !== undefined) this.parser.start?.();
  }

  /** The CLI's stdin as lines; a CLI that exited or closed its stdin makes writes no-ops, never errors. */
  private input(): HarnessInput {
    const stdin = this.child.stdin!;
    stdin.on('error', () => {
      // EPIPE: the CLI is gone; its exit is handled by watchExit.
    });
    return {
      write: (line) => {
        if (!stdin.writableEnded && !stdin.destroyed) stdin.write(`${line}\n`);
      },
      end: () => {
        if (!stdin.writableEnded && !stdin.destroyed) stdin.end();
      },
    };
  }

  /** Holds the idle timeout while the run waits for the user; releasing it starts a fresh one. */
  holdIdle(held: boolean): void {
    this.idleHeld = held;
    if (held) clearTimeout(this.idleTimer);
    else this.touch();
  }

  /** Each line of stdout and stderr goes through the parser, and counts as activity. */
  private readOutput(): void {
    for (const [stream, name] of [
      [this.child.stdout, 'stdout'],
      [this.child.stderr, 'stderr'],
    ] as const) {
      const reader = createInterface({ input: stream!, crlfDelay: Infinity });
      reader.on('line', (text) => {
        this.touch();
        for (const event of this.parser.line(text, name)) this.options.emit(event);
      });
      this.readers.push(reader);
    }
  }

  /** Settles once the CLI has exited (or could not start) and its last events have gone out. */
  private watchExit(): Promise<void> {
    const closed = Promise.all(this.readers.map((r) => new Promise((resolve) => r.once('close', resolve))));
    return new Promise<void>((resolve) => {
      let finished = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (finished) return;
        finished = true;
        void this.finish(code, signal, closed).then(resolve);
      };
      this.child.once('exit', (code, signal) => finish(code, signal));
      // A CLI that cannot be started (not found) may never emit 'exit'.
      this.child.once('error', () => {
        if (this.child.pid === undefined) finish(null, null);
      });
    });
  }

  private async finish(code: number | null, signal: NodeJS.Signals | null, closed: Promise<unknown>): Promise<void> {
    // Whatever the CLI left behind in its group (background jobs) goes with it: no orphans,
    // and no pipe held open forever.
    if (this.child.pid !== undefined && !this.spawnError) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
        this.killed.push(`leftover processes of group ${this.child.pid}: SIGKILL`);
      } catch {
        // the group is already empty
      }
    }
    if (!this.spawnError) await closed;
    clearTimeout(this.idleTimer);
    this.options.interactions?.closeAll();
    if (this.spawnError) {
      this.options.emit({ event: { case: 'error', value: { code: 'spawn_failed', message: this.spawnError.message } } });
    }
    for (const event of this.parser.finish({
      code,
      signal,
      cancelled: this.stopping !== undefined || this.interrupted,
      reason: this.stopping?.reason ?? (this.interrupted ? RunFailure.Interrupted : this.spawnError ? RunFailure.HarnessError : ''),
      killed: this.killed,
    })) {
      this.options.emit(event);
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Stops reading output (the outbox is full): the CLI blocks on its pipe instead of anything being dropped. */
  pause(): void {
    this.child.stdout?.pause();
    this.child.stderr?.pause();
  }

  resume(): void {
    this.child.stdout?.resume();
    this.child.stderr?.resume();
  }

  /**
   * A message for the running turn: true once the CLI took it, false when it cannot (the turn is
   * over or not started, the run is stopping) or the adapter takes no input mid-turn.
   */
  async steer(text: string): Promise<boolean> {
    if (!this.parser.steer || this.stopping || this.interrupted || this.child.exitCode !== null) return false;
    return this.parser.steer(text);
  }

  /**
   * Ends the current turn through the CLI's own interrupt, keeping its session; the staged stop
   * when the CLI is still running after the grace period (reason INTERRUPTED), or when the adapter
   * has no interrupt (CANCELLED, as a cancel). A CLI whose turn already ended is left to finish
   * within the grace period. Settles once the CLI has exited.
   */
  async interrupt(): Promise<void> {
    if (this.stopping || this.interrupted || this.child.pid === undefined || this.child.exitCode !== null) return this.exited;
    // A harness without an interrupt of its own (the shell) is stopped as on cancel.
    if (!this.parser.interrupt) return this.stop(RunFailure.Cancelled);
    this.interrupted = this.parser.interrupt();
    // A CLI whose turn is over is let finish as it ends — unless it is still at work after the
    // grace period (Claude Code running a steered message as a turn of its own).
    if (await this.exitsWithin(this.options.stopGraceMs)) return this.exited;
    this.interrupted = true;
    return this.stop(RunFailure.Interrupted);
  }

  /** Stops the run: interrupt, SIGTERM to the group, SIGKILL. `reason` goes into the done event. */
  async stop(reason: StopReason): Promise<void> {
    if (this.stopping) return this.exited;
    this.stopping = { reason };
    const grace = this.options.stopGraceMs;
    const group = this.child.pid;
    if (group === undefined || this.child.exitCode !== null) return this.exited;
    const name = this.options.adapter.binary;
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-group, signal);
        return true;
      } catch {
        return false;
      }
    };
    signalGroup(this.options.adapter.interruptSignal);
    if (await this.exitsWithin(grace)) return this.exited;
    if (signalGroup('SIGTERM')) this.killed.push(`process group ${group} (${name}): SIGTERM`);
    if (await this.exitsWithin(grace)) return this.exited;
    if (signalGroup('SIGKILL')) this.killed.push(`process group ${group} (${name}): SIGKILL`);
    return this.exited;
  }

  private async exitsWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
    clearTimeout(timer);
    return done;
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    if (this.idleHeld || this.stopping) return;
    this.idleTimer = setTimeout(() => void this.stop(RunFailure.IdleTimeout), this.options.idleTimeoutMs);
    this.idleTimer.unref();
  }
}
