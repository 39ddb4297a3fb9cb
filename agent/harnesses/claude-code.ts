/**
 * Claude Code in its stream-json mode, both ways:
 *
 *   claude -p --input-format stream-json --output-format stream-json --verbose
 *          --permission-prompt-tool stdio --permission-mode default|acceptEdits
 *          [--allowedTools=RULES] [--model=M] [--resume S]
 *
 * The prompt is not on the command line: `start()` writes it on stdin as a user message, and once
 * the CLI has printed its `result` stdin is closed, which makes it exit. In between, the CLI asks
 * before running a tool its permission mode and rules do not allow (claude-control.ts).
 *
 * Steer and interrupt (as 2.1.197 does them):
 *   steer       another user message on stdin mid-turn. At the turn's next model request (after a
 *               tool result) the CLI adds it as "The user sent a new message while you were
 *               working"; when the model's last answer was already under way, it runs it as a turn
 *               of its own after the `result` (a second system/init and `result`). Either way
 *               the CLI handles every message it read before end-of-file, so a steer is taken
 *               while stdin is open, i.e. until the first `result`; the last `result` is the run's.
 *   interrupt   control_request {subtype: "interrupt"}: answered with a control_response success;
 *               a running tool gets a rejected tool_result, then "[Request interrupted by user]"
 *               and a `result` error_during_execution; stdin is then closed and the CLI exits 1.
 *
 * Its stream-json lines, as the real CLI (2.1.x) prints them:
 *   system/init            → started (session id, model, cwd)
 *   assistant              → one content block per line: text, thinking (reasoning) or tool_use (tool call)
 *   user                   → tool_result blocks (tool result); `tool_use_result` of Write/Edit → file change
 *   system/api_retry       → a log line
 *   control_request        → an interaction (permission or question), answered on stdin
 *   control_cancel_request → the interaction is withdrawn
 *   rate_limit_event       → usage_limit (claude-limits.ts; a 429 at the limit ends the run USAGE_LIMIT)
 *   result                 → usage and cost; `is_error` (with `api_error_status`) means the run failed even
 *                            though the CLI may exit 0; `error_during_execution` without a message is how
 *                            it reports being interrupted (a stopped run reads as stopped)
 */
import { LogLine_Stream, PermissionMode } from '../../gen/link/v1/run_pb.js';
import type { EventInit } from '../runs/outbox.js';
import type { HarnessAdapter, OutputParser, RunIo } from './harness.js';
import { doneEvent, jsonlParser, textOf, usageEvent } from './jsonl.js';
import { claudeAllowedTools, claudePermissionMode, ClaudeControl } from './claude-control.js';
import { claudeLimitResult, claudeRateLimitEvent } from './claude-limits.js';
import { UsageLimitWatch } from './usage-limit.js';

export const claudeCodeHarness: HarnessAdapter = {
  name: 'claude-code',
  binary: 'claude',
  interactive: true,
  steerable: true,
  interruptible: true,
  interruptSignal: 'SIGINT',
  command(payload) {
    const args = ['-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--permission-prompt-tool', 'stdio'];
    args.push('--permission-mode', claudePermissionMode(payload.permissionMode ?? PermissionMode.UNSPECIFIED));
    // One argv element each: a value can never be read as another flag.
    const allowed = claudeAllowedTools(payload.allowRules ?? []);
    if (allowed) args.push(`--allowedTools=${allowed}`);
    if (payload.model) args.push(`--model=${payload.model}`);
    if (payload.resumeSessionId) args.push(`--resume=${payload.resumeSessionId}`);
    return { file: 'claude', args };
  },
  parser: (payload, cwd, io) => claudeParser(cwd, io ? { prompt: payload.prompt, io } : undefined),
};

/** The prompt and the CLI's channels, for a parser that drives the CLI (without it, the parser only reads). */
export interface ClaudeSession {
  prompt: string;
  io: RunIo;
}

interface ClaudeBlock {
  type: string;
  text?: string;
  thinking?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: unknown;
  is_error?: boolean;
}

/** What one Claude Code run's parser remembers between lines. */
interface ClaudeState {
  cwd: string;
  sessionId: string;
  /**
   * The CLI's `result`: completed, failed (an API error, already reported), or stopped before the
   * turn ended (`stopped` holds the CLI's words, reported only if nobody stopped the run).
   */
  result: { outcome: 'completed' | 'failed' | undefined; stopped?: { code: string; message: string } } | undefined;
  control: ClaudeControl | undefined;
  session: ClaudeSession | undefined;
  limits: UsageLimitWatch;
  /** The `started` event went out (a steered message run as a turn of its own inits again). */
  started: boolean;
  /** stdin was closed (after the first `result`): nothing more reaches the CLI. */
  inputEnded: boolean;
  /** Interrupt requests sent (their ids). */
  interrupts: number;
}


/**
 * Parses one Claude Code run's stream-json lines (see the header) into run events. With `session`,
 * it also drives the CLI: sends the prompt at `start()`, answers its control requests, and closes
 * its stdin after the result.
 */
