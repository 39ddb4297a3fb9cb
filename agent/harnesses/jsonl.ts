/**
 * What the JSON-lines harness CLIs (Claude Code, Codex, Gemini CLI) have in common: one JSON object
 * per stdout line, stderr and unparsable lines kept as log lines, each event carrying the CLI's raw
 * line for debugging, and one rule for the terminal status.
 */
import { LogLine_Stream, RunStatus } from '../../gen/link/v1/run_pb.js';
import type { EventInit } from '../runs/outbox.js';
import type { OutputParser } from './harness.js';
import { killedBy, RunFailure, type RunFailureReason } from '../../common/reasons.js';

/** The raw line kept on each event is cut to this many characters. */
const MAX_RAW = 64 * 1024;

type Exit = Parameters<OutputParser['finish']>[0];

export interface JsonlHandler {
  /** Events for one parsed stdout object. */
  message(message: Record<string, unknown>): EventInit[];
  /** The terminal events (`done` last), from the exit and what the CLI said. */
  finish(exit: Exit): EventInit[];
}

/**
 * One output line of a JSON-lines CLI: its object and the raw line to keep on its events, or — for
 * stderr and anything that is not a JSON object — the log line it is shown as.
 */
export function jsonLine(text: string, stream: 'stdout' | 'stderr'): { message: Record<string, unknown>; raw: string } | { logged: EventInit } {
  if (stream === 'stderr') return { logged: log(LogLine_Stream.STDERR, text) };
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return { logged: log(LogLine_Stream.STDOUT, text) };
  }
  if (!message || typeof message !== 'object' || Array.isArray(message)) return { logged: log(LogLine_Stream.STDOUT, text) };
  return { message: message as Record<string, unknown>, raw: text.slice(0, MAX_RAW) };
}

export function jsonlParser(handler: JsonlHandler): OutputParser {
  return {
    line(text, stream) {
      const parsed = jsonLine(text, stream);
      if ('logged' in parsed) return [parsed.logged];
      return handler.message(parsed.message).map((e) => ({ ...e, raw: parsed.raw }));
    },
    finish: (exit) => handler.finish(exit),
  };
}

export function log(stream: LogLine_Stream, text: string): EventInit {
  return { event: { case: 'log', value: { stream, text } } };
}

/**
 * The one rule for how a CLI run ended. `outcome` is what the CLI itself reported at the end
 * (undefined when it printed no final line, as every CLI does when it is killed):
 *   interrupted by the user   → interrupted (the session id kept, so the next message resumes it)
 *   stopped on purpose        → cancelled (or failed with the reason, e.g. IDLE_TIMEOUT)
 *   the CLI reported an error → failed, API_ERROR
 *   reported success, exit 0  → completed
 *   anything else             → failed: KILLED_BY_<signal>, EXIT_CODE, or NO_RESULT
 */
export function doneEvent(exit: Exit, outcome: 'completed' | 'failed' | undefined, sessionId: string): EventInit {
  let status: RunStatus;
  let failureReason: RunFailureReason | '' = '';
  if (exit.cancelled && exit.reason === RunFailure.Interrupted) {
    status = RunStatus.INTERRUPTED;
    failureReason = RunFailure.Interrupted;
  } else if (exit.cancelled) {
    status = exit.reason === RunFailure.Cancelled ? RunStatus.CANCELLED : RunStatus.FAILED;
    failureReason = exit.reason || RunFailure.Cancelled;
  } else if (outcome === 'failed') {
    status = RunStatus.FAILED;
    failureReason = RunFailure.ApiError;
  } else if (outcome === 'completed' && exit.code === 0) {
    status = RunStatus.COMPLETED;
  } else {
    status = RunStatus.FAILED;
    failureReason = exit.signal ? killedBy(exit.signal) : outcome ? RunFailure.ExitCode : RunFailure.NoResult;
  }
  return { event: { case: 'done', value: { status, exitCode: exit.code ?? -1, failureReason, sessionId, killed: exit.killed } } };
}

/** A usage event from a CLI's token counts (absent counts are 0); the cost only when the CLI gives one. */
export function usageEvent(counts: { input?: number; output?: number; cacheRead?: number; cacheWrite?: number; costUsd?: unknown }): EventInit {
  const known = typeof counts.costUsd === 'number';
  return {
    event: {
      case: 'usage',
      value: {
        inputTokens: BigInt(counts.input ?? 0),
        outputTokens: BigInt(counts.output ?? 0),
        cacheReadTokens: BigInt(counts.cacheRead ?? 0),
        cacheWriteTokens: BigInt(counts.cacheWrite ?? 0),
        costUsd: known ? (counts.costUsd as number) : 0,
        costKnown: known,
      },
    },
  };
}

/** Text of a tool's output, whether a string, a list of text blocks or anything else. */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((c) => (typeof c === 'object' && c && 'text' in c ? String((c as { text: unknown }).text) : '')).join('');
  return content === undefined || content === null ? '' : JSON.stringify(content);
}
