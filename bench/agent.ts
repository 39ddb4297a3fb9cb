/**
 * One agent on the real protocol with the real generated client and transport: Hello, heartbeats
 * at the server's cadence, and a handler for what the server sends. For benchmarks that script the
 * agent's side of a run (bench/load.ts has linkd's own connection loop for idle and storm load).
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { Channel } from '../common/channel.js';
import { PROTOCOL_VERSION } from '../common/protocol.js';
import { LinkService, type ConnectRequestSchema, type ConnectResponse } from '../gen/link/v1/link_service_pb.js';
import { CapabilitiesSchema, SandboxProviderKind } from '../gen/link/v1/types_pb.js';

type Frame = MessageInitShape<typeof ConnectRequestSchema>;

export class BenchAgent {
  readonly out = new Channel<Frame>();
  private readonly abort = new AbortController();
  readonly welcomed: Promise<void>;
  readonly ended: Promise<void>;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(baseUrl: string, token: string, onFrame: (frame: ConnectResponse, agent: BenchAgent) => void = () => undefined) {
    const sessionManager = new Http2SessionManager(baseUrl);
    const client = createClient(LinkService, createGrpcTransport({ baseUrl, sessionManager }));
    this.out.push({
      frame: {
        case: 'hello',
        value: {
          protocolVersion: PROTOCOL_VERSION,
          machineId: `bench-${Math.random().toString(36).slice(2)}`,
          instanceId: 'bench',
          hostname: 'bench',
          capabilities: create(CapabilitiesSchema, {
            harnesses: [{ name: 'shell', installed: true }],
            sandboxProviders: [{ kind: SandboxProviderKind.DIRECTORY, available: true }],
            capacity: { maxConcurrentRuns: 64 },
          }),
        },
      },
    });
    let welcome!: () => void;
    let fail!: (error: unknown) => void;
    this.welcomed = new Promise((resolve, reject) => {
      welcome = resolve;
      fail = reject;
    });
    this.welcomed.catch(() => undefined);
    this.ended = (async () => {
      try {
        for await (const response of client.connect(this.out, { signal: this.abort.signal, headers: { authorization: `Bearer ${token}` } })) {
          if (response.frame.case === 'welcome') {
            welcome();
            let seq = 0n;
            this.heartbeat = setInterval(() => this.out.push({ frame: { case: 'heartbeat', value: { seq: ++seq } } }), response.frame.value.heartbeatIntervalMs);
          }
          onFrame(response, this);
        }
      } catch (error) {
        // Ended by close(), or it never got going (then whoever waits for the welcome learns why).
        fail(error);
      } finally {
        clearInterval(this.heartbeat);
        sessionManager.abort();
      }
    })();
  }

  send(frame: Frame): void {
    this.out.push(frame);
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.out.close();
    this.abort.abort();
    await this.ended;
  }
}

