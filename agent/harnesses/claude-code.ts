/**
 * Claude Code: `claude -p PROMPT --output-format stream-json --verbose`, resumed with `--resume`.
 *
 * Its stream-json lines, as the real CLI (2.1.x) prints them:
 *   system/init      → started (session id, model, cwd)
 *   assistant        → one content block per line: text, thinking (reasoning) or tool_use (tool call)
 *   user             → tool_result blocks (tool result); `tool_use_result` of Write/Edit → file change
 *   system/api_retry → a log line
 *   result           → usage and cost; `is_error` (with `api_error_status`) means the run failed even
 *                      though the CLI may exit 0
 * Edits inside the working directory are allowed (`--permission-mode acceptEdits`), which works as
 * root; anything else the CLI would ask about is denied and reported by the CLI.
 */
import { LogLine_Stream } from '../../gen/link/v1/run_pb.js';
import type { EventInit } from '../runs/outbox.js';
import type { HarnessAdapter, OutputParser } from './harness.js';
import { doneEvent, jsonlParser, textOf, usageEvent } from './jsonl.js';

export const claudeCodeHarness: HarnessAdapter = {
  name: 'claude-code',
  binary: 'claude',
  interruptSignal: 'SIGINT',
  command(payload) {
    const args = ['-p', '--output-format', 'stream-json', '--verbose', '--permission-mode', 'acceptEdits'];
    // One argv element: a model name can never be read as another flag.
    if (payload.model) args.push(`--model=${payload.model}`);
    if (payload.resumeSessionId) args.push('--resume', payload.resumeSessionId);
    // After `--`, a message that starts with a dash is still the prompt.
    return { file: 'claude', args: [...args, '--', payload.prompt] };
  },
  parser: (_payload, cwd) => claudeParser(cwd),
};

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
  result: { isError: boolean } | undefined;
}

/** Parses one Claude Code run's stream-json lines (see the header) into run events. */
export function claudeParser(cwd: string): OutputParser {
  const state: ClaudeState = { cwd, sessionId: '', result: undefined };
  return jsonlParser({
    message: (message) => claudeMessage(message, state),
    finish: (exit) => [doneEvent(exit, state.result ? (state.result.isError ? 'failed' : 'completed') : undefined, state.sessionId)],
  });
}

function claudeMessage(message: Record<string, unknown>, state: ClaudeState): EventInit[] {
  switch (message.type) {
    case 'system':
      return systemMessage(message, state);
    case 'assistant':
      return assistantMessage(message);
    case 'user':
      return userMessage(message);
    case 'result':
      return resultMessage(message, state);
    default:
      // stream_event and future types are not shown.
      return [];
  }
}

function systemMessage(message: Record<string, unknown>, state: ClaudeState): EventInit[] {
  if (message.subtype === 'init') {
    state.sessionId = String(message.session_id ?? '');
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
  // On API errors the CLI says subtype "success" with is_error (and api_error_status).
  state.result = { isError: message.is_error === true };
  if (state.result.isError) {
    const status = message.api_error_status as number | null;
    events.push({ event: { case: 'error', value: { code: status ? `api_error_${status}` : 'error', message: String(message.result ?? '') } } });
  }
  return events;
}
