/**
 * A harness adapter turns a run into a command line and the CLI's output into normalized events.
 * The process itself (process group, interrupt, kill, idle timeout) is run by `HarnessProcess`.
 *
 * An interactive adapter (`interactive: true`) talks to its CLI both ways: `RunIo.input` is the
 * CLI's stdin (the prompt, answers to its requests), and the CLI's requests for permission or an
 * answer go through `RunIo.interactions`, which asks the user (or applies the thread's rules) and
 * resolves with the answer the adapter then writes back in the CLI's own terms.
 *
 * A steerable adapter's parser takes a message into the running turn (`steer`); an interruptible
 * one ends the turn the CLI's own way and keeps the session (`interrupt`). HarnessProcess falls
 * back to its staged stop when a parser cannot interrupt, or the CLI does not stop in time.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { InteractionAnswer, InteractionSchema, RunPayload } from '../../gen/link/v1/run_pb.js';
import type { EventInit } from '../runs/outbox.js';
import type { RunFailure, StopReason } from '../../common/reasons.js';

export interface HarnessCommand {
  file: string;
  args: string[];
  /** Added to the run's environment. */
  env?: Record<string, string>;
}

export interface OutputParser {
  /** Called once, right after the CLI was spawned (an interactive adapter sends its first messages). */
  start?(): void;
  /** Events for one line of the CLI's stdout or stderr. */
  line(text: string, stream: 'stdout' | 'stderr'): EventInit[];
  /**
   * After the process exited: the terminal `done` (and anything before it). `cancelled` says the
   * run was stopped on purpose; `reason` why (CANCELLED, IDLE_TIMEOUT).
   */
  /**
   * Writes a message of the user into the running turn, in the CLI's own terms. Resolves true once
   * the CLI took it (it will be part of this run), false when it cannot (the turn is over, or not
   * started yet): the caller then keeps it for the next turn. Only steerable adapters have it.
   */
  steer?(text: string): Promise<boolean>;
  /**
   * Asks the CLI to end its current turn its own way (its session kept); true when asked, false
   * when no turn is running any more (the run ends by itself). Only interruptible adapters have it.
   */
  interrupt?(): boolean;
  finish(exit: { code: number | null; signal: NodeJS.Signals | null; cancelled: boolean; reason: StopReason | typeof RunFailure.HarnessError | ''; killed: string[] }): EventInit[];
}

/** The CLI's stdin, for interactive adapters. Writes after `end` (or after the CLI exited) are dropped. */
export interface HarnessInput {
  /** Writes one line (the newline is added). */
  write(line: string): void;
  /** Closes stdin: for these CLIs, "there is nothing more to say" (they finish and exit). */
  end(): void;
}

/** A request of the CLI, as the adapter describes it (the id is the adapter's, unique in the run). */
export type InteractionInit = MessageInitShape<typeof InteractionSchema> & { id: string };

/** How a request of the CLI ended. */
export type InteractionReply =
  /** The answer to give the CLI: a person's, or an ALLOW Link gave itself (`allowedBy` says why). */
  | { kind: 'answer'; answer: InteractionAnswer; allowedBy?: string }
  /** The CLI withdrew it (the adapter called `withdraw`). */
  | { kind: 'withdrawn' }
  /** The run ended before an answer came. */
  | { kind: 'closed' };

/** The adapter's side of a run's interactions (agent/runs/interactions.ts). */
export interface InteractionChannel {
  /**
   * Asks about a request of the CLI: emits the `interaction` event and resolves once there is an
   * answer (or at once, when the permission mode or a thread rule allows it). Never rejects.
   */
  ask(request: InteractionInit): Promise<InteractionReply>;
  /** The CLI withdrew a request: it is marked withdrawn everywhere, and its `ask` resolves `withdrawn`. */
  withdraw(id: string): void;
}

/** What an interactive adapter gets besides the payload and directory. */
export interface RunIo {
  input: HarnessInput;
  interactions: InteractionChannel;
  /** Emits events that do not come from an output line (after an answer, at start). */
  emit(event: EventInit): void;
}

export interface HarnessAdapter {
  readonly name: string;
  /** The executable's name on PATH (for the capability check). */
  readonly binary: string;
  /** stdin is a pipe the parser writes to (the CLI's bidirectional mode); otherwise it is closed. */
  readonly interactive?: boolean;
  command(payload: RunPayload, cwd: string): HarnessCommand;
  /** `io` is given to interactive adapters. */
  parser(payload: RunPayload, cwd: string, io?: RunIo): OutputParser;
  /** Its parser takes messages into the running turn (`OutputParser.steer`), advertised by the probe. */
  readonly steerable?: boolean;
  /** Its parser ends a turn the CLI's own way (`OutputParser.interrupt`), advertised by the probe. */
  readonly interruptible?: boolean;
  /** The signal that asks the CLI to stop politely before SIGTERM (claude, codex: SIGINT). */
  readonly interruptSignal: NodeJS.Signals;
}
