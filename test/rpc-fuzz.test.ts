/**
 * Hostile requests on every RPC of every service, on the gRPC port and the HTTP port (Connect):
 * NUL bytes, oversized and empty strings, negative and maximal integers, unknown enum values,
 * hostile ids and paths, crowded lists, and hostile Hello frames on the agent session. Each call
 * is either served or refused with a classified error (a Link reason; never UNKNOWN or INTERNAL,
 * never Postgres's text); a refused call writes no row; no request is a database error; and the
 * server keeps serving. After Hello, every frame kind an agent may send is fuzzed the same way on
 * a session that holds a run. The cases come from the generated descriptors, so a new field is fuzzed
 * the day it is added. Bounded: one pass over the fields, each call with a deadline.
 */
import assert from 'node:assert/strict';
import { create, ScalarType, type DescMessage, type DescMethod, type DescService, type Message } from '@bufbuild/protobuf';
import { reflect } from '@bufbuild/protobuf/reflect';
import { Code, ConnectError, createClient, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import * as grpc from '@grpc/grpc-js';
import { findTrailerError } from '@connectrpc/connect/protocol-grpc';
import postgres from 'postgres';
import { errorMetadataOf, reasonOf, Reason } from '../common/errors.js';
import { MAX_MESSAGE_BYTES } from '../common/protocol.js';
import { ConnectRequestSchema, HelloSchema, LinkService } from '../gen/link/v1/link_service_pb.js';
import type { ModelTier } from '../gen/link/v1/run_pb.js';
import { SandboxService } from '../gen/link/v1/sandbox_service_pb.js';
import { ThreadService } from '../gen/link/v1/thread_service_pb.js';
import { SandboxProviderKind } from '../gen/link/v1/types_pb.js';
import { UserService } from '../gen/link/v1/user_service_pb.js';
import { closeClients, hello, RawSession } from './helpers/clients.js';
import { cases } from './helpers/rpc-cases.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const SERVICES: DescService[] = [LinkService, UserService, ThreadService, SandboxService];
const REASONS = new Set<string>(Object.values(Reason));
/** What Postgres and postgres.js say; none of it may reach a client. */
const POSTGRES_TEXT = /invalid byte sequence|out of range|syntax error|violates|duplicate key|relation "|column "|bigint|postgres|UTF8|0x00/i;

describe('hostile requests on every RPC', function () {
  this.timeout(240_000);
  let env: TestServer;
  let sql: postgres.Sql;
  let tables: string[];
  const managers: Http2SessionManager[] = [];
  const ids: Record<string, string> = {};

  const auth = (token: string): Interceptor[] => [(next) => (req) => (req.header.set('authorization', `Bearer ${token}`), next(req))];
  const ports = (): [string, Transport][] => {
    const manager = new Http2SessionManager(env.grpcUrl);
    managers.push(manager);
    return [
      ['gRPC', createGrpcTransport({ baseUrl: env.grpcUrl, sessionManager: manager, interceptors: auth(env.userToken) })],
      ['HTTP', createConnectTransport({ baseUrl: env.httpUrl, httpVersion: '1.1', interceptors: auth(env.userToken) })],
    ];
  };

  /** Rows in every table of the public schema. */
  async function rowCounts(): Promise<Record<string, number>> {
    const [row] = await sql.unsafe(`select json_build_object(${tables.map((t) => `'${t}', (select count(*) from "${t}")`).join(', ')}) as counts`);
    return row.counts as Record<string, number>;
  }

  async function databaseErrors(): Promise<number> {
    const text = await (await fetch(`${env.httpUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('link_server_database_errors_total'));
    return Number(line?.split(' ')[1] ?? 0);
  }

  function assertClassified(error: unknown, what: string): void {
    const e = ConnectError.from(error);
    assert.ok(e.code !== Code.Unknown && e.code !== Code.Internal, `${what}: ${Code[e.code]} ${e.rawMessage.slice(0, 200)}`);
    assert.ok(REASONS.has(reasonOf(e) ?? ''), `${what}: reason ${reasonOf(e)} is not one of Link's (${Code[e.code]} ${e.rawMessage.slice(0, 200)})`);
    assert.doesNotMatch(e.rawMessage, POSTGRES_TEXT, `${what}: Postgres text reached the client`);
  }

  /** Calls one method; resolves with the error it was refused with, or undefined when it was served. */
  async function call(transport: Transport, method: DescMethod, request: Message): Promise<unknown> {
    const client = createClient(method.parent, transport) as unknown as Record<string, (r: Message, o: object) => unknown>;
    const abort = new AbortController();
    // A stream may wait for changes (served); a unary call must answer, so it gets longer and a
    // timeout of its own is a failure (a handler that hangs on hostile input).
    const unary = method.methodKind === 'unary';
    const timer = setTimeout(() => abort.abort(), unary ? 10_000 : 1_500);
    try {
      if (method.methodKind === 'unary') {
        await client[method.localName](request, { signal: abort.signal });
      } else {
        // A stream that answers at all (a first message) was served; stop it there.
        for await (const _ of client[method.localName](request, { signal: abort.signal }) as AsyncIterable<unknown>) break;
      }
      return undefined;
    } catch (error) {
      if (abort.signal.aborted && unary) throw new Error(`${method.parent.name}.${method.name} did not answer within 10 s`);
      // Still streaming at the window's end: served (a watch waits for changes).
      if (abort.signal.aborted) return undefined;
      return error;
    } finally {
      clearTimeout(timer);
    }
  }

  function baseline(schema: DescMessage): Message {
    const known: Record<string, string> = {
      thread_id: ids.thread,
      link_id: ids.link,
      run_id: ids.run,
      interaction_id: 'fuzz-interaction',
      sandbox_id: ids.sandbox,
      harness: 'shell',
      text: 'echo fuzz',
      command: 'true',
      name: 'fuzz-name',
      code: 'ABCD-EFGH',
      machine_id: 'fuzz-machine',
    };
    const message = create(schema);
    const r = reflect(schema, message);
    for (const field of schema.fields) {
      if (field.fieldKind === 'scalar' && field.scalar === ScalarType.STRING && known[field.name]) r.set(field, known[field.name]);
    }
    return message;
  }

  before(async () => {
    env = await startTestServer({ heartbeatIntervalMs: 60_000, helloTimeoutMs: 2_000 });
    sql = postgres(env.databaseUrl, { max: 1, onnotice: () => undefined });
    tables = (await sql<{ table_name: string }[]>`
      select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`).map((t) => t.table_name);
    assert.ok(tables.length > 5, 'the schema has its tables');
    // Real ids to aim at: a thread with a run and a sandbox, on a link that then goes offline (so
    // nothing waits for a machine).
    const session = new RawSession(env.grpcUrl, env.linkToken, hello({
      capabilities: {
        harnesses: [{ name: 'shell', installed: true }],
        sandboxProviders: [{ kind: SandboxProviderKind.DIRECTORY, available: true }],
      },
    }));
    await session.frame('welcome');
    const threads = createClient(ThreadService, ports()[0][1]);
    const { thread } = await threads.createThread({ title: 'fuzz' });
    const { runId } = await threads.sendMessage({ threadId: thread!.id, text: 'true', harness: 'shell', linkId: env.link.id });
    await session.close();
    const { sandboxes } = await createClient(SandboxService, ports()[0][1]).listSandboxes({});
    Object.assign(ids, { thread: thread!.id, run: runId, link: env.link.id, sandbox: sandboxes[0].id });
  });

  after(async () => {
    for (const manager of managers) manager.abort();
    closeClients();
    await sql?.end({ timeout: 1 });
    await env?.close();
  });

  it('every unary and streaming method, on both ports, answers each hostile field with a classified error or serves it, and a refusal writes nothing', async () => {
    const errorsBefore = await databaseErrors();
    let refused = 0;
    let calls = 0;
    for (const service of SERVICES) {
      for (const method of service.methods) {
        if (method.methodKind === 'bidi_streaming' || method.methodKind === 'client_streaming') continue;
        for (const { field, request } of [{ field: '(empty)', request: create(method.input) }, ...cases(method.input, baseline(method.input))]) {
          for (const [port, transport] of ports()) {
            const what = `${service.name}.${method.name} ${field} on the ${port} port`;
            const rowsBefore = await rowCounts();
            const error = await call(transport, method, request);
            calls++;
            if (error === undefined) continue;
            refused++;
            assertClassified(error, what);
            assert.deepEqual(await rowCounts(), rowsBefore, `${what}: a refused call wrote rows`);
          }
        }
      }
    }
    assert.ok(calls > 300 && refused > 200, `${refused} of ${calls} calls refused`);
    assert.equal(await databaseErrors(), errorsBefore, 'no hostile request is a database error');
    // Still serving, on both ports.
    for (const [, transport] of ports()) {
      const { user } = await createClient(UserService, transport).getCurrentUser({});
      assert.equal(user?.id, env.user.id);
    }
  });

  it('hostile Hello frames on the agent session each end it with a classified error or are welcomed, and a refusal writes nothing', async () => {
    const errorsBefore = await databaseErrors();
    const first = create(ConnectRequestSchema, hello()).frame;
    assert.ok(first.case === 'hello');
    const helloCases = cases(HelloSchema, first.value);
    let refused = 0;
    for (const { field, request } of helloCases) {
      const rowsBefore = await rowCounts();
      const session = new RawSession(env.grpcUrl, env.linkToken, { frame: { case: 'hello', value: request as never } });
      const outcome = await Promise.race([session.frame('welcome').then(() => 'welcomed' as const, () => 'ended' as const), session.ended.then(() => 'ended' as const)]);
      if (outcome === 'welcomed') {
        await session.close();
        continue;
      }
      refused++;
      const error = await session.end();
      assert.ok(error, `hello.${field}: the session ended without an error`);
      assertClassified(error, `hello.${field}`);
      assert.deepEqual(await rowCounts(), rowsBefore, `hello.${field}: a refused Hello wrote rows`);
    }
    assert.ok(refused > 20, `${refused} of ${helloCases.length} Hello frames refused`);
    assert.equal(await databaseErrors(), errorsBefore, 'no hostile Hello is a database error');
    // A well-behaved agent still connects.
    const healthy = new RawSession(env.grpcUrl, env.linkToken, hello());
    await healthy.frame('welcome');
    await healthy.close();
  });

  it('hostile frames after Welcome each end the session with a classified error or are taken, and a refusal writes nothing', async () => {
    const errorsBefore = await databaseErrors();
    const RUN = 'run_placeholder';
    // Room for more than one run: a case's run left unfinished (its session refused) must not keep the next case's from being dispatched.
    const capabilities = {
      harnesses: [{ name: 'shell', installed: true }],
      sandboxProviders: [{ kind: SandboxProviderKind.DIRECTORY, available: true }],
      capacity: { maxConcurrentRuns: 16 },
    };
    const baselines: Record<string, object> = {
      runEvents: { runId: RUN, events: [{ seq: 1n, event: { case: 'text', value: { text: 'x' } } }] },
      runAccepted: { runId: RUN },
      runRejected: { runId: RUN, reason: 'CAPACITY', message: 'busy' },
      capabilitiesChanged: { capabilities },
      sandboxReply: { opId: 'op_1', result: { case: 'failure', value: { reason: 'SANDBOX_FAILED', message: 'no' } } },
    };
    // Every frame an agent may send after Hello, from the descriptor; fewer strings, as each case costs a run.
    const frames = ConnectRequestSchema.oneofs[0].fields.filter((f) => f.name !== 'hello' && f.fieldKind === 'message');
    const frameCases = frames.flatMap((field) => {
      const schema = field.message!;
      const base = create(schema, (baselines[field.localName] ?? {}) as never);
      return cases(schema, base, 3, `${field.name}.`, ['a\u0000b', 'x'.repeat(70 * 1024), 'id_'.repeat(400)]).map((c) => ({ ...c, frame: field }));
    });
    const threads = createClient(ThreadService, ports()[0][1]);
    const deadline = Date.now() + 120_000;
    let refused = 0;
    let ran = 0;
    let previous = '(none)';
    for (const { field, request, frame } of frameCases) {
      if (Date.now() > deadline) break;
      ran++;
      const session = new RawSession(env.grpcUrl, env.linkToken, hello({ capabilities }));
      try {
        await session.frame('welcome');
        const { thread } = await threads.createThread({});
        const { runId } = await threads.sendMessage({ threadId: thread!.id, text: 'true', harness: 'shell', linkId: env.link.id });
        await session.frame('dispatchRun').catch(async (error: Error) => {
          // Which case came before, and where the run stands: what a failure here needs to be understood.
          const [row] = await env.store.connection`select state, session_epoch::text as epoch from runs where id = ${runId}`;
          throw new Error(`${error.message} (after the case ${previous}; the run is ${JSON.stringify(row)})`);
        });
        previous = field;
        const value = request as Message & { runId?: string };
        if (value.runId === RUN) value.runId = runId;
        const rowsBefore = await rowCounts();
        session.send({ frame: { case: frame.localName, value } as never });
        // Frames are handled in order: the heartbeat is answered only if the frame before it was taken.
        session.send({ frame: { case: 'heartbeat', value: { seq: 1n } } });
        const outcome = await Promise.race([session.frame('heartbeatAck').then(() => 'taken' as const, () => 'ended' as const), session.ended.then(() => 'ended' as const)]);
        if (outcome === 'taken') continue;
        const error = await session.end();
        if (!error) continue; // a Goodbye ends the session on purpose
        refused++;
        assertClassified(error, field);
        assert.deepEqual(await rowCounts(), rowsBefore, `${field}: a refused frame wrote rows`);
      } finally {
        await session.close();
      }
    }
    if (process.env.LINK_TEST_VERBOSE) console.log(`${refused} of ${ran} frames refused`);
    assert.ok(ran >= Math.min(frameCases.length, 40) && refused > 10, `${refused} of ${ran} frames refused (${frameCases.length} cases)`);
    assert.equal(await databaseErrors(), errorsBefore, 'no hostile frame is a database error');
  });

  it('a request over 4 MiB is refused with MESSAGE_TOO_LARGE on both ports, by every service on the gRPC port (reflection too)', async () => {
    const text = 'x'.repeat(5 * 1024 * 1024);
    for (const [port, transport] of ports()) {
      const error = await createClient(ThreadService, transport).sendMessage({ threadId: ids.thread, text }).then(() => undefined, (e: unknown) => ConnectError.from(e));
      assert.ok(error, `${port}: a 5 MiB request was served`);
      assert.equal(Code[error.code], 'ResourceExhausted', `${port}: ${error.rawMessage}`);
      assert.equal(reasonOf(error), Reason.MessageTooLarge, `${port}: ${error.rawMessage}`);
      assert.equal(errorMetadataOf(error).limit, String(MAX_MESSAGE_BYTES));
    }
    // Reflection is served by a library of its own; the limit holds there too. (The request is
    // a file_containing_symbol of 5 MiB: field 4, length-delimited.)
    const client = new grpc.Client(`127.0.0.1:${env.server.grpcPort}`, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': 16 * 1024 * 1024,
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
    });
    try {
      const symbol = Buffer.alloc(5 * 1024 * 1024, 0x61);
      const length = [];
      for (let n = symbol.length; ; n >>>= 7) {
        if (n < 0x80) {
          length.push(n);
          break;
        }
        length.push((n & 0x7f) | 0x80);
      }
      const request = Buffer.concat([Buffer.from([0x22, ...length]), symbol]);
      const call = client.makeBidiStreamRequest('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', (b: Buffer) => b, (b: Buffer) => b, new grpc.Metadata());
      let answered = false;
      const status = await new Promise<grpc.StatusObject>((resolve) => {
        call.on('status', resolve);
        call.on('data', () => (answered = true));
        call.on('error', () => undefined);
        call.write(request);
        call.end();
      });
      assert.equal(answered, false, 'reflection answered a 5 MiB request');
      assert.equal(status.code, grpc.status.RESOURCE_EXHAUSTED, status.details);
      const details = status.metadata.get('grpc-status-details-bin')[0] as Buffer | undefined;
      const error = findTrailerError(new Headers({ 'grpc-status': String(status.code), 'grpc-message': 'x', 'grpc-status-details-bin': details?.toString('base64') ?? '' }));
      assert.equal(reasonOf(error), Reason.MessageTooLarge);
    } finally {
      client.close();
    }
  });

  it('a model name a CLI could read as a flag, and a tier outside the enum, are refused at SendMessage', async () => {
    for (const [port, transport] of ports()) {
      const threads = createClient(ThreadService, transport);
      for (const model of ['--yolo', '-m', 'gpt 5', 'a;rm -rf /', 'x'.repeat(129)]) {
        const error = await threads.sendMessage({ threadId: ids.thread, text: 'hi', model }).then(() => undefined, (e: unknown) => ConnectError.from(e));
        assert.equal(reasonOf(error), Reason.InvalidField, `${port}: model ${model.slice(0, 20)} was not refused`);
        assert.equal(errorMetadataOf(error).field, 'model');
      }
      const error = await threads.sendMessage({ threadId: ids.thread, text: 'hi', tier: 9 as ModelTier }).then(() => undefined, (e: unknown) => ConnectError.from(e));
      assert.equal(reasonOf(error), Reason.InvalidField, `${port}: tier 9 was not refused`);
      assert.equal(errorMetadataOf(error).field, 'tier');
    }
  });
});
