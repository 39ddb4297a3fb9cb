/**
 * Codex CLI, driven both ways through `codex app-server` (JSON-RPC on stdio; codex-app-server.ts).
 * The model provider is the user's own Codex configuration (`$CODEX_HOME/config.toml`), which a
 * run never changes; Link passes the model, the directory and the permission mode.
 *
 *   start()   initialize → initialized → thread/start {cwd, approvalPolicy, sandbox, model?}
 *             (thread/resume {threadId} for a thread's later messages) → turn/start {input}
 *
 * What the server says, as run events:
 *   thread/start|resume answer      → started (the thread id is the session to resume)
 *   item/started, item/completed    → by item type:
 *     agentMessage {text}           → text (whole messages; the deltas are not needed)
 *     reasoning {summary, content}  → reasoning
 *     commandExecution              → tool call when it starts, tool result when it completes
 *     fileChange {changes[]}        → a file change per path, once applied
 *     mcpToolCall, webSearch, …     → tool call and result, named after the type
 *   thread/tokenUsage/updated       → usage at the turn's end (the thread's running total)
 *   error {error, willRetry}        → error (a log line while Codex retries)
 *   account/rateLimits/updated      → usage_limit (codex-limits.ts; usageLimitExceeded ends the run USAGE_LIMIT)
 *   warning, configWarning, …       → log lines
 *   turn/completed {turn.status}    → the run's outcome; stdin is closed and the server exits
 *   requests (approvals, questions) → interactions (codex-interactions.ts); serverRequest/resolved
 *                                     for one still unanswered withdraws it
 * Killed mid-run, it prints no turn/completed: no result, whatever the exit code.
 *
 * Steer and interrupt, in the running turn (its id from the turn/start answer or turn/started):
 *   turn/steer {threadId, input, expectedTurnId}  the message joins the turn (answer {turnId}; an
 *                                                 error when that turn is no longer the active one)
 *   turn/interrupt {threadId, turnId}             the turn ends: turn/completed {status: "interrupted"}
 *
 * Permission modes (codexPolicy): ASK and EDITS run `untrusted` (Codex asks before every command
 * and edit), EDITS answering edits inside the run's directory itself; AUTO runs `never`. All run
 * in Codex's workspace-write sandbox: the run's directory is writable, the rest of the disk is not.
 */
import { isAbsolute, relative } from 'node:path';
import { codexLimitError, codexRateLimits } from './codex-limits.js';
import { UsageLimitWatch } from './usage-limit.js';
import { LogLine_Stream, type RunPayload } from '../../gen/link/v1/run_pb.js';
import type { EventInit } from '../runs/outbox.js';
import { CodexRpc, codexPolicy, INITIALIZE_PARAMS, threadParams, type RpcId, type RpcOutcome } from './codex-app-server.js';
import { approvalDecision, commandInteraction, fileChangeInteraction, questionAnswers, questionInteraction, type CodexFileChange } from './codex-interactions.js';
import type { HarnessAdapter, InteractionInit, OutputParser, RunIo } from './harness.js';
import { doneEvent, jsonlParser, log, usageEvent } from './jsonl.js';

export const codexHarness: HarnessAdapter = {
  name: 'codex',
  binary: 'codex',
  interactive: true,
  steerable: true,
  interruptible: true,
  interruptSignal: 'SIGINT',
  // The model, prompt and directory go in JSON messages, never on the command line.
  command: () => ({ file: 'codex', args: ['app-server'] }),
  parser: (payload, cwd, io) => codexParser(payload, cwd, io),
};

interface CodexItem {
  id?: string;
  type?: string;
  text?: string;
  summary?: string[];
  content?: string[];
  command?: string;
  aggregatedOutput?: string | null;
  exitCode?: number | null;
  status?: string;
  changes?: CodexFileChange[];
  [key: string]: unknown;
}

/** Item types that are shown as text, reasoning or file changes, or not at all, rather than as tools. */
const NOT_TOOLS = new Set(['userMessage', 'hookPrompt', 'agentMessage', 'functionCallOutput', 'plan', 'reasoning', 'fileChange', 'subAgentActivity', 'enteredReviewMode', 'exitedReviewMode', 'contextCompaction']);

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** Item fields that are not a tool's input. */
const NOT_INPUT = new Set(['id', 'type', 'status', 'result', 'error', 'startedAtMs', 'completedAtMs', 'durationMs', 'contentItems', 'success']);

