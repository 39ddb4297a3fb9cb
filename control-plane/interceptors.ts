/**
 * The edge every RPC passes on both ports, applied once per service around the authenticated
 * implementation (`edge.wrap(Service, auth.protect(Service, impl))`), so that grpc-js (through
 * grpc-adapter) and connect-node run the same code:
 *
 *   request ─▶ size (HTTP port; the gRPC port measured the wire) ─▶ RequestValidator ─▶ auth ─▶ handler
 *                                                                                             │
 *   client ◀── classified error ◀── log once, count database errors ◀────── any error ◀──────┘
 *
 * Streams stay streams: a client stream's frames are checked one by one as the handler reads
 * them, and responses are passed through as they are produced.
 *
 * An error a handler raised on purpose (a ConnectError with a Link reason, or any code but
 * UNKNOWN/INTERNAL) reaches the client as it is. Anything else (a plain Error, a postgres.js
 * error, a ConnectError that only wraps one) is INTERNAL "internal error (request id …)" with
 * reason INTERNAL: its text stays in the log, next to the request id the client was given.
 */
import { randomUUID } from 'node:crypto';
import { toBinary, type DescMessage, type DescMethod, type DescService, type Message } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext } from '@connectrpc/connect';
import { ERROR_DOMAIN, linkError, Reason } from '../common/errors.js';
import { ErrorInfoSchema } from '../gen/google/rpc/error_details_pb.js';
import type { Logger } from '../common/log.js';
import { transportKey } from './context.js';
import type { AnyServiceImpl } from './grpc-adapter.js';
import { takesOnArrival, type TakesOnArrival } from './on-arrival.js';
import { RequestValidator } from './validation.js';

/** What the edge needs from the server: where to log, what to count, the size limit. */
export interface RpcEdgeOptions {
  log: Logger;
  /** Counts requests that failed on a database error (`link_server_database_errors_total`). */
  databaseErrors: { inc(): void };
  /** Largest request message, in bytes; larger ones are RESOURCE_EXHAUSTED MESSAGE_TOO_LARGE. */
  maxMessageBytes: number;
  validator?: RequestValidator;
}

/**
 * One per server, shared by both ports. `wrap` each service once, outside auth; pass `refused` to
 * the gRPC port for requests it turns away before any handler (they are logged the same way).
 */
export class RpcEdge {
  private readonly validator: RequestValidator;

  constructor(private readonly options: RpcEdgeOptions) {
    this.validator = options.validator ?? new RequestValidator();
  }

  /**
   * Wraps every method of `impl` (a Connect ServiceImpl, usually already wrapped by auth) with
   * the request checks and the error classification. Methods `impl` lacks stay absent (the
   * transports answer UNIMPLEMENTED).
   */
  wrap<T extends object>(service: DescService, impl: T): T {
    const wrapped: AnyServiceImpl = {};
    const source = impl as unknown as AnyServiceImpl;
    for (const method of service.methods) {
      const fn = source[method.localName];
      if (!fn) continue;
      const call = (request: unknown, ctx: HandlerContext) => fn.call(impl, request, ctx);
      // An agent's frames come from linkd, which may be newer than this server: enum values it
      // added are passed through (stored as they came), not refused. Users' requests are checked.
      const openEnums = method.methodKind === 'bidi_streaming';
      const check = (request: unknown, ctx: HandlerContext) => this.checkRequest(method.input, request as Message, ctx, openEnums);
      const fail = (error: unknown, ctx: HandlerContext) => this.classify(error, method, ctx);
      switch (method.methodKind) {
        case 'unary':
          wrapped[method.localName] = async (request, ctx) => {
            try {
              check(request, ctx);
              return await call(request, ctx);
            } catch (error) {
              throw fail(error, ctx);
            }
          };
          break;
        case 'server_streaming':
          wrapped[method.localName] = async function* (request, ctx) {
            try {
              check(request, ctx);
              yield* call(request, ctx) as AsyncIterable<unknown>;
            } catch (error) {
              throw fail(error, ctx);
            }
          };
          break;
        case 'client_streaming':
          wrapped[method.localName] = async (requests, ctx) => {
            try {
              return await call(checkedFrames(requests as AsyncIterable<unknown>, (r) => check(r, ctx)), ctx);
            } catch (error) {
              throw fail(error, ctx);
            }
          };
          break;
        case 'bidi_streaming':
          wrapped[method.localName] = async function* (requests, ctx) {
            try {
              yield* call(checkedFrames(requests as AsyncIterable<unknown>, (r) => check(r, ctx)), ctx) as AsyncIterable<unknown>;
            } catch (error) {
              throw fail(error, ctx);
            }
          };
          break;
      }
    }
    return wrapped as unknown as T;
  }

