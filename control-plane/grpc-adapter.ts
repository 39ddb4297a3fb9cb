/**
 * Serves a Connect `ServiceImpl` on a grpc-js server, so that each service is written once and
 * mounted on both the gRPC port (grpc-js, HTTP/2, reflection) and the HTTP port (connect-node).
 *
 * grpc-js knows nothing of protobuf-es: the grpc.ServiceDefinition is built from the generated
 * service descriptor, messages go through `toBinary`/`fromBinary`, and errors are ConnectErrors
 * whose details travel in `grpc-status-details-bin` exactly as connect-node would send them.
 *
 *   grpc-js call ──▶ size check ──▶ decode (malformed check) ──▶ HandlerContext ──▶ ServiceImpl method
 *        ▲            (every service)                                                 │
 *        └──────────── encode responses / status + ErrorInfo trailer ◀────────────────┘
 *
 * The size limit holds for every service on the server, reflection included: `createGrpcServer`
 * measures each request message before any service's deserializer sees it.
 */
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type DescMessage, type DescMethod, type DescService } from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  createContextValues,
  type ConnectRouter,
  createHandlerContext,
  type ContextValues,
  type HandlerContext,
  type ServiceImpl,
} from '@connectrpc/connect';
import { setTrailerStatus } from '@connectrpc/connect/protocol-grpc';
import { linkError, Reason } from '../common/errors.js';
import { Channel } from '../common/channel.js';
import { peerAddressKey, transportKey } from './context.js';
import type { Respond, TakesOnArrival } from './on-arrival.js';

/** A request that could not be decoded or was too large: it becomes a status with a reason. */
class UndecodableRequest {
  constructor(readonly error: ConnectError) {}
}

/**
 * A grpc-js server on which no service, ours or another library's (reflection), is handed a
 * request message larger than `maxRequestBytes`: such a call ends RESOURCE_EXHAUSTED
 * MESSAGE_TOO_LARGE (metadata `limit`, `size`) before its handler starts. grpc-js itself reads up
 * to twice the limit, so that this check with its reason is what a client meets; beyond that
 * grpc-js refuses the message with RESOURCE_EXHAUSTED on its own. `onRefused` hears of each refusal.
 */
export function createGrpcServer(
  options: grpc.ServerOptions,
  maxRequestBytes: number,
  onRefused?: (error: ConnectError, path: string) => void,
): grpc.Server {
  const refuseOversized: grpc.ServerInterceptor = (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (message, pass) => {
            if (!(message instanceof UndecodableRequest) || message.error.code !== Code.ResourceExhausted) return pass(message);
            onRefused?.(message.error, method.path);
            call.sendStatus(toStatus(message.error) as grpc.StatusObject);
          },
        }),
    });
  class SizeLimitedServer extends grpc.Server {
    override addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
      const limited: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
      for (const [name, method] of Object.entries(service)) {
        const deserialize = method.requestDeserialize;
        limited[name] = {
          ...method,
          requestDeserialize: (bytes: Buffer) => (bytes.length > maxRequestBytes ? tooLarge(bytes.length, maxRequestBytes) : deserialize(bytes)),
        };
      }
      super.addService(limited as grpc.ServiceDefinition, implementation);
    }
  }
  return new SizeLimitedServer({
    ...options,
    'grpc.max_receive_message_length': 2 * maxRequestBytes,
    interceptors: [...(options.interceptors ?? []), refuseOversized],
  });
}

function tooLarge(size: number, limit: number): UndecodableRequest {
  return new UndecodableRequest(
    linkError(Code.ResourceExhausted, Reason.MessageTooLarge, `message of ${size} bytes exceeds the limit of ${limit} bytes`, {
      limit: String(limit),
      size: String(size),
    }),
  );
}

// The shapes of a ServiceImpl's methods, loosely typed: the adapter is generic over services.
type AnyImpl = (request: unknown, context: HandlerContext) => unknown;
export type AnyServiceImpl = Record<string, AnyImpl>;

export interface GrpcAdapterOptions {
  /** Extra context values for each call (the peer address is set by the adapter). */
  contextValues?: (call: { getPeer(): string }) => ContextValues;
  /** Aborted when the server shuts down: every handler's `ctx.signal` fires. */
  shutdownSignal?: AbortSignal;
  /**
   * Called with each request the adapter refuses before the handler runs (it cannot be decoded).
   * What the handler throws is the service's to log (see interceptors.ts).
   */
  onRefused?: (error: ConnectError, path: string) => void;
}

/**
 * A service and its implementation, checked against each other when made (`serviceEntry`), so
 * that a list of different services can be mounted on both transports without a cast.
 */
export interface ServiceEntry {
  readonly service: DescService;
  readonly impl: object;
  /** Mounts it on connect-node's router (the HTTP port). */
  mount(router: ConnectRouter): void;
}

/** Pairs `service` with `impl`; the compiler checks `impl`'s methods against the service's. */
export function serviceEntry<S extends DescService>(service: S, impl: Partial<ServiceImpl<S>>): ServiceEntry {
  return { service, impl, mount: (router) => void router.service(service, impl) };
}