/** What one Codex run's parser remembers between lines. */
interface CodexState {
  payload: RunPayload;
  cwd: string;
  /** The run's directory as Codex reports it (it may resolve links). */
  codexCwd: string;
  sessionId: string;
  outcome: 'completed' | 'failed' | undefined;
  lastError: string;
  /** The thread's token totals, from the latest thread/tokenUsage/updated. */
  usage: Record<string, number> | undefined;
  /** Ids of the tool items already announced by item/started. */
  called: Set<string>;
  /** The changes of fileChange items, by item id (their approval request names only the item). */
  changes: Map<string, CodexFileChange[]>;
  /** The server's requests still waiting for the user: request id → interaction id. */
  asked: Map<RpcId, string>;
  limits: UsageLimitWatch;
  /** The running turn's id, once the server named it. */
  turnId: string;
  /** turn/completed came: nothing more goes into the turn. */
  turnEnded: boolean;
  /** Steers waiting for their answer: resolved false if the server exits first. */
  steering: Set<(applied: boolean) => void>;
}

/** Parses one app-server run's stdout (see the header) and drives it through `io`. */
export function codexParser(payload: RunPayload, cwd: string, io?: RunIo): OutputParser {
  if (!io) {
    // Without a stdin pipe the server reads end-of-file and exits at once: say why.
    return jsonlParser({
      message: () => [],
      finish: (exit) => [{ event: { case: 'error', value: { code: 'harness_error', message: 'codex app-server needs the run\'s stdin and interactions' } } }, doneEvent(exit, 'failed', '')],
    });
  }
  const rpc = new CodexRpc(io.input);
  const state: CodexState = { payload, cwd, codexCwd: cwd, sessionId: '', outcome: undefined, lastError: '', usage: undefined, called: new Set(), changes: new Map(), asked: new Map(), turnId: '', turnEnded: false, steering: new Set(), limits: new UsageLimitWatch() };
  const fail = (message: string): EventInit[] => {
    state.outcome = 'failed';
    state.lastError = message;
    io.input.end();
    return [{ event: { case: 'error', value: { code: 'api_error', message } } }];
  };
  const onThread = (outcome: RpcOutcome): EventInit[] => {
    if ('error' in outcome) return fail(outcome.error.message ?? 'codex app-server refused the thread');
    const thread = (outcome.result.thread ?? {}) as { id?: string };
    state.sessionId = String(thread.id ?? payload.resumeSessionId);
    if (typeof outcome.result.cwd === 'string') state.codexCwd = outcome.result.cwd;
    const model = typeof outcome.result.model === 'string' ? outcome.result.model : payload.model;
    rpc.request('turn/start', { threadId: state.sessionId, input: textInput(payload.prompt) }, (turn) => {
      if ('error' in turn) return fail(turn.error.message ?? 'codex app-server refused the turn');
      state.turnId ||= String(((turn.result.turn ?? {}) as { id?: string }).id ?? '');
      return [];
    });
    return [{ event: { case: 'started', value: { harness: 'codex', sessionId: state.sessionId, model, cwd } } }];
  };
  const parser = jsonlParser({
    message(message) {
      const sorted = rpc.receive(message);
      if (!sorted) return [];
      if (sorted.kind === 'response') return sorted.events;
      if (sorted.kind === 'request') return serverRequest(sorted.id, sorted.method, sorted.params, state, rpc, io);
      return notification(sorted.method, sorted.params, state, io);
    },
    finish: (exit) => {
      for (const settle of state.steering) settle(false);
      state.steering.clear();
      return state.limits.finish([doneEvent(exit, state.outcome, state.sessionId)]);
    },
  });
  return {
    // Its stderr is tracing output, coloured even into a pipe.
    line: (text, stream) => parser.line(stream === 'stderr' ? text.replace(ANSI, '') : text, stream),
    finish: (exit) => parser.finish(exit),
    start() {
      rpc.request('initialize', INITIALIZE_PARAMS, (outcome) => {
        if ('error' in outcome) return fail(outcome.error.message ?? 'codex app-server refused to initialize');
        rpc.notify('initialized');
        rpc.request(payload.resumeSessionId ? 'thread/resume' : 'thread/start', threadParams(payload, cwd), onThread);
        return [];
      });
    },
    steer(text) {
      if (!state.turnId || state.turnEnded) return Promise.resolve(false);
      return new Promise<boolean>((resolve) => {
        const settle = (applied: boolean) => {
          state.steering.delete(settle);
          resolve(applied);
        };
        state.steering.add(settle);
        rpc.request('turn/steer', { threadId: state.sessionId, input: textInput(text), expectedTurnId: state.turnId }, (outcome) => {
          settle(!('error' in outcome));
          return 'error' in outcome ? [log(LogLine_Stream.STDERR, `codex did not take the message into the turn: ${outcome.error.message ?? 'refused'}`)] : [];
        });
      });
    },
    interrupt() {
      if (!state.turnId || state.turnEnded) return false;
      rpc.request('turn/interrupt', { threadId: state.sessionId, turnId: state.turnId }, () => []);
      return true;
    },
  };
}

