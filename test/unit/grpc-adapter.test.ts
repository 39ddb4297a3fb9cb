/**
 * The gRPC port's adapter: a bidi handler may take the client's messages as they arrive and answer
 * them on the call at once (on-arrival.ts), over a real grpc-js server on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { HandlerContext } from '@connectrpc/connect';
import { Channel } from '../../common/channel.js';
import { createLogger } from '../../common/log.js';
import { addConnectService, type AnyServiceImpl } from '../../control-plane/grpc-adapter.js';
import { RpcEdge } from '../../control-plane/interceptors.js';
import { takesOnArrival } from '../../control-plane/on-arrival.js';
import { LinkService, type ConnectRequest, type ConnectRequestSchema, type ConnectResponse } from '../../gen/link/v1/link_service_pb.js';
import { closeClients, linkClient } from '../helpers/clients.js';

type Frame = MessageInitShape<typeof ConnectRequestSchema>['frame'];

describe('the gRPC adapter: messages taken on arrival', () => {
  let server: grpc.Server;
  let url: string;
  /** What the handler read from its request stream, in order. */
  const read: string[] = [];
  /** Set by the test: the handler reads its stream only after this resolves. */
  let startReading: Promise<void> = Promise.resolve();

  before(async () => {
    const log = createLogger({ name: 'test', level: 'silent' });
    const edge = new RpcEdge({ log, databaseErrors: { inc: () => undefined }, maxMessageBytes: 1 << 20 });
    // A stand-in for the link service: heartbeats answered on arrival, every other frame read in order.
    const impl = {
      async *connect(requests: AsyncIterable<ConnectRequest>, ctx: HandlerContext) {
        if (!takesOnArrival<ConnectRequest, unknown>(requests)) throw new Error('the gRPC port offers no takeOnArrival');
        requests.takeOnArrival((request, respond) => {
          if (request.frame.case !== 'heartbeat') return false;
          respond({ frame: { case: 'heartbeatAck', value: { seq: request.frame.value.seq } } });
          return true;
        });
        await startReading;
        for await (const request of requests) {
          read.push(request.frame.case ?? '');
          if (request.frame.case === 'heartbeat') yield { frame: { case: 'heartbeatAck', value: { seq: request.frame.value.seq } } };
          else yield { frame: { case: 'eventsAck', value: { runId: request.frame.case === 'runEvents' ? request.frame.value.runId : '' } } };
          if (ctx.signal.aborted) return;
        }
      },
    };
    server = new grpc.Server();
    addConnectService(server, LinkService, edge.wrap(LinkService, impl) as unknown as AnyServiceImpl, {});
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    url = `http://127.0.0.1:${port}`;
  });

  after(() => {
    closeClients();
    server.forceShutdown();
  });

  async function session(frames: Frame[], until: (received: ConnectResponse[]) => boolean): Promise<ConnectResponse[]> {
    const out = new Channel<{ frame: Frame }>();
    for (const frame of frames) out.push({ frame });
    const received: ConnectResponse[] = [];
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 10_000);
    try {
      for await (const response of linkClient(url).connect(out, { signal: abort.signal })) {
        received.push(response);
        if (until(received)) break;
      }
    } finally {
      clearTimeout(timer);
      out.close();
    }
    return received;
  }

  it('answers heartbeats while the handler has not read a single frame yet', async () => {
    let release!: () => void;
    startReading = new Promise<void>((resolve) => (release = resolve));
    read.length = 0;
    const beats: Frame[] = [1n, 2n, 3n].map((seq) => ({ case: 'heartbeat', value: { seq } }));
    const received = await session(beats, (r) => r.length === 3);
    release();
    assert.deepEqual(
      received.map((r) => (r.frame.case === 'heartbeatAck' ? r.frame.value.seq : r.frame.case)),
      [1n, 2n, 3n],
      'each heartbeat acknowledged, in order, before the handler read anything',
    );
  });

  it('leaves every other frame to the handler, in order', async () => {
    startReading = Promise.resolve();
    read.length = 0;
    const received = await session(
      [
        { case: 'runEvents', value: { runId: 'r1', events: [] } },
        { case: 'heartbeat', value: { seq: 7n } },
        { case: 'runEvents', value: { runId: 'r2', events: [] } },
      ],
      (r) => r.length === 3,
    );
    assert.deepEqual(read, ['runEvents', 'runEvents']);
    assert.deepEqual(
      received.filter((r) => r.frame.case === 'eventsAck').map((r) => (r.frame.case === 'eventsAck' ? r.frame.value.runId : '')),
      ['r1', 'r2'],
    );
    assert.equal(received.filter((r) => r.frame.case === 'heartbeatAck').length, 1);
  });
});

describe('the gRPC adapter: the server shutting down', () => {
  let server: grpc.Server;
  let url: string;
  const shutdown = new AbortController();
  /** The handlers whose `ctx.signal` fired, by the reason it carried. */
  const aborted: unknown[] = [];
  let started = 0;

  before(async () => {
    const impl = {
      async *connect(_requests: AsyncIterable<ConnectRequest>, ctx: HandlerContext) {
        started++;
        yield { frame: { case: 'welcome' as const, value: { linkId: 'lnk_test' } } };
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        aborted.push(ctx.signal.reason);
      },
    };
    server = new grpc.Server();
    addConnectService(server, LinkService, impl as unknown as AnyServiceImpl, { shutdownSignal: shutdown.signal });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    url = `http://127.0.0.1:${port}`;
  });

  after(() => {
    closeClients();
    server.forceShutdown();
  });

  it('holds one listener on the shutdown signal however many calls are open, and still aborts every one of them', async () => {
    const calls = 40;
    const outs = Array.from({ length: calls }, () => new Channel<{ frame: Frame }>());
    const welcomed = outs.map(async (out) => {
      const stream = linkClient(url).connect(out, { signal: AbortSignal.timeout(10_000) })[Symbol.asyncIterator]();
      const first = await stream.next();
      return { first, stream };
    });
    const streams = await Promise.all(welcomed);
    assert.equal(started, calls);
    assert.ok(streams.every(({ first }) => !first.done && first.value.frame.case === 'welcome'));
    // Linked signals would hold one listener per open call here (an EventTarget walks them on every add).
    assert.equal(getEventListeners(shutdown.signal, 'abort').length, 1, 'one listener for all the calls');
    shutdown.abort(new Error('server shutting down'));
    const ends = await Promise.all(streams.map(({ stream }) => stream.next().then((r) => r.done, () => true)));
    assert.ok(ends.every(Boolean), 'every call ended');
    assert.equal(aborted.length, calls, "every handler's signal fired");
    assert.ok(aborted.every((reason) => reason instanceof Error && reason.message === 'server shutting down'));
    for (const out of outs) out.close();
  });
});
