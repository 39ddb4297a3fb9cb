/**
 * Gemini CLI driven both ways: `gemini --acp [--model=M]`, the Agent Client Protocol (JSON-RPC 2.0,
 * one message a line) on its stdin and stdout. The API key and endpoint are the user's own Gemini
 * setup. One process per run, one turn per process:
 *
 *   start()  initialize {protocolVersion 1, no fs capabilities}
 *            → session/new {cwd} — or session/load {sessionId, cwd} to resume the thread's session
 *            → session/set_mode: ASK → `default` (asks for edits and commands), EDITS or unspecified
 *              → `autoEdit` (edits allowed, commands ask), AUTO → `yolo` (Link allows everything itself
 *              too) — only to a mode the CLI reports for the session
 *            → session/prompt {the message}
 *   session/update              → events (gemini-updates.ts); updates before the prompt is sent are
 *                                 the resumed session's history, replayed by the CLI: not shown again
 *   session/request_permission  → an interaction (gemini-permissions.ts); the answer goes back as the
 *                                 option the CLI offered for it
 *   the session/prompt answer   → usage (its `_meta.quota`), the turn's end: stdin is closed and the
 *                                 CLI exits; an error answer is the run's error, in the CLI's words
 *                                 (a quota error ends the run USAGE_LIMIT: gemini-limits.ts)
 *
 * Interrupt: the `session/cancel` notification; the CLI ends the turn and answers the prompt with
 * stopReason "cancelled" (the session kept, so the next run loads it). It takes no input mid-turn
 * (not steerable): a message sent during a turn waits for its end.
 *
 * The model is the `--model=` flag, not ACP: ACP sets models through session config options, which
 * this CLI does not offer (it has an unstable `session/set_model` of an earlier draft instead).
 * Killed or interrupted (SIGINT) mid-turn it exits without answering the prompt: no answer means the
 * run did not complete, whatever the exit code. See gemini-sessions.ts for a guard on resume.
 */
import type {
  InitializeRequest,
  LoadSessionResponse,
  NewSessionResponse,
  PromptResponse,
  RequestPermissionRequest,
  SessionModeState,
  SessionNotification,
} from '@agentclientprotocol/sdk';
import { AGENT_METHODS, CLIENT_METHODS, PROTOCOL_VERSION } from '@agentclientprotocol/sdk';
import { LogLine_Stream, PermissionMode, type RunPayload } from '../../gen/link/v1/run_pb.js';
import type { EventInit } from '../runs/outbox.js';
import { AcpLines, describeAcpError, METHOD_NOT_FOUND, type AcpError, type AgentRequest } from './gemini-acp.js';
import { permissionInteraction, permissionOutcome } from './gemini-permissions.js';
import { geminiHome, keepSessionFromLoad } from './gemini-sessions.js';
import { GeminiTurnEvents } from './gemini-updates.js';
import { geminiQuotaError } from './gemini-limits.js';
import { UsageLimitWatch } from './usage-limit.js';
import type { HarnessAdapter, OutputParser, RunIo } from './harness.js';
import { doneEvent, jsonLine, log, usageEvent } from './jsonl.js';

/** The CLI's approval mode for each permission mode. */
const MODES: Record<PermissionMode, string> = {
  [PermissionMode.UNSPECIFIED]: 'autoEdit',
  [PermissionMode.ASK]: 'default',
  [PermissionMode.EDITS]: 'autoEdit',
  [PermissionMode.AUTO]: 'yolo',
};

export interface GeminiHarnessOptions {
  /** The home the CLI keeps its sessions in (default: the one it would pick from linkd's environment). */
  home?: () => string;
}

/** The Gemini CLI adapter; `options` are for tests that run the CLI with a home of their own. */
export function createGeminiHarness(options: GeminiHarnessOptions = {}): HarnessAdapter {
  return {
    name: 'gemini',
    binary: 'gemini',
    interactive: true,
    interruptible: true,
    interruptSignal: 'SIGINT',
    command(payload) {
      // One argv element: a model name can never be read as another flag.
      return { file: 'gemini', args: ['--acp', ...(payload.model ? [`--model=${payload.model}`] : [])] };
    },
    parser(payload, cwd, io) {
      return io ? geminiParser(payload, cwd, io, (options.home ?? (() => geminiHome()))()) : withoutStdin();
    },
  };
}

export const geminiHarness: HarnessAdapter = createGeminiHarness();

/** Run without a stdin (no interactions given): the CLI reads nothing and exits; the run fails, saying why. */
function withoutStdin(): OutputParser {
  return {
    line: (text, stream) => [log(stream === 'stderr' ? LogLine_Stream.STDERR : LogLine_Stream.STDOUT, text)],
    finish: (exit) => [
      { event: { case: 'error', value: { code: 'not_interactive', message: 'the gemini harness talks to the CLI over its stdin, and this run has none' } } },
      doneEvent(exit, 'failed', ''),
    ],
  };
}

/**
 * The ACP conversation of one run: `start()` opens it, each stdout line moves it on. `home` is
 * where the CLI keeps its sessions (for the guard on resume).
 */