  /**
   * Logs and counts an error a transport raised before any handler ran (a request the gRPC port
   * could not decode, or one over the size limit); it is already classified.
   */
  refused(error: ConnectError, path: string): void {
    this.options.log.debug({ method: path.slice(1), code: Code[error.code], transport: 'grpc' }, error.rawMessage);
  }

  private checkRequest(schema: DescMessage, request: Message, ctx: HandlerContext, openEnums: boolean): void {
    // The gRPC port measured the message on the wire; connect-node's limit is set wider so that
    // this check, with its reason, is the one a client meets.
    if (ctx.values.get(transportKey) === 'http') {
      const size = toBinary(schema, request).byteLength;
      const limit = this.options.maxMessageBytes;
      if (size > limit) {
        throw linkError(Code.ResourceExhausted, Reason.MessageTooLarge, `message of ${size} bytes exceeds the limit of ${limit} bytes`, {
          limit: String(limit),
          size: String(size),
        });
      }
    }
    this.validator.check(schema, request, { openEnums });
  }

  /** The error the client gets for `error`, logged once and counted. */
  private classify(error: unknown, method: DescMethod, ctx: HandlerContext): ConnectError {
    const { log, databaseErrors } = this.options;
    const transport = ctx.values.get(transportKey);
    if (hasDatabaseCause(error)) databaseErrors.inc();
    if (isDeliberate(error)) {
      log.debug({ method: methodName(method), code: Code[error.code], transport, err: error.cause }, error.rawMessage);
      return error;
    }
    if (ctx.signal.aborted) {
      // The caller went away or the deadline passed: what broke as a result is not news.
      const ended = ConnectError.from(ctx.signal.reason);
      log.debug({ method: methodName(method), code: Code[ended.code], transport, err: error }, 'call ended while failing');
      return ended;
    }
    const requestId = randomUUID();
    log.error({ requestId, method: methodName(method), transport, err: error }, 'internal error');
    return linkError(Code.Internal, Reason.Internal, `internal error (request id ${requestId})`, { request_id: requestId });
  }
}

/** A ConnectError Link code raised on purpose: any code but UNKNOWN/INTERNAL, or one with a Link reason. */
function isDeliberate(error: unknown): error is ConnectError {
  if (!(error instanceof ConnectError)) return false;
  if (error.code !== Code.Unknown && error.code !== Code.Internal) return true;
  return error.findDetails(ErrorInfoSchema).some((info) => info.domain === ERROR_DOMAIN);
}

/**
 * A client stream whose every frame passes `check` as the handler reads it. next/return/throw
 * go straight to the source, so a handler that stops reading stops the source at once. A source
 * that offers `takeOnArrival` (on-arrival.ts) still does, with the check first: a frame that fails
 * it is left queued, and the handler's read throws.
 */
function checkedFrames<T>(source: AsyncIterable<T>, check: (frame: T) => void): AsyncIterable<T> {
  return takesOnArrival<T, unknown>(source) ? new CheckedFramesOnArrival(source, check) : new CheckedFrames(source, check);
}

// Classes rather than closures: one object per stream (every agent's session holds one for its life).
class CheckedFrames<T> implements AsyncIterable<T>, AsyncIterator<T> {
  private frames: AsyncIterator<T> | undefined;

  constructor(
    protected readonly source: AsyncIterable<T>,
    protected readonly check: (frame: T) => void,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<T> {
    this.frames ??= this.source[Symbol.asyncIterator]();
    return this;
  }

  async next(): Promise<IteratorResult<T>> {
    const result = await this.frames!.next();
    if (!result.done) this.check(result.value);
    return result;
  }

  return(value?: unknown): Promise<IteratorResult<T>> {
    return this.frames?.return?.(value) ?? Promise.resolve({ done: true as const, value: undefined });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    return this.frames?.throw?.(error) ?? Promise.reject(error);
  }
}

class CheckedFramesOnArrival<T> extends CheckedFrames<T> implements TakesOnArrival<T, unknown> {
  takeOnArrival(take: (frame: T, respond: (response: unknown) => void) => boolean): void {
    (this.source as TakesOnArrival<T, unknown>).takeOnArrival((frame, respond) => {
      try {
        this.check(frame);
      } catch {
        return false;
      }
      return take(frame, respond);
    });
  }
}

function methodName(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

/** Whether an error, or anything in its cause chain, came from Postgres or the connection to it (postgres.js). */
export function hasDatabaseCause(error: unknown): boolean {
  for (let cause = error, depth = 0; cause && typeof cause === 'object' && depth < 8; cause = (cause as { cause?: unknown }).cause, depth++) {
    const { severity, code } = cause as { severity?: unknown; code?: unknown };
    if (typeof severity === 'string' || (typeof code === 'string' && (/^CONNECTION_/.test(code) || code === 'ECONNREFUSED' || code === 'ECONNRESET'))) return true;
  }
  return false;
}
