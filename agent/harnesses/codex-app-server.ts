/**
 * The JSON-RPC side of `codex app-server` (Codex 0.171): one JSON-RPC 2.0 message a line on the
 * CLI's stdin and stdout (without the `"jsonrpc"` member on what the server sends), and the few
 * protocol shapes Link reads. The full protocol of the installed version is what
 * `codex app-server generate-ts --out DIR` writes; the shapes here were read from it.
 *
 * Three kinds of messages arrive on stdout:
 *   {id, result | error}     the answer to one of our requests (matched by id)
 *   {method, params}         a notification (item/started, turn/completed, …)
 *   {id, method, params}     a request of the server (an approval, a question), answered with
 *                            `respond(id, result)` — or withdrawn by `serverRequest/resolved`
 *
 * Answers are handled synchronously, inside the line that carries them, so the events a handler
 * returns keep their place among the events of the lines around it.
 */
import { LINK_VERSION } from '../../common/protocol.js';
import { PermissionMode, type RunPayload } from '../../gen/link/v1/run_pb.js';
import type { EventInit } from '../runs/outbox.js';
import type { HarnessInput } from './harness.js';

export type RpcId = string | number;

/** A JSON-RPC error object, as the server sends it. */
export interface RpcError {
  code?: number;
  message?: string;
}

/** What a response handler gets: the result, or the server's error. */
export type RpcOutcome = { result: Record<string, unknown> } | { error: RpcError };

/** One message of the server, by kind. */
export type ServerMessage =
  | { kind: 'notification'; method: string; params: Record<string, unknown> }
  | { kind: 'request'; id: RpcId; method: string; params: Record<string, unknown> }
  | { kind: 'response'; events: EventInit[] };

/** The JSON-RPC client of one app-server process: our requests, their answers, and our answers to its requests. */
export class CodexRpc {
  private nextId = 1;
  private readonly waiting = new Map<RpcId, (outcome: RpcOutcome) => EventInit[]>();

  constructor(private readonly input: HarnessInput) {}

  /** Sends a request; `onAnswer` runs when its answer arrives and returns the events it makes. */
  request(method: string, params: unknown, onAnswer: (outcome: RpcOutcome) => EventInit[]): void {
    const id = this.nextId++;
    this.waiting.set(id, onAnswer);
    this.input.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
  }

  notify(method: string, params?: unknown): void {
    this.input.write(JSON.stringify({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) }));
  }

  /** Answers a request of the server. */
  respond(id: RpcId, result: unknown): void {
    this.input.write(JSON.stringify({ jsonrpc: '2.0', id, result }));
  }

  /** Refuses a request of the server (a method Link does not take part in). */
  refuse(id: RpcId, message: string): void {
    this.input.write(JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32601, message } }));
  }

  /** Sorts one parsed stdout object; an answer to our request runs its handler here. */
  receive(message: Record<string, unknown>): ServerMessage | undefined {
    const { id, method } = message;
    const params = (message.params ?? {}) as Record<string, unknown>;
    if (typeof method === 'string') {
      return typeof id === 'string' || typeof id === 'number' ? { kind: 'request', id, method, params } : { kind: 'notification', method, params };
    }
    if (typeof id !== 'string' && typeof id !== 'number') return undefined;
    const onAnswer = this.waiting.get(id);
    if (!onAnswer) return { kind: 'response', events: [] };
    this.waiting.delete(id);
    const outcome: RpcOutcome = message.error ? { error: message.error as RpcError } : { result: (message.result ?? {}) as Record<string, unknown> };
    return { kind: 'response', events: onAnswer(outcome) };
  }
}

/** The `initialize` request's params: who the client is. */
export const INITIALIZE_PARAMS = {
  clientInfo: { name: 'link', title: 'Link', version: LINK_VERSION },
  capabilities: { experimentalApi: false, requestAttestation: false },
};

/**
 * How a permission mode is said to Codex (found by running 0.171 here against the fake model):
 *
 *   mode    approvalPolicy  sandbox          what Codex does
 *   ASK     untrusted       workspace-write  asks before every command (even `ls`) and every edit
 *   EDITS   untrusted       workspace-write  the same requests; Link answers edits inside the run's
 *                                            directory itself (Codex has no "edits only" policy:
 *                                            `on-request` runs every command inside the sandbox
 *                                            without asking, and asks only to leave it)
 *   AUTO    never           workspace-write  never asks; everything runs inside the sandbox, and
 *                                            what the sandbox forbids fails (the model is told)
 *
 * An approved command still runs in the workspace-write sandbox: it can write in the run's
 * directory (and the temp directories), not elsewhere. `read-only` would make an approved
 * `echo hi > hello.txt` fail, which is why ASK does not use it.
 */
export function codexPolicy(mode: PermissionMode): { approvalPolicy: 'untrusted' | 'never'; sandbox: 'workspace-write'; editsAllowed: boolean } {
  if (mode === PermissionMode.AUTO) return { approvalPolicy: 'never', sandbox: 'workspace-write', editsAllowed: true };
  return { approvalPolicy: 'untrusted', sandbox: 'workspace-write', editsAllowed: mode !== PermissionMode.ASK };
}

/**
 * The params of `thread/start` (or, with the thread id, `thread/resume`) for a run.
 *
 * `config` overrides apply to this thread only, never to `config.toml`:
 *   - the run's directory is declared trusted in memory. Otherwise starting a thread in a git
 *     repository (or worktree) writes `[projects."<repository>"] trust_level = "trusted"` into the
 *     user's `$CODEX_HOME/config.toml`; with the trust already decided, Codex writes nothing.
 *   - `request_user_input` (the model's question tool) is offered outside Plan mode; without the
 *     feature the tool answers the model "request_user_input is unavailable in Default mode".
 */
export function threadParams(payload: RunPayload, cwd: string): Record<string, unknown> {
  const { approvalPolicy, sandbox } = codexPolicy(payload.permissionMode);
  const config = {
    projects: { [cwd]: { trust_level: 'trusted' } },
    'features.default_mode_request_user_input': true,
    suppress_unstable_features_warning: true,
  };
  const params: Record<string, unknown> = { cwd, approvalPolicy, sandbox, config, ...(payload.model ? { model: payload.model } : {}) };
  // Only the thread's metadata: its earlier turns are not needed to go on.
  return payload.resumeSessionId ? { threadId: payload.resumeSessionId, ...params, excludeTurns: true } : params;
}
