/**
 * The client side of the Agent Client Protocol (JSON-RPC 2.0, one message a line) on a harness's
 * stdin and stdout lines, for Gemini CLI's `--acp` mode.
 *
 * Why not the SDK's `ClientApp` connection: it reads a web stream and calls its handlers
 * asynchronously, while a harness parser turns each stdout line into events synchronously — so
 * each event keeps the line it came from (`raw`), keeps its order against the other lines, and
 * the last line's events are out before the exit's `done`. A fixture can be replayed line by line
 * the same way. This class is that connection over lines (ids, responses, errors); the message
 * shapes and method names are the SDK's (`@agentclientprotocol/sdk` types, `AGENT_METHODS`).
 *
 * Responses settle their request's callbacks while the response line is being parsed, and what
 * the callbacks return are that line's events.
 */
import type { EventInit } from '../runs/outbox.js';
import type { HarnessInput } from './harness.js';

/** A JSON-RPC error as the CLI sent it. */
export interface AcpError {
  code: number;
  message: string;
  data?: unknown;
}

/** A request the agent (the CLI) sent us; answer it with `respond` or `fail`. */
export interface AgentRequest {
  id: string | number;
  method: string;
  params: unknown;
}

/** A notification from the agent. */
export interface AgentNotification {
  method: string;
  params: unknown;
}

/** What one stdout message was. Responses were already handed to their callbacks. */
export type Incoming =
  | { kind: 'response'; events: EventInit[] }
  | { kind: 'request'; request: AgentRequest }
  | { kind: 'notification'; notification: AgentNotification }
  | { kind: 'other' };

interface Pending {
  onResult: (result: unknown) => EventInit[];
  onError: (error: AcpError) => EventInit[];
}

/** JSON-RPC error codes this client answers with. */
export const METHOD_NOT_FOUND = -32601;

export class AcpLines {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly input: HarnessInput) {}

  /** Sends a request; exactly one of the callbacks runs when its response line arrives (never, if the CLI exits first). */
  request(method: string, params: unknown, onResult: Pending['onResult'], onError: Pending['onError']): void {
    const id = this.nextId++;
    this.pending.set(id, { onResult, onError });
    this.send({ id, method, params });
  }

  /** Sends a notification (no answer comes). */
  notify(method: string, params: unknown): void {
    this.send({ method, params });
  }

  /** The result of a request the agent sent. */
  respond(id: AgentRequest['id'], result: unknown): void {
    this.send({ id, result });
  }

  /** An error answer to a request the agent sent. */
  fail(id: AgentRequest['id'], code: number, message: string): void {
    this.send({ id, error: { code, message } });
  }

  /** Classifies one parsed stdout object; a response runs its request's callback here. */
  receive(message: Record<string, unknown>): Incoming {
    const { id, method } = message;
    if (typeof method === 'string') {
      if (id === undefined || id === null) return { kind: 'notification', notification: { method, params: message.params } };
      if (typeof id === 'string' || typeof id === 'number') return { kind: 'request', request: { id, method, params: message.params } };
      return { kind: 'other' };
    }
    if (typeof id !== 'number') return { kind: 'other' };
    const pending = this.pending.get(id);
    if (!pending) return { kind: 'other' };
    this.pending.delete(id);
    if (message.error && typeof message.error === 'object') {
      const error = message.error as Partial<AcpError>;
      return { kind: 'response', events: pending.onError({ code: Number(error.code ?? 0), message: String(error.message ?? ''), data: error.data }) };
    }
    return { kind: 'response', events: pending.onResult(message.result) };
  }

  private send(message: Record<string, unknown>): void {
    this.input.write(JSON.stringify({ jsonrpc: '2.0', ...message }));
  }
}

/**
 * An ACP error in the CLI's own words, made readable: Gemini CLI passes an API error on as the
 * HTTP status and the API's JSON body (`{"error":{"code":401,"message":"…","status":"UNAUTHENTICATED"}}`),
 * and an internal error with its details in `data`.
 */
export function describeAcpError(error: AcpError): string {
  let message = error.message;
  try {
    const body = JSON.parse(message) as { error?: { message?: unknown; status?: unknown } };
    if (body.error && typeof body.error.message === 'string') {
      message = body.error.status ? `${body.error.message} (${String(body.error.status)})` : body.error.message;
    }
  } catch {
    // not JSON: the CLI's words as they are
  }
  const details = (error.data as { details?: unknown } | undefined)?.details;
  if (typeof details === 'string' && details && !message.includes(details)) message = `${message}: ${details}`;
  return error.code >= 400 && error.code < 600 ? `API error ${error.code}: ${message}` : message;
}