/** Adds each entry to a grpc-js server (the gRPC port); see `addConnectService`. */
export function addServices(server: grpc.Server, services: readonly ServiceEntry[], options: GrpcAdapterOptions): void {
  for (const { service, impl } of services) addConnectService(server, service, impl as unknown as AnyServiceImpl, options);
}

/**
 * Adds `impl` for `service` to a grpc-js server. Unimplemented methods answer UNIMPLEMENTED.
 */
export function addConnectService(
  server: grpc.Server,
  service: DescService,
  impl: Partial<AnyServiceImpl>,
  options: GrpcAdapterOptions,
): void {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const path = `/${service.typeName}/${method.name}`;
    definition[method.localName] = {
      path,
      requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
      responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
      requestSerialize: (message: unknown) => Buffer.from(toBinary(method.input, message as never)),
      requestDeserialize: (bytes: Buffer) => decode(method.input, bytes),
      responseSerialize: (message: unknown) => Buffer.from(toBinary(method.output, message as never)),
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
      originalName: method.localName,
    };
    const fn = impl[method.localName];
    handlers[method.localName] = fn
      ? handlerFor(service, method, fn.bind(impl), options)
      : unimplemented(method);
  }
  server.addService(definition as grpc.ServiceDefinition, handlers);
}

function decode(schema: DescMessage, bytes: Buffer): unknown {
  try {
    return fromBinary(schema, bytes);
  } catch (cause) {
    return new UndecodableRequest(
      linkError(Code.InvalidArgument, Reason.MalformedMessage, `cannot decode ${schema.typeName}`, {}, cause),
    );
  }
}

function checked(request: unknown, method: DescMethod, options: GrpcAdapterOptions): unknown {
  if (request instanceof UndecodableRequest) {
    options.onRefused?.(request.error, `/${method.parent.typeName}/${method.name}`);
    throw request.error;
  }
  return request;
}

function contextFor(
  service: DescService,
  method: DescMethod,
  call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>,
  options: GrpcAdapterOptions,
) {
  const header = new Headers();
  for (const [key, value] of Object.entries(call.metadata.getMap())) {
    if (typeof value === 'string') header.set(key, value);
  }
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  const timeoutMs = Number.isFinite(deadlineMs) ? Math.max(0, deadlineMs - Date.now()) : undefined;
  const values = options.contextValues?.(call) ?? createContextValues();
  values.set(peerAddressKey, peerAddress(call.getPeer()));
  values.set(transportKey, 'grpc');
  const ctx = createHandlerContext({
    service,
    method,
    protocolName: 'grpc',
    requestMethod: 'POST',
    url: `/${service.typeName}/${method.name}`,
    timeoutMs,
    requestHeader: header,
    contextValues: values,
  });
  if (options.shutdownSignal) abortedOnShutdown(ctx, options.shutdownSignal);
  (call as NodeJS.EventEmitter).on('cancelled', () => ctx.abort(new ConnectError('the client cancelled the call', Code.Canceled)));
  return ctx;
}

/** The live calls' contexts of each shutdown signal, which holds one listener for all of them. */
const liveCalls = new WeakMap<AbortSignal, Set<CallContext>>();

type CallContext = ReturnType<typeof createHandlerContext>;

/**
 * Aborts `ctx` when `shutdown` aborts. Not by linking the signals (`createHandlerContext`'s
 * `shutdownSignal`): that adds a listener per call to the one shutdown signal, and an EventTarget
 * looks through all of its listeners on every add and remove, so with 10,000 agents' streams open
 * each new call paid for all the others. Here the signal has one listener, and a call is a set entry.
 */
function abortedOnShutdown(ctx: CallContext, shutdown: AbortSignal): void {
  if (shutdown.aborted) return ctx.abort(shutdown.reason);
  const calls = liveCalls.get(shutdown) ?? watchShutdown(shutdown);
  calls.add(ctx);
  ctx.signal.addEventListener('abort', () => calls.delete(ctx), { once: true });
}

function watchShutdown(shutdown: AbortSignal): Set<CallContext> {
  const calls = new Set<CallContext>();
  liveCalls.set(shutdown, calls);
  shutdown.addEventListener('abort', () => {
    for (const live of [...calls]) live.abort(shutdown.reason);
  }, { once: true });
  return calls;
}

/** grpc-js peers look like "ipv4:127.0.0.1:5555" or "ipv6:[::1]:5555"; returns the address part. */
function peerAddress(peer: string): string {
  const match = /^(?:ipv[46]:)?\[?([^\]]*?)\]?:\d+$/.exec(peer);
  return match ? match[1] : peer;
}


function toStatus(error: ConnectError): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  const trailer = setTrailerStatus(new Headers(), error);
  const details = trailer.get('grpc-status-details-bin');
  if (details) metadata.set('grpc-status-details-bin', Buffer.from(details, 'base64'));
  return { code: error.code as number as grpc.status, details: error.rawMessage, metadata };
}

