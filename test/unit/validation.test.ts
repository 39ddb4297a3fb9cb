/**
 * The request validator and the RPC edge, on generated messages and a fake handler: what is
 * refused, with which field path, and what a client sees of an error that was not meant for it.
 */
import assert from 'node:assert/strict';
import { create, type DescMethod } from '@bufbuild/protobuf';
import { Code, ConnectError, createContextValues, createHandlerContext, type HandlerContext } from '@connectrpc/connect';
import { errorMetadataOf, linkError, Reason, reasonOf } from '../../common/errors.js';
import { createLogger } from '../../common/log.js';
import type { AnyServiceImpl } from '../../control-plane/grpc-adapter.js';
import { RpcEdge } from '../../control-plane/interceptors.js';
import { RequestValidator } from '../../control-plane/validation.js';
import { transportKey } from '../../control-plane/context.js';
import { ConnectRequestSchema, LinkService, type ConnectRequest } from '../../gen/link/v1/link_service_pb.js';
import { ModelTier } from '../../gen/link/v1/run_pb.js';
import { ThreadService, SendMessageRequestSchema, WatchRunRequestSchema, CreateThreadRequestSchema } from '../../gen/link/v1/thread_service_pb.js';
import { CredentialsState } from '../../gen/link/v1/types_pb.js';

const validator = new RequestValidator();

/** The INVALID_FIELD error `fn` throws, with its field. */
function refusal(fn: () => unknown): { field: string; error: ConnectError } {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConnectError, `not a ConnectError: ${String(error)}`);
    assert.equal(error.code, Code.InvalidArgument);
    assert.equal(reasonOf(error), Reason.InvalidField);
    return { field: errorMetadataOf(error).field, error };
  }
  assert.fail('nothing was refused');
}

