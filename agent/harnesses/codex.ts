/**
 * Codex CLI: `codex exec --json --skip-git-repo-check --sandbox workspace-write -- PROMPT`, resumed
 * with `codex exec … resume <thread id> -- PROMPT`. The model provider is the user's own Codex
 * configuration (`$CODEX_HOME/config.toml`); Link passes only the model.
 *
 * Its --json lines, as the real CLI (0.171) prints them:
 *   thread.started {thread_id}         → started (the thread id is the session to resume)
 *   item.started / item.completed      → by item type:
 *     agent_message {text}             → text (whole messages: Codex does not stream text deltas)
 *     reasoning {text}                 → reasoning
 *     command_execution                → tool call when it starts, tool result when it completes
 *     file_change {changes[]}          → a file change per path (apply_patch)
 *     mcp_tool_call, web_search, …     → tool call and result, named after the type
 *     error {message}                  → a log line (non-fatal warnings, e.g. an unknown model)
 *   turn.completed {usage}             → usage (Codex reports the thread's running total)
 *   error {message}                    → error (also sent for retries the CLI recovers from)
 *   turn.failed {error}                → the run failed
 * Killed mid-run, it prints neither turn.completed nor turn.failed: no result, whatever the exit code.
 * `--sandbox workspace-write` lets commands write in the run's directory and nowhere else.
 */
import { LogLine_Stream } from '../../gen/link/v1/run_pb.js';
import type { EventInit } from '../runs/outbox.js';
import type { HarnessAdapter, OutputParser } from './harness.js';
import { doneEvent, jsonlParser, log, usageEvent } from './jsonl.js';

export const codexHarness: HarnessAdapter = {
  name: 'codex',
  binary: 'codex',
  interruptSignal: 'SIGINT',
  command(payload) {
    const args = ['exec', '--json', '--skip-git-repo-check', '--sandbox', 'workspace-write'];
    // One argv element: a model name can never be read as another flag.
    if (payload.model) args.push(`--model=${payload.model}`);
    if (payload.resumeSessionId) args.push('resume', payload.resumeSessionId);
    // After `--`, a message that starts with a dash is still the prompt.
    return { file: 'codex', args: [...args, '--', payload.prompt] };
  },
  parser: (payload, cwd) => codexParser(cwd, payload.model),
};

interface CodexItem {
  id?: string;
  type?: string;
  text?: string;
  message?: string;
  command?: string;
  aggregated_output?: string;
  exit_code?: number | null;
  status?: string;
  changes?: { path?: string; kind?: string }[];
  [key: string]: unknown;
}

/** Item types that are shown as text, reasoning, file changes or warnings rather than tools. */
const NOT_TOOLS = new Set(['agent_message', 'reasoning', 'file_change', 'error', 'todo_list']);

/** What one Codex run's parser remembers between lines. */
interface CodexState {
  cwd: string;
  model: string;
  sessionId: string;
  outcome: 'completed' | 'failed' | undefined;
  /** Ids of the tool items already announced by item.started. */
  called: Set<string>;
  lastError: string;
}

/** Parses one Codex run's --json lines (see the header) into run events. */
export function codexParser(cwd: string, model: string): OutputParser {
  const state: CodexState = { cwd, model, sessionId: '', outcome: undefined, called: new Set<string>(), lastError: '' };
  return jsonlParser({
    message: (message) => codexMessage(message, state),
    finish: (exit) => [doneEvent(exit, state.outcome, state.sessionId)],
  });
}

function codexMessage(message: Record<string, unknown>, state: CodexState): EventInit[] {
  const item = (message.item ?? {}) as CodexItem;
  switch (message.type) {
    case 'thread.started':
      state.sessionId = String(message.thread_id ?? '');
      return [{ event: { case: 'started', value: { harness: 'codex', sessionId: state.sessionId, model: state.model, cwd: state.cwd } } }];
    case 'item.started':
      return item.type && !NOT_TOOLS.has(item.type) ? [toolCall(item, state)] : [];
    case 'item.completed':
      return itemCompleted(item, state);
    case 'turn.completed':
      return turnCompleted(message, state);
    case 'error':
      // Also used for retries the CLI recovers from ("Reconnecting... 2/5"); turn.failed decides.
      state.lastError = String(message.message ?? '');
      return [{ event: { case: 'error', value: { code: 'api_error', message: state.lastError } } }];
    case 'turn.failed':
      return turnFailed(message, state);
    default:
      return [];
  }
}

function toolCall(item: CodexItem, state: CodexState): EventInit {
  state.called.add(item.id ?? '');
  const input =
    item.type === 'command_execution'
      ? { command: item.command }
      : Object.fromEntries(Object.entries(item).filter(([key]) => !['id', 'type', 'status', 'result', 'error'].includes(key)));
  return { event: { case: 'toolCall', value: { id: item.id ?? '', name: item.type === 'command_execution' ? 'shell' : String(item.type), inputJson: JSON.stringify(input) } } };
}

function itemCompleted(item: CodexItem, state: CodexState): EventInit[] {
  switch (item.type) {
    case 'agent_message':
      return item.text ? [{ event: { case: 'text', value: { text: item.text } } }] : [];
    case 'reasoning':
      return item.text ? [{ event: { case: 'reasoning', value: { text: item.text } } }] : [];
    case 'error':
      return [log(LogLine_Stream.STDERR, String(item.message ?? ''))];
    case 'file_change':
      return fileChanges(item);
    case 'todo_list':
    case undefined:
      return [];
    default:
      return toolCompleted(item, state);
  }
}

function fileChanges(item: CodexItem): EventInit[] {
  const events: EventInit[] = [];
  if (item.status === 'completed' || item.status === undefined) {
    for (const change of item.changes ?? []) if (change.path) events.push({ event: { case: 'fileChange', value: { path: change.path, kind: change.kind ?? 'update' } } });
  }
  return events;
}

/** A tool: its call, if the CLI did not announce it, then its result. */
function toolCompleted(item: CodexItem, state: CodexState): EventInit[] {
  const events: EventInit[] = [];
  if (!state.called.has(item.id ?? '')) events.push(toolCall(item, state));
  const output = item.aggregated_output ?? (item.result === undefined ? '' : JSON.stringify(item.result));
  const failed = item.status === 'failed' || (typeof item.exit_code === 'number' && item.exit_code !== 0) || (item.error !== undefined && item.error !== null);
  events.push({ event: { case: 'toolResult', value: { id: item.id ?? '', output, isError: failed } } });
  return events;
}

function turnCompleted(message: Record<string, unknown>, state: CodexState): EventInit[] {
  const usage = (message.usage ?? {}) as Record<string, number>;
  state.outcome ??= 'completed';
  return [usageEvent({ input: usage.input_tokens, output: usage.output_tokens, cacheRead: usage.cached_input_tokens, cacheWrite: usage.cache_write_input_tokens })];
}

function turnFailed(message: Record<string, unknown>, state: CodexState): EventInit[] {
  const text = String(((message.error ?? {}) as { message?: string }).message ?? '');
  state.outcome = 'failed';
  return text !== state.lastError ? [{ event: { case: 'error', value: { code: 'api_error', message: text } } }] : [];
}