function handlerFor(service: DescService, method: DescMethod, fn: AnyImpl, options: GrpcAdapterOptions) {
  // Services come wrapped by interceptors.ts, which classifies what they throw; anything else is
  // still never sent with its own text.
  const fail = (error: unknown): Partial<grpc.StatusObject> =>
    toStatus(error instanceof ConnectError ? error : new ConnectError('internal error', Code.Internal, undefined, undefined, error));
  const output = method.output;
  switch (method.methodKind) {
    case 'unary':
      return (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const ctx = contextFor(service, method, call, options);
        Promise.resolve()
          .then(() => fn(checked(call.request, method, options), ctx))
          .then(
            (response) => callback(null, create(output, response as never)),
            (error) => callback(fail(error) as grpc.ServerErrorResponse),
          )
          .finally(() => ctx.abort());
      };
    case 'server_streaming':
      return (call: grpc.ServerWritableStream<unknown, unknown>) => {
        const ctx = contextFor(service, method, call, options);
        (async () => {
          try {
            const responses = fn(checked(call.request, method, options), ctx) as AsyncIterable<unknown>;
            await writeAll(call, responses, output, ctx.signal);
            call.end();
          } catch (error) {
            if (!call.cancelled) call.emit('error', fail(error));
          } finally {
            ctx.abort();
          }
        })();
      };
    case 'bidi_streaming':
    case 'client_streaming':
      return (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        const ctx = contextFor(service, method, call, options);
        const requests = requestStream(call, method, options);
        (async () => {
          try {
            const result = fn(requests, ctx);
            if (method.methodKind === 'client_streaming') {
              call.write(create(output, (await result) as never));
            } else {
              await writeAll(call, result as AsyncIterable<unknown>, output, ctx.signal);
            }
            call.end();
          } catch (error) {
            if (!call.cancelled) call.emit('error', fail(error));
          } finally {
            ctx.abort();
          }
        })();
      };
  }
}

async function writeAll(
  call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>,
  responses: AsyncIterable<unknown>,
  output: DescMessage,
  signal: AbortSignal,
): Promise<void> {
  for await (const response of responses) {
    if (call.cancelled) return;
    if (!call.write(create(output, response as never))) {
      // Respect HTTP/2 flow control: wait until the peer reads, or the call goes away.
      await new Promise<void>((resolve) => {
        const done = () => {
          call.off('drain', done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        call.once('drain', done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }
}

/**
 * The client's messages as an async iterable. Listens to the stream's events rather than iterating
 * it: a plain `for await` over a grpc-js duplex destroys the call when the client half-closes.
 * Reading pauses while 64 messages wait, so a fast client cannot fill memory. The handler may take
 * messages as they arrive (on-arrival.ts), and answer them at once on the call.
 */
function requestStream(call: grpc.ServerDuplexStream<unknown, unknown>, method: DescMethod, options: GrpcAdapterOptions): TakesOnArrival<unknown, unknown> {
  return new RequestStream(call, method, options);
}

/** A class rather than closures: one object per call, for as long as the call lives (an agent's session). */
class RequestStream implements TakesOnArrival<unknown, unknown> {
  private static readonly highWater = 64;
  private readonly channel = new Channel<unknown>();
  private take: ((message: unknown, respond: Respond<unknown>) => boolean) | undefined;
  private readonly respond: Respond<unknown>;

  constructor(
    private readonly call: grpc.ServerDuplexStream<unknown, unknown>,
    private readonly method: DescMethod,
    private readonly options: GrpcAdapterOptions,
  ) {
    this.respond = this.write.bind(this);
    call.on('data', (message: unknown) => this.arrived(message));
    call.on('end', () => this.channel.close());
    call.on('error', (error) => this.channel.close(ConnectError.from(error)));
    call.on('cancelled', () => this.channel.close(new ConnectError('the client cancelled the call', Code.Canceled)));
  }

  takeOnArrival(take: (message: unknown, respond: Respond<unknown>) => boolean): void {
    this.take = take;
  }

  private write(response: unknown): void {
    if (!this.call.cancelled && !this.call.writableEnded) this.call.write(create(this.method.output, response as never));
  }

  private arrived(message: unknown): void {
    if (message instanceof UndecodableRequest) {
      this.options.onRefused?.(message.error, `/${this.method.parent.typeName}/${this.method.name}`);
      this.channel.close(message.error);
      return;
    }
    // Only behind nothing unread (frames keep their order against the ones the handler reads), and
    // only while the client reads what it is sent (otherwise answers would pile up here).
    if (this.take && this.channel.size === 0 && !this.call.writableNeedDrain && this.take(message, this.respond)) return;
    this.channel.push(message);
    if (this.channel.size >= RequestStream.highWater) this.call.pause();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<unknown> {
    for await (const message of this.channel) {
      if (this.channel.size < RequestStream.highWater / 2 && this.call.isPaused()) this.call.resume();
      yield message;
    }
  }
}

function unimplemented(method: DescMethod) {
  const status = toStatus(new ConnectError(`${method.parent.typeName}.${method.name} is not implemented`, Code.Unimplemented));
  switch (method.methodKind) {
    case 'unary':
      return (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(status as grpc.ServerErrorResponse);
    default:
      return (call: grpc.ServerWritableStream<unknown, unknown>) => call.emit('error', status);
  }
}
