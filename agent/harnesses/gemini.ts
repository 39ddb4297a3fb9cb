/**
 * Gemini CLI: `gemini --output-format stream-json --approval-mode auto_edit --prompt=PROMPT`,
 * resumed with `--resume <session id>`. The API key and endpoint are the user's own Gemini setup.
 *
 * Its stream-json lines, as the real CLI (0.61) prints them:
 *   init {session_id, model}                   → started
 *   message role=user                          → nothing (it is the person's own message)
 *   message role=assistant delta=true          → text, chunk by chunk as it streams
 *   tool_use {tool_id, tool_name, parameters}  → tool call
 *   tool_result {tool_id, status, output}      → tool result; a successful write_file or replace
 *                                                is also a file change
 *   error {severity, message}                  → a log line (warnings) or an error
 *   result {status, error?, stats}             → usage; status "error" means the run failed
 * Killed mid-stream it exits 0 (!) with no result line: no result means the run did not complete,
 * whatever the exit code. `--approval-mode auto_edit` lets it edit files without asking; tools
 * that would need approval are refused by the CLI, as it reports.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { LogLine_Stream } from '../../gen/link/v1/run_pb.js';
import type { EventInit } from '../runs/outbox.js';
import type { HarnessAdapter, OutputParser } from './harness.js';
import { doneEvent, jsonlParser, log, textOf, usageEvent } from './jsonl.js';

export const geminiHarness: HarnessAdapter = {
  name: 'gemini',
  binary: 'gemini',
  interruptSignal: 'SIGINT',
  command(payload) {
    const args = ['--output-format', 'stream-json', '--approval-mode', 'auto_edit'];
    // One argv element: a model name can never be read as another flag.
    if (payload.model) args.push(`--model=${payload.model}`);
    if (payload.resumeSessionId) args.push('--resume', payload.resumeSessionId);
    // `--prompt=` keeps a message that starts with a dash the prompt.
    return { file: 'gemini', args: [...args, `--prompt=${payload.prompt}`] };
  },
  parser: (_payload, cwd) => geminiParser(cwd),
};

/** The tools that change the file named by their `file_path` parameter. */
const FILE_TOOLS = new Set(['write_file', 'replace']);

export function geminiParser(cwd: string): OutputParser {
  let sessionId = '';
  let outcome: 'completed' | 'failed' | undefined;
  const calls = new Map<string, { path: string; kind: string }>();
  return jsonlParser({
    message(message) {
      const events: EventInit[] = [];
      switch (message.type) {
        case 'init':
          sessionId = String(message.session_id ?? '');
          events.push({ event: { case: 'started', value: { harness: 'gemini', sessionId, model: String(message.model ?? ''), cwd } } });
          break;
        case 'message':
          if (message.role === 'assistant' && message.content) events.push({ event: { case: 'text', value: { text: String(message.content) } } });
          break;
        case 'tool_use': {
          const id = String(message.tool_id ?? '');
          const name = String(message.tool_name ?? '');
          const parameters = (message.parameters ?? {}) as Record<string, unknown>;
          if (FILE_TOOLS.has(name) && typeof parameters.file_path === 'string') {
            // The line comes before the tool runs: whether the file is there yet tells add from update.
            const path = resolve(cwd, parameters.file_path);
            calls.set(id, { path, kind: existsSync(path) ? 'update' : 'add' });
          }
          events.push({ event: { case: 'toolCall', value: { id, name, inputJson: JSON.stringify(parameters) } } });
          break;
        }
        case 'tool_result': {
          const id = String(message.tool_id ?? '');
          const isError = message.status !== 'success';
          const error = message.error as { message?: string } | undefined;
          const output = isError && error?.message ? error.message : textOf(message.output);
          events.push({ event: { case: 'toolResult', value: { id, output, isError } } });
          const change = calls.get(id);
          if (!isError && change) events.push({ event: { case: 'fileChange', value: change } });
          break;
        }
        case 'error':
          if (message.severity === 'warning') events.push(log(LogLine_Stream.STDERR, String(message.message ?? '')));
          else events.push({ event: { case: 'error', value: { code: 'error', message: String(message.message ?? '') } } });
          break;
        case 'result': {
          const stats = (message.stats ?? {}) as Record<string, number>;
          events.push(usageEvent({ input: stats.input_tokens, output: stats.output_tokens, cacheRead: stats.cached }));
          if (message.status === 'success') outcome = 'completed';
          else {
            outcome = 'failed';
            const error = (message.error ?? {}) as { type?: string; message?: string };
            events.push({ event: { case: 'error', value: { code: error.type || 'error', message: String(error.message ?? 'the Gemini CLI reported an error') } } });
          }
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
