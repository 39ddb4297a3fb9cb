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

export function codexParser(cwd: string, model: string): OutputParser {
  let sessionId = '';
  let outcome: 'completed' | 'failed' | undefined;
  const called = new Set<string>();
  let lastError = '';
  const toolCall = (item: CodexItem): EventInit => {
    called.add(item.id ?? '');
    const input =
      item.type === 'command_execution'
        ? { command: item.command }
        : Object.fromEntries(Object.entries(item).filter(([key]) => !['id', 'type', 'status', 'result', 'error'].includes(key)));
    return { event: { case: 'toolCall', value: { id: item.id ?? '', name: item.type === 'command_execution' ? 'shell' : String(item.type), inputJson: JSON.stringify(input) } } };
  };
  return jsonlParser({
    message(message) {
      const events: EventInit[] = [];
      const item = (message.item ?? {}) as CodexItem;
      switch (message.type) {
        case 'thread.started':
          sessionId = String(message.thread_id ?? '');
          events.push({ event: { case: 'started', value: { harness: 'codex', sessionId, model, cwd } } });
          break;
        case 'item.started':
          if (item.type && !NOT_TOOLS.has(item.type)) events.push(toolCall(item));
          break;
        case 'item.completed':
          switch (item.type) {
            case 'agent_message':
              if (item.text) events.push({ event: { case: 'text', value: { text: item.text } } });
              break;
            case 'reasoning':
              if (item.text) events.push({ event: { case: 'reasoning', value: { text: item.text } } });
              break;
            case 'error':
              events.push(log(LogLine_Stream.STDERR, String(item.message ?? '')));
              break;
            case 'file_change':
              if (item.status === 'completed' || item.status === undefined) {
                for (const change of item.changes ?? []) if (change.path) events.push({ event: { case: 'fileChange', value: { path: change.path, kind: change.kind ?? 'update' } } });
              }
              break;
            case 'todo_list':
            case undefined:
              break;
            default: {
              // A tool: its call, if the CLI did not announce it, then its result.
              if (!called.has(item.id ?? '')) events.push(toolCall(item));
              const output = item.aggregated_output ?? (item.result === undefined ? '' : JSON.stringify(item.result));
              const failed = item.status === 'failed' || (typeof item.exit_code === 'number' && item.exit_code !== 0) || (item.error !== undefined && item.error !== null);
              events.push({ event: { case: 'toolResult', value: { id: item.id ?? '', output, isError: failed } } });
            }
          }
          break;
        case 'turn.completed': {
          const usage = (message.usage ?? {}) as Record<string, number>;
          events.push(usageEvent({ input: usage.input_tokens, output: usage.output_tokens, cacheRead: usage.cached_input_tokens, cacheWrite: usage.cache_write_input_tokens }));
          outcome ??= 'completed';
          break;
        }
        case 'error':
          // Also used for retries the CLI recovers from ("Reconnecting... 2/5"); turn.failed decides.
          lastError = String(message.message ?? '');
          events.push({ event: { case: 'error', value: { code: 'api_error', message: lastError } } });
          break;
        case 'turn.failed': {
          const text = String(((message.error ?? {}) as { message?: string }).message ?? '');
          if (text !== lastError) events.push({ event: { case: 'error', value: { code: 'api_error', message: text } } });
          outcome = 'failed';
          break;
        }
        default:
          break;
      }
      return events;
    },
    finish: (exit) => [doneEvent(exit, outcome, sessionId)],
  });
}