export function claudeParser(cwd: string, session?: ClaudeSession): OutputParser {
  const state: ClaudeState = { cwd, sessionId: '', result: undefined, session, control: session ? new ClaudeControl(session.io, cwd) : undefined, started: false, inputEnded: false, interrupts: 0, limits: new UsageLimitWatch() };
  const parser = jsonlParser({
    message: (message) => claudeMessage(message, state),
    finish: (exit) => {
      const events: EventInit[] = [];
      const stopped = state.result?.stopped;
      if (stopped && !exit.cancelled) events.push({ event: { case: 'error', value: stopped } });
      events.push(doneEvent(exit, state.result?.outcome, state.sessionId));
      return state.limits.finish(events);
    },
  });
  return {
    ...parser,
    start() {
      if (!session) return;
      session.io.input.write(userLine(session.prompt));
    },
    steer(text) {
      if (!session || state.inputEnded) return Promise.resolve(false);
      session.io.input.write(userLine(text));
      return Promise.resolve(true);
    },
    interrupt() {
      if (!session || state.inputEnded) return false;
      session.io.input.write(JSON.stringify({ type: 'control_request', request_id: `link-interrupt-${++state.interrupts}`, request: { subtype: 'interrupt' } }));
      return true;
    },
  };
}

/** A user message on the CLI's stdin. */
function userLine(text: string): string {
  return JSON.stringify({ type: 'user', message: { role: 'user', content: text } });
}

function claudeMessage(message: Record<string, unknown>, state: ClaudeState): EventInit[] {
  switch (message.type) {
    case 'control_request':
      state.control?.request(message);
      return [];
    case 'control_cancel_request':
      state.control?.cancel(message);
      return [];
    case 'system':
      return systemMessage(message, state);
    case 'assistant':
      return assistantMessage(message);
    case 'user':
      return userMessage(message);
    case 'result':
      return resultMessage(message, state);
    case 'rate_limit_event':
      return claudeRateLimitEvent(message, state.limits);
    default:
      // stream_event and future types are not shown.
      return [];
  }
}

function systemMessage(message: Record<string, unknown>, state: ClaudeState): EventInit[] {
  if (message.subtype === 'init') {
    state.sessionId = String(message.session_id ?? state.sessionId);
    if (state.started) return [];
    state.started = true;
    return [{ event: { case: 'started', value: { harness: 'claude-code', sessionId: state.sessionId, model: String(message.model ?? ''), cwd: String(message.cwd ?? state.cwd) } } }];
  }
  if (message.subtype === 'api_retry') {
    return [
      {
        event: { case: 'log', value: { stream: LogLine_Stream.STDERR, text: `retrying the model API (attempt ${message.attempt}): ${message.error_status ?? ''} ${message.error ?? ''}`.trim() } },
      },
    ];
  }
  return [];
}

function assistantMessage(message: Record<string, unknown>): EventInit[] {
  const events: EventInit[] = [];
  for (const block of (message.message as { content?: ClaudeBlock[] })?.content ?? []) {
    if (block.type === 'text' && block.text) events.push({ event: { case: 'text', value: { text: block.text } } });
    else if (block.type === 'thinking' && block.thinking) events.push({ event: { case: 'reasoning', value: { text: block.thinking } } });
    else if (block.type === 'tool_use') {
      events.push({ event: { case: 'toolCall', value: { id: block.id ?? '', name: block.name ?? '', inputJson: JSON.stringify(block.input ?? {}) } } });
    }
  }
  return events;
}

function userMessage(message: Record<string, unknown>): EventInit[] {
  const events: EventInit[] = [];
  for (const block of (message.message as { content?: ClaudeBlock[] })?.content ?? []) {
    if (block.type !== 'tool_result') continue;
    events.push({ event: { case: 'toolResult', value: { id: block.tool_use_id ?? '', output: textOf(block.content), isError: block.is_error === true } } });
  }
  const structured = message.tool_use_result as { type?: string; filePath?: string } | undefined;
  if (structured && typeof structured === 'object' && structured.filePath && (structured.type === 'create' || structured.type === 'update')) {
    events.push({ event: { case: 'fileChange', value: { path: structured.filePath, kind: structured.type === 'create' ? 'add' : 'update' } } });
  }
  return events;
}

function resultMessage(message: Record<string, unknown>, state: ClaudeState): EventInit[] {
  state.sessionId = String(message.session_id ?? state.sessionId);
  const usage = (message.usage ?? {}) as Record<string, number>;
  const events: EventInit[] = [
    usageEvent({
      input: usage.input_tokens,
      output: usage.output_tokens,
      cacheRead: usage.cache_read_input_tokens,
      cacheWrite: usage.cache_creation_input_tokens,
      costUsd: message.total_cost_usd,
    }),
  ];
  // The turn is over: with stdin closed, the CLI exits (after the steered messages it still has).
  state.inputEnded = true;
  state.session?.io.input.end();
  if (message.is_error !== true) {
    state.result = { outcome: 'completed' };
  } else if (message.subtype === 'success') {
    // On API errors the CLI says subtype "success" with is_error (and api_error_status).
    const status = message.api_error_status as number | null;
    state.result = { outcome: 'failed' };
    claudeLimitResult(message, state.limits);
    events.push({ event: { case: 'error', value: { code: status ? `api_error_${status}` : 'error', message: String(message.result ?? '') } } });
  } else {
    // error_during_execution (interrupted: no message of its own), error_max_turns, …: the turn
    // ended early. Said at the end, unless the run was stopped on purpose.
    state.result = { outcome: undefined, stopped: { code: String(message.subtype ?? 'error'), message: stoppedMessage(message) } };
  }
  return events;
}

/** The CLI's words for a turn it ended early; its `[ede_diagnostic]` entries are for its developers. */
function stoppedMessage(message: Record<string, unknown>): string {
  if (typeof message.result === 'string' && message.result) return message.result;
  const errors = (Array.isArray(message.errors) ? message.errors : []).map(String).filter((e) => e && !e.startsWith('[ede_diagnostic]'));
  if (errors.length > 0) return errors.join('\n');
  const why = typeof message.terminal_reason === 'string' ? ` (${message.terminal_reason})` : '';
  return `Claude Code ended the turn before it was done${why}`;
}