describe('RequestValidator', () => {
  it('refuses a NUL in any string, naming the field path through oneofs and nested messages', () => {
    assert.equal(refusal(() => validator.check(CreateThreadRequestSchema, create(CreateThreadRequestSchema, { title: 'a\0b' }))).field, 'title');
    const frame = create(ConnectRequestSchema, {
      frame: { case: 'hello', value: { machineId: 'm', capabilities: { harnesses: [{ name: 'ok' }, { name: 'sh', detail: 'x\0' }] } } },
    });
    assert.equal(refusal(() => validator.check(ConnectRequestSchema, frame)).field, 'hello.capabilities.harnesses.detail');
  });

  it('holds strings to 64 KiB, except where the table allows more (a message body: 256 KiB)', () => {
    const big = 'é'.repeat(40 * 1024); // 80 KiB of UTF-8 in 40 Ki characters
    const { error } = refusal(() => validator.check(CreateThreadRequestSchema, create(CreateThreadRequestSchema, { title: big })));
    assert.equal(errorMetadataOf(error).max, String(64 * 1024));
    validator.check(SendMessageRequestSchema, create(SendMessageRequestSchema, { text: big }));
    assert.equal(refusal(() => validator.check(SendMessageRequestSchema, create(SendMessageRequestSchema, { text: 'x'.repeat(256 * 1024 + 1) }))).field, 'text');
    validator.check(CreateThreadRequestSchema, create(CreateThreadRequestSchema, { title: '' }));
  });

  it('lets the output a run produced carry NUL and large text, but not what goes into text columns', () => {
    const output = create(ConnectRequestSchema, {
      frame: { case: 'runEvents', value: { runId: 'run_1', events: [{ seq: 1n, raw: 'r\0', event: { case: 'text', value: { text: 'x\0'.repeat(100 * 1024) } } }] } },
    });
    validator.check(ConnectRequestSchema, output);
    const started = create(ConnectRequestSchema, {
      frame: { case: 'runEvents', value: { runId: 'run_1', events: [{ seq: 1n, event: { case: 'started', value: { sessionId: 's\0' } } }] } },
    });
    assert.equal(refusal(() => validator.check(ConnectRequestSchema, started)).field, 'run_events.events.started.session_id');
  });

  it('keeps 64-bit integers within Postgres bigint, and 32-bit unsigned ones within integer', () => {
    const { field, error } = refusal(() => validator.check(WatchRunRequestSchema, create(WatchRunRequestSchema, { runId: 'run_1', afterSeq: 2n ** 64n - 1n })));
    assert.equal(field, 'after_seq');
    assert.equal(errorMetadataOf(error).max, String(2n ** 63n - 1n));
    validator.check(WatchRunRequestSchema, create(WatchRunRequestSchema, { runId: 'run_1', afterSeq: 2n ** 63n - 1n }));
    const hello = create(ConnectRequestSchema, { frame: { case: 'hello', value: { protocolVersion: 2 ** 32 - 1 } } });
    assert.equal(refusal(() => validator.check(ConnectRequestSchema, hello)).field, 'hello.protocol_version');
  });

  it('refuses enum numbers the enum does not define, in fields and lists', () => {
    assert.equal(refusal(() => validator.check(SendMessageRequestSchema, create(SendMessageRequestSchema, { tier: 7 as ModelTier }))).field, 'tier');
    validator.check(SendMessageRequestSchema, create(SendMessageRequestSchema, { tier: ModelTier.THINKING }));
    const hello = create(ConnectRequestSchema, {
      frame: { case: 'hello', value: { capabilities: { harnesses: [{ name: 'x', credentials: 42 as CredentialsState }] } } },
    });
    assert.equal(refusal(() => validator.check(ConnectRequestSchema, hello)).field, 'hello.capabilities.harnesses.credentials');
  });

  it("with openEnums (an agent's frames) passes enum values a newer linkd may know, and still checks the rest", () => {
    const hello = create(ConnectRequestSchema, {
      frame: { case: 'hello', value: { capabilities: { harnesses: [{ name: 'x', credentials: 42 as CredentialsState }] } } },
    });
    validator.check(ConnectRequestSchema, hello, { openEnums: true });
    const nul = create(ConnectRequestSchema, {
      frame: { case: 'hello', value: { capabilities: { harnesses: [{ name: 'x\u0000', credentials: 42 as CredentialsState }] } } },
    });
    assert.equal(refusal(() => validator.check(ConnectRequestSchema, nul, { openEnums: true })).field, 'hello.capabilities.harnesses.name');
  });

  it("lets a run's changes carry patches up to linkd's own caps (256 KiB a file), in an event and in a sandbox reply", () => {
    const files = [{ path: 'big.txt', patch: 'x'.repeat(256 * 1024) }];
    const event = create(ConnectRequestSchema, { frame: { case: 'runEvents', value: { runId: 'r', events: [{ seq: 1n, event: { case: 'changes', value: { files } } }] } } });
    validator.check(ConnectRequestSchema, event);
    const reply = create(ConnectRequestSchema, { frame: { case: 'sandboxReply', value: { opId: 'op', result: { case: 'changes', value: { files } } } } });
    validator.check(ConnectRequestSchema, reply);
  });

  it('caps repeated fields at 1,024 entries unless the table allows more', () => {
    const heldRuns = Array.from({ length: 1_025 }, (_, i) => ({ runId: `run_${i}` }));
    const hello = create(ConnectRequestSchema, { frame: { case: 'hello', value: { heldRuns } } });
    assert.equal(refusal(() => validator.check(ConnectRequestSchema, hello)).field, 'hello.held_runs');
    const events = Array.from({ length: 5_000 }, (_, i) => ({ seq: BigInt(i + 1) }));
    validator.check(ConnectRequestSchema, create(ConnectRequestSchema, { frame: { case: 'runEvents', value: { runId: 'r', events } } }));
  });
});