/** A user message as the app-server's input items. */
function textInput(text: string): unknown[] {
  return [{ type: 'text', text, text_elements: [] }];
}

function notification(method: string, params: Record<string, unknown>, state: CodexState, io: RunIo): EventInit[] {
  const item = (params.item ?? {}) as CodexItem;
  switch (method) {
    case 'item/started':
      if (item.type === 'fileChange') state.changes.set(item.id ?? '', item.changes ?? []);
      return item.type && !NOT_TOOLS.has(item.type) ? [toolCall(item, state)] : [];
    case 'item/completed':
      return itemCompleted(item, state);
    case 'thread/tokenUsage/updated':
      state.usage = ((params.tokenUsage ?? {}) as { total?: Record<string, number> }).total;
      return [];
    case 'error': {
      const message = String(((params.error ?? {}) as { message?: string }).message ?? '');
      if (params.willRetry === true) return [log(LogLine_Stream.STDERR, message)];
      state.lastError = message;
      codexLimitError(params.error, state.limits);
      return [{ event: { case: 'error', value: { code: 'api_error', message } } }];
    }
    case 'warning':
    case 'configWarning':
    case 'guardianWarning':
      return [log(LogLine_Stream.STDERR, String(params.message ?? params.summary ?? ''))];
    case 'serverRequest/resolved': {
      // Resolved without our answer: Codex withdrew it (the turn ended, or it was decided elsewhere).
      const id = state.asked.get(params.requestId as RpcId);
      if (id !== undefined) {
        state.asked.delete(params.requestId as RpcId);
        io.interactions.withdraw(id);
      }
      return [];
    }
    case 'turn/started':
      state.turnId = String(((params.turn ?? {}) as { id?: string }).id ?? state.turnId);
      return [];
    case 'turn/completed':
      codexLimitError(((params.turn ?? {}) as { error?: unknown }).error, state.limits);
      return turnCompleted(params, state, io);
    case 'account/rateLimits/updated':
      return codexRateLimits(params, state.limits);
    default:
      return [];
  }
}

function toolCall(item: CodexItem, state: CodexState): EventInit {
  state.called.add(item.id ?? '');
  const input = item.type === 'commandExecution' ? { command: item.command } : Object.fromEntries(Object.entries(item).filter(([key]) => !NOT_INPUT.has(key)));
  return { event: { case: 'toolCall', value: { id: item.id ?? '', name: item.type === 'commandExecution' ? 'shell' : String(item.type), inputJson: JSON.stringify(input) } } };
}

function itemCompleted(item: CodexItem, state: CodexState): EventInit[] {
  switch (item.type) {
    case 'agentMessage':
      return item.text ? [{ event: { case: 'text', value: { text: item.text } } }] : [];
    case 'reasoning': {
      const text = [...(item.summary ?? []), ...(item.content ?? [])].join('\n');
      return text ? [{ event: { case: 'reasoning', value: { text } } }] : [];
    }
    case 'fileChange':
      state.changes.delete(item.id ?? '');
      if (item.status !== 'completed') return [];
      return (item.changes ?? []).flatMap((c) => (c.path ? [{ event: { case: 'fileChange' as const, value: { path: c.path, kind: c.kind?.type ?? 'update' } } }] : []));
    case undefined:
      return [];
    default:
      return NOT_TOOLS.has(item.type) ? [] : toolCompleted(item, state);
  }
}