export function geminiParser(payload: RunPayload, cwd: string, io: RunIo, home: string): OutputParser {
  const rpc = new AcpLines(io.input);
  const turn = new GeminiTurnEvents();
  let sessionId = '';
  let outcome: 'completed' | 'failed' | undefined;
  let prompted = false;
  /** The prompt's answer came: the turn is over. */
  let answered = false;
  const asked = new Set<string>();
  const limits = new UsageLimitWatch();

  const failed = (what: string) => (error: AcpError): EventInit[] => {
    outcome = 'failed';
    io.input.end();
    return [...turn.flush(), ...geminiQuotaError(error, limits), { event: { case: 'error', value: { code: `acp_${error.code}`, message: describeAcpError(error) || `${what} failed` } } }];
  };

  function openSession(): EventInit[] {
    const params = { cwd, mcpServers: [] };
    const opened = (modes: SessionModeState | null | undefined, model: string | undefined): EventInit[] => [
      { event: { case: 'started', value: { harness: 'gemini', sessionId, model: payload.model || model || '', cwd } } },
      ...setMode(modes),
    ];
    if (payload.resumeSessionId) {
      sessionId = payload.resumeSessionId;
      keepSessionFromLoad(home, sessionId);
      rpc.request(AGENT_METHODS.session_load, { ...params, sessionId }, (result) => {
        const loaded = (result ?? {}) as LoadSessionResponse & { models?: { currentModelId?: string } };
        return opened(loaded.modes, loaded.models?.currentModelId);
      }, failed('resuming the session'));
    } else {
      rpc.request(AGENT_METHODS.session_new, params, (result) => {
        const created = (result ?? {}) as NewSessionResponse & { models?: { currentModelId?: string } };
        sessionId = String(created.sessionId ?? '');
        return opened(created.modes, created.models?.currentModelId);
      }, failed('starting a session'));
    }
    return [];
  }

  function setMode(modes: SessionModeState | null | undefined): EventInit[] {
    const wanted = MODES[payload.permissionMode] ?? MODES[PermissionMode.UNSPECIFIED];
    if (modes?.currentModeId === wanted) return prompt();
    if (!modes?.availableModes?.some((m) => m.id === wanted)) {
      return [log(LogLine_Stream.STDERR, `gemini offers no approval mode "${wanted}"; it stays in "${modes?.currentModeId ?? 'its default'}"`), ...prompt()];
    }
    rpc.request(AGENT_METHODS.session_set_mode, { sessionId, modeId: wanted }, () => prompt(), failed('setting the approval mode'));
    return [];
  }

  function prompt(): EventInit[] {
    prompted = true;
    rpc.request(AGENT_METHODS.session_prompt, { sessionId, prompt: [{ type: 'text', text: payload.prompt }] }, (result) => {
      answered = true;
      const answer = (result ?? {}) as PromptResponse;
      const quota = (answer._meta?.quota ?? {}) as { token_count?: { input_tokens?: number; output_tokens?: number } };
      const events = [...turn.flush(), usageEvent({ input: quota.token_count?.input_tokens, output: quota.token_count?.output_tokens })];
      if (answer.stopReason !== 'cancelled') outcome = 'completed';
      if (answer.stopReason && answer.stopReason !== 'end_turn') events.push(log(LogLine_Stream.STDERR, `gemini ended the turn: ${answer.stopReason}`));
      io.input.end();
      return events;
    }, (error) => {
      answered = true;
      return failed('the prompt')(error);
    });
    return [];
  }

  function permission(request: AgentRequest): EventInit[] {
    const params = request.params as RequestPermissionRequest;
    const call = params?.toolCall;
    if (!call?.toolCallId) {
      rpc.respond(request.id, { outcome: { outcome: 'cancelled' } });
      return [];
    }
    // Unique in the run, as interactions must be: the CLI's tool call id (once per call).
    let id = call.toolCallId;
    if (asked.has(id)) id = `${id}#${request.id}`;
    asked.add(id);
    const events = turn.announce(call);
    void io.interactions.ask(permissionInteraction(id, params, cwd)).then((reply) => {
      const outcome = permissionOutcome(reply, params.options ?? []);
      rpc.respond(request.id, { outcome });
      const allowed = outcome.outcome === 'selected' && params.options.find((o) => o.optionId === outcome.optionId)?.kind.startsWith('allow');
      if (reply.kind === 'answer' && !allowed) for (const event of turn.denied(call.toolCallId)) io.emit(event);
    });
    return events;
  }

  function handle(message: Record<string, unknown>): EventInit[] {
    const incoming = rpc.receive(message);
    switch (incoming.kind) {
      case 'response':
        return incoming.events;
      case 'notification': {
        const { method, params } = incoming.notification;
        if (method !== CLIENT_METHODS.session_update || !prompted) return [];
        const update = (params as SessionNotification | undefined)?.update;
        return update ? turn.update(update) : [];
      }
      case 'request':
        if (incoming.request.method === CLIENT_METHODS.session_request_permission) return permission(incoming.request);
        rpc.fail(incoming.request.id, METHOD_NOT_FOUND, `${incoming.request.method} is not offered by this client`);
        return [];
      default:
        return [];
    }
  }

  return {
    start() {
      const init: InitializeRequest = { protocolVersion: PROTOCOL_VERSION, clientCapabilities: { fs: { readTextFile: false, writeTextFile: false } } };
      rpc.request(AGENT_METHODS.initialize, init, openSession, failed('starting the ACP connection'));
    },
    line(text, stream) {
      const parsed = jsonLine(text, stream);
      if ('logged' in parsed) return [parsed.logged];
      // Joined text has no one line of its own.
      return handle(parsed.message).map((e) => (e.event?.case === 'text' || e.event?.case === 'reasoning' ? e : { ...e, raw: parsed.raw }));
    },
    interrupt() {
      if (!prompted || answered) return false;
      rpc.notify(AGENT_METHODS.session_cancel, { sessionId });
      return true;
    },
    finish: (exit) => limits.finish([...turn.flush(), doneEvent(exit, outcome, sessionId)], !payload.resumeSessionId),
  };
}