describe('RpcEdge', () => {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ name: 'test', level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
  let databaseErrors = 0;
  const edge = new RpcEdge({ log, databaseErrors: { inc: () => void databaseErrors++ }, maxMessageBytes: 1024 });

  function context(transport: 'grpc' | 'http', method: DescMethod = ThreadService.method.createThread): HandlerContext {
    return createHandlerContext({
      service: ThreadService,
      method,
      protocolName: 'connect',
      requestMethod: 'POST',
      url: '/',
      requestHeader: new Headers(),
      contextValues: createContextValues().set(transportKey, transport),
    });
  }

  async function failure(promise: Promise<unknown>): Promise<ConnectError> {
    return promise.then(
      () => assert.fail('the call succeeded'),
      (error: unknown) => (assert.ok(error instanceof ConnectError), error),
    );
  }

  beforeEach(() => {
    lines.length = 0;
    databaseErrors = 0;
  });

  it('refuses a bad request before the handler runs', async () => {
    let ran = false;
    const wrapped = edge.wrap(ThreadService, { createThread: async () => ((ran = true), {}) }) as unknown as AnyServiceImpl;
    const error = await failure(Promise.resolve(wrapped.createThread(create(CreateThreadRequestSchema, { title: '\0' }), context('grpc'))));
    assert.equal(reasonOf(error), Reason.InvalidField);
    assert.equal(ran, false);
  });

  it('sends a Postgres error as INTERNAL with a request id, logs its text once and counts it', async () => {
    const pgError = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { severity: 'ERROR', code: '22021' });
    const wrapped = edge.wrap(ThreadService, { createThread: async () => Promise.reject(pgError) }) as unknown as AnyServiceImpl;
    const error = await failure(Promise.resolve(wrapped.createThread(create(CreateThreadRequestSchema, {}), context('http'))));
    assert.equal(error.code, Code.Internal);
    assert.equal(reasonOf(error), Reason.Internal);
    const requestId = errorMetadataOf(error).request_id;
    assert.equal(error.rawMessage, `internal error (request id ${requestId})`);
    assert.doesNotMatch(error.rawMessage, /UTF8/);
    assert.equal(databaseErrors, 1);
    const logged = lines.filter((l) => l.requestId === requestId);
    assert.equal(logged.length, 1);
    assert.match(JSON.stringify(logged[0].err), /invalid byte sequence/);
    assert.equal(logged[0].method, 'link.v1.ThreadService/CreateThread');
  });

  it('passes deliberate errors through, and hides an UNKNOWN ConnectError that only wraps another error', async () => {
    const deliberate = linkError(Code.NotFound, Reason.ThreadNotFound, 'no thread t');
    const wrapped = edge.wrap(ThreadService, {
      createThread: async () => Promise.reject(deliberate),
      getThread: async () => Promise.reject(ConnectError.from(new TypeError('Cannot read properties of null'))),
    }) as unknown as AnyServiceImpl;
    assert.equal(await failure(Promise.resolve(wrapped.createThread(create(CreateThreadRequestSchema, {}), context('grpc')))), deliberate);
    const hidden = await failure(Promise.resolve(wrapped.getThread({ threadId: 't' } as never, context('grpc', ThreadService.method.getThread))));
    assert.equal(reasonOf(hidden), Reason.Internal);
    assert.doesNotMatch(hidden.rawMessage, /Cannot read/);
  });

  it('refuses a message over the limit on the HTTP port with MESSAGE_TOO_LARGE', async () => {
    const wrapped = edge.wrap(ThreadService, { sendMessage: async () => ({}) }) as unknown as AnyServiceImpl;
    const error = await failure(Promise.resolve(wrapped.sendMessage(create(SendMessageRequestSchema, { text: 'x'.repeat(2_000) }), context('http', ThreadService.method.sendMessage))));
    assert.equal(error.code, Code.ResourceExhausted);
    assert.equal(reasonOf(error), Reason.MessageTooLarge);
    assert.equal(errorMetadataOf(error).limit, '1024');
  });

  it('checks a client stream frame by frame as the handler reads it, and keeps it a stream', async () => {
    const seen: string[] = [];
    const wrapped = edge.wrap(LinkService, {
      async *connect(frames: AsyncIterable<ConnectRequest>) {
        for await (const frame of frames) {
          seen.push(frame.frame.case ?? '');
          yield {};
        }
      },
    }) as unknown as AnyServiceImpl;
    async function* frames() {
      yield create(ConnectRequestSchema, { frame: { case: 'heartbeat', value: { seq: 1n } } });
      yield create(ConnectRequestSchema, { frame: { case: 'goodbye', value: { reason: 'bye\0' } } });
    }
    const responses = wrapped.connect(frames(), context('grpc', LinkService.method.connect)) as AsyncIterable<unknown>;
    const iterator = responses[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).done, false, 'the first response comes before the second frame is read');
    assert.deepEqual(seen, ['heartbeat']);
    const error = await failure(iterator.next());
    assert.equal(errorMetadataOf(error).field, 'goodbye.reason');
  });
});
