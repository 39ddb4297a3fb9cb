/**
 * A harness adapter turns a run into a command line and the CLI's output into normalized events.
 * The process itself (process group, interrupt, kill, idle timeout) is run by `HarnessProcess`.
 */
import type { RunPayload } from '../../gen/link/v1/run_pb.js';
import type { EventInit } from '../runs/outbox.js';
import type { RunFailure, StopReason } from '../../common/reasons.js';

export interface HarnessCommand {
  file: string;
  args: string[];
  /** Added to the run's environment. */
  env?: Record<string, string>;
}

export interface OutputParser {
  /** Events for one line of the CLI's stdout or stderr. */
  line(text: string, stream: 'stdout' | 'stderr'): EventInit[];
  /**
   * After the process exited: the terminal `done` (and anything before it). `cancelled` says the
   * run was stopped on purpose; `reason` why (CANCELLED, IDLE_TIMEOUT).
   */
  finish(exit: { code: number | null; signal: NodeJS.Signals | null; cancelled: boolean; reason: StopReason | typeof RunFailure.HarnessError | ''; killed: string[] }): EventInit[];
}

export interface HarnessAdapter {
  readonly name: string;
  /** The executable's name on PATH (for the capability check). */
  readonly binary: string;
  command(payload: RunPayload, cwd: string): HarnessCommand;
  parser(payload: RunPayload, cwd: string): OutputParser;
  /** The signal that asks the CLI to stop politely before SIGTERM (claude, codex: SIGINT). */
  readonly interruptSignal: NodeJS.Signals;
}
