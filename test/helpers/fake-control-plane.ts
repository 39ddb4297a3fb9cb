/**
 * A control plane that is not the machine's own: LinkService.Connect from the project's generated
 * code on connect-node over HTTP/2 (127.0.0.1, a port of the OS's choice). It welcomes any token
 * with a signing key of its own (and, if given, a key chain of its making), then sends one signed
 * DispatchRun of a shell command and two operations on a sandbox of `sandboxHandle` (one unsigned,
 * one signed with its own key), and records what the agent answers.
 */
import { createServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import type { ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { Channel } from '../../common/channel.js';
import { rawPublicKey, signDispatch, type KeyEndorsement } from '../../common/dispatch.js';
import { PROTOCOL_VERSION } from '../../common/protocol.js';
import {
  LinkService,
  SandboxRequestSchema,
  type ConnectRequest,
  type ConnectResponseSchema,
  type Hello,
  type RunRejected,
  type SandboxReply,
} from '../../gen/link/v1/link_service_pb.js';
import { RunPayloadSchema } from '../../gen/link/v1/run_pb.js';

type Outgoing = MessageInitShape<typeof ConnectResponseSchema>;

export interface FakeControlPlane {
  url: string;
  /** The raw public key it announces. */
  publicKey: Buffer;
  privateKey: KeyObject;
  /** Resolves with the first Hello an agent sent. */
  hello: Promise<Hello>;
  /** Resolves with the agent's answer to the dispatch. */
  answer: Promise<{ accepted: true } | { accepted: false; rejected: RunRejected }>;
  /** Resolves with the agent's replies to the two sandbox operations, by op id (`op_unsigned`, `op_signed`). */
  sandboxReplies: Promise<Map<string, SandboxReply>>;
  /**
   * With `orders`: after the sandbox replies it sends a token rotation and then Shutdown; resolves
   * when the agent comes back with a second Hello (it did not stop for good).
   */
  secondHello: Promise<Hello>;
  close(): Promise<void>;
}

/** The sandbox the fake control plane asks the machine to make. */
export const FAKE_SANDBOX_HANDLE = 'sbx_fakecontrolplane0';

export async function startFakeControlPlane(options: {
  command: string;
  chain?: (key: { publicKey: Buffer; privateKey: KeyObject }) => KeyEndorsement[];
  /** Also order the machine about: rotate its token, then stop. */
  orders?: boolean;
}): Promise<FakeControlPlane> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = rawPublicKey(publicKey);
  let gotHello!: (hello: Hello) => void;
  const hello = new Promise<Hello>((resolve) => (gotHello = resolve));
  let gotAnswer!: (answer: { accepted: true } | { accepted: false; rejected: RunRejected }) => void;
  const answer = new Promise<{ accepted: true } | { accepted: false; rejected: RunRejected }>((resolve) => (gotAnswer = resolve));
  const sessions = new Set<Channel<Outgoing>>();
  const replies = new Map<string, SandboxReply>();
  let gotReplies!: (replies: Map<string, SandboxReply>) => void;
  const sandboxReplies = new Promise<Map<string, SandboxReply>>((resolve) => (gotReplies = resolve));
  let hellos = 0;
  let gotSecondHello!: (hello: Hello) => void;
  const secondHello = new Promise<Hello>((resolve) => (gotSecondHello = resolve));

  const routes = (router: ConnectRouter) =>
    router.service(LinkService, {
      async *connect(requests: AsyncIterable<ConnectRequest>) {
        const out = new Channel<Outgoing>();
        sessions.add(out);
        const linkId = 'lnk_fake';
        void (async () => {
          try {
            for await (const request of requests) {
              const frame = request.frame;
              if (frame.case === 'hello') {
                if (++hellos === 2) gotSecondHello(frame.value);
                gotHello(frame.value);
                out.push({
                  frame: {
                    case: 'welcome',
                    value: {
                      linkId,
                      sessionEpoch: 1n,
                      heartbeatIntervalMs: 60_000,
                      replicaId: 'fake',
                      protocolVersion: PROTOCOL_VERSION,
                      dispatchPublicKey: raw,
                      dispatchKeyChain: options.chain?.({ publicKey: raw, privateKey }) ?? [],
                    },
                  },
                });
                const runId = `run_${randomBytes(6).toString('hex')}`;
                const payload = toBinary(RunPayloadSchema, create(RunPayloadSchema, { runId, threadId: 'thr_fake', harness: 'shell', prompt: options.command }));
                const fields = { runId, linkId, sessionEpoch: 1n, issuedAtMs: BigInt(Date.now()), nonce: randomBytes(16), payload };
                out.push({ frame: { case: 'dispatchRun', value: { ...fields, signature: signDispatch(fields, privateKey) } } });
                const ensure = { handle: FAKE_SANDBOX_HANDLE, provider: 'directory' };
                out.push({ frame: { case: 'sandboxRequest', value: { opId: 'op_unsigned', op: { case: 'ensure', value: ensure } } } });
                const request = toBinary(SandboxRequestSchema, create(SandboxRequestSchema, { opId: 'op_signed', op: { case: 'ensure', value: ensure } }));
                const op = { runId: 'op_signed', linkId, sessionEpoch: 1n, issuedAtMs: BigInt(Date.now()), nonce: randomBytes(16), payload: request };
                const signature = signDispatch(op, privateKey, 'sandbox');
                out.push({ frame: { case: 'signedSandboxRequest', value: { request, opId: 'op_signed', linkId, sessionEpoch: 1n, issuedAtMs: op.issuedAtMs, nonce: op.nonce, signature } } });
              } else if (frame.case === 'heartbeat') {
                out.push({ frame: { case: 'heartbeatAck', value: { seq: frame.value.seq } } });
              } else if (frame.case === 'runAccepted') {
                gotAnswer({ accepted: true });
              } else if (frame.case === 'runRejected') {
                gotAnswer({ accepted: false, rejected: frame.value });
              } else if (frame.case === 'sandboxReply') {
                replies.set(frame.value.opId, frame.value);
                if (replies.size === 2) {
                  gotReplies(replies);
                  if (options.orders) {
                    out.push({ frame: { case: 'rotateToken', value: { rotationId: 'rot_fake', newToken: 'll_from_the_fake_control_plane' } } });
                    out.push({ frame: { case: 'shutdown', value: { reason: 'the fake control plane says stop' } } });
                  }
                }
              }
            }
          } catch {
            // the agent went away
          } finally {
            out.close();
          }
        })();
        try {
          yield* out;
        } finally {
          sessions.delete(out);
        }
      },
    });

  const server: Http2Server = createServer(connectNodeAdapter({ routes }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    publicKey: raw,
    privateKey,
    hello,
    answer,
    sandboxReplies,
    secondHello,
    async close() {
      for (const out of sessions) out.close();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => resolve(), 2_000);
        server.close(() => (clearTimeout(timer), resolve()));
      });
    },
  };
}