/** A tool: its call, if item/started did not announce it, then its result. */
function toolCompleted(item: CodexItem, state: CodexState): EventInit[] {
  const events: EventInit[] = [];
  if (!state.called.has(item.id ?? '')) events.push(toolCall(item, state));
  state.called.delete(item.id ?? '');
  const result = item.result ?? item.contentItems;
  const output = item.aggregatedOutput ?? (result === undefined || result === null ? (item.status === 'declined' ? 'declined' : '') : JSON.stringify(result));
  const failed = item.status === 'failed' || item.status === 'declined' || (typeof item.exitCode === 'number' && item.exitCode !== 0) || (item.error !== undefined && item.error !== null) || item.success === false;
  events.push({ event: { case: 'toolResult', value: { id: item.id ?? '', output, isError: failed } } });
  return events;
}

function turnCompleted(params: Record<string, unknown>, state: CodexState, io: RunIo): EventInit[] {
  const turn = (params.turn ?? {}) as { status?: string; error?: { message?: string } | null };
  const events: EventInit[] = [];
  if (turn.status === 'completed') state.outcome ??= 'completed';
  else if (turn.status === 'failed') {
    state.outcome = 'failed';
    const message = turn.error?.message ?? 'the turn failed';
    if (message !== state.lastError) events.push({ event: { case: 'error', value: { code: 'api_error', message } } });
  }
  const u = state.usage ?? {};
  events.push(usageEvent({ input: u.inputTokens, output: u.outputTokens, cacheRead: u.cachedInputTokens, cacheWrite: u.cacheWriteInputTokens }));
  // One turn a run: with stdin closed, the server finishes and exits.
  state.turnEnded = true;
  io.input.end();
  return events;
}

/** A request of the server: ask the user (or allow an edit in EDITS mode), then answer it. */
function serverRequest(rpcId: RpcId, method: string, params: Record<string, unknown>, state: CodexState, rpc: CodexRpc, io: RunIo): EventInit[] {
  const id = `codex-request-${rpcId}`;
  let request: InteractionInit;
  let answer: (reply: Parameters<typeof approvalDecision>[0]) => unknown;
  if (method === 'item/commandExecution/requestApproval') {
    request = commandInteraction(id, params);
    answer = approvalDecision;
  } else if (method === 'item/fileChange/requestApproval') {
    const changes = state.changes.get(String(params.itemId ?? '')) ?? [];
    request = fileChangeInteraction(id, params, changes);
    answer = approvalDecision;
    if (codexPolicy(state.payload.permissionMode).editsAllowed && changes.length > 0 && changes.every((c) => inside(c, state))) {
      rpc.respond(rpcId, { decision: 'accept' });
      return [{ event: { case: 'interaction', value: { ...request, allowedBy: 'permission mode edits' } } }];
    }
  } else if (method === 'item/tool/requestUserInput') {
    request = questionInteraction(id, params);
    answer = questionAnswers;
  } else {
    // MCP elicitations, auth refreshes, …: nothing Link takes part in.
    rpc.refuse(rpcId, `${method} is not supported by Link`);
    return [log(LogLine_Stream.STDERR, `refused the request ${method}: not supported by Link`)];
  }
  state.asked.set(rpcId, id);
  void io.interactions.ask(request).then((reply) => {
    state.asked.delete(rpcId);
    const result = answer(reply);
    if (result !== undefined) rpc.respond(rpcId, result);
  });
  return [];
}

/** Whether a change (and where it moves to) stays inside the run's directory. */
function inside(change: CodexFileChange, state: CodexState): boolean {
  const within = (path: string) =>
    [state.cwd, state.codexCwd].some((root) => {
      const rel = relative(root, path);
      return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
    });
  return !!change.path && within(change.path) && (!change.kind?.move_path || within(change.kind.move_path));
}
