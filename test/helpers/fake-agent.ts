/**
 * A machine's side of the session, played by the test over the real protocol (HTTP/2 gRPC, the
 * generated messages): it takes a dispatched run (checking its signature against the key the
 * Welcome announces), sends the run's events as the test says (an interaction, its withdrawal, the
 * end), and takes the signed answers the control plane sends, checking them too and acknowledging
 * each (unless told not to). It can reconnect, to the same or another replica, still holding its
 * runs, as linkd does after a cut.
 */
import { fromBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { ed25519PublicKey, verifyDispatch } from '../../common/dispatch.js';
import { InteractionAnswerPayloadSchema, type ConnectResponse, type InteractionAnswerPayload } from '../../gen/link/v1/link_service_pb.js';
import { InteractionKind, RunPayloadSchema, RunStatus, type RunEventSchema, type RunPayload } from '../../gen/link/v1/run_pb.js';
import { SandboxProviderKind } from '../../gen/link/v1/types_pb.js';
import { hello, RawSession } from './clients.js';

type EventInit = MessageInitShape<typeof RunEventSchema>['event'];

/** What a dispatched run carried. */
export interface DispatchedRun {
  runId: string;
  payload: RunPayload;
}

export class FakeAgent {
  /** The seq of the last event sent, per run (kept across sessions). */
  private readonly seqs = new Map<string, bigint>();
  session: AgentSession | undefined;
  /** Every answer this agent took, on any session, in order. */
  readonly answers: InteractionAnswerPayload[] = [];
  /** Whether answers are acknowledged as they arrive. */
  autoAck = true;

  constructor(private readonly token: string) {}

  /** Opens a session to `url` (holding `held` runs, as after a reconnect) and waits for its Welcome. */
  async connect(url: string, held: string[] = []): Promise<AgentSession> {
    const raw = new RawSession(
      url,
      this.token,
      hello({
        capabilities: {
          harnesses: [{ name: 'shell', installed: true }, { name: 'claude-code', installed: true, steerable: true, interruptible: true }],
          sandboxProviders: [{ kind: SandboxProviderKind.DIRECTORY, available: true }],
        },
        heldRuns: held.map((runId) => ({ runId, lastSeqSent: this.seqs.get(runId) ?? 0n })),
      }),
    );
    const session = new AgentSession(this, raw);
    this.session = session;
    await session.welcomed();
    raw.keepAlive(100);
    return session;
  }

  nextSeq(runId: string): bigint {
    const seq = (this.seqs.get(runId) ?? 0n) + 1n;
    this.seqs.set(runId, seq);
    return seq;
  }

  async close(): Promise<void> {
    await this.session?.close();
  }
}

export class AgentSession {
  private key: ReturnType<typeof ed25519PublicKey> | undefined;
  private handled = 0;
  private readonly taken = new Set<string>();
  /** Answers taken on this session, in order. */
  readonly answers: InteractionAnswerPayload[] = [];
  /** Signed answers refused by their signature (there should be none). */
  readonly badAnswers: ConnectResponse[] = [];

  constructor(
    private readonly agent: FakeAgent,
    readonly raw: RawSession,
  ) {}

  /** Waits for the Welcome and remembers the key it announces. */
  async welcomed(): Promise<void> {
    const welcome = await this.raw.frame('welcome');
    if (welcome.frame.case === 'welcome') this.key = ed25519PublicKey(welcome.frame.value.dispatchPublicKey);
  }

  get epoch(): bigint {
    const welcome = this.raw.received.find((r) => r.frame.case === 'welcome');
    return welcome?.frame.case === 'welcome' ? welcome.frame.value.sessionEpoch : 0n;
  }

  /** Takes the next dispatched run: checks its signature, accepts it, starts it (a `started` event). */
  async takeRun(timeoutMs = 15_000): Promise<DispatchedRun> {
    const found = await this.until(() => this.raw.received.find((r) => r.frame.case === 'dispatchRun' && !this.taken.has(r.frame.value.runId)), 'a DispatchRun', timeoutMs);
    if (found.frame.case !== 'dispatchRun') throw new Error('not a dispatch');
    const d = found.frame.value;
    this.taken.add(d.runId);
    if (!this.key || !verifyDispatch(d, d.signature, this.key)) throw new Error('the dispatch is not signed by the control plane');
    this.raw.send({ frame: { case: 'runAccepted', value: { runId: d.runId } } });
    await this.emit(d.runId, { case: 'started', value: { sessionId: 'fake-session', model: 'fake', cwd: '' } });
    return { runId: d.runId, payload: fromBinary(RunPayloadSchema, d.payload) };
  }

  /** Sends one event of the run (the next seq) and waits until the control plane has stored it. */
  async emit(runId: string, event: EventInit): Promise<bigint> {
    const seq = this.agent.nextSeq(runId);
    this.raw.send({ frame: { case: 'runEvents', value: { runId, events: [{ seq, at: timestampNow(), event }] } } });
    await this.until(
      () => this.raw.received.find((r) => r.frame.case === 'eventsAck' && r.frame.value.runId === runId && r.frame.value.ackedSeq >= seq),
      `the ack of event ${seq}`,
    );
    return seq;
  }

  /** Asks a permission for a shell command (the `interaction` event a harness adapter would send). */
  askPermission(runId: string, interactionId: string, command: string): Promise<bigint> {
    return this.emit(runId, {
      case: 'interaction',
      value: {
        id: interactionId,
        kind: InteractionKind.PERMISSION,
        tool: 'Bash',
        inputJson: JSON.stringify({ command }),
        title: `Run \`${command}\``,
        command,
        cwd: '/tmp',
        suggestedRule: { tool: 'Bash', commandPrefix: command.split(' ').slice(0, 2).join(' ') },
      },
    });
  }

  /** Ends the run with `done` (completed). */
  finish(runId: string): Promise<bigint> {
    return this.emit(runId, { case: 'done', value: { status: RunStatus.COMPLETED, exitCode: 0, sessionId: 'fake-session' } });
  }

  /**
   * Takes the signed answers received so far (each checked against the announced key under the
   * 'answer' domain) and acknowledges them when the agent acks automatically; returns this
   * session's answers.
   */
  takeAnswers(): InteractionAnswerPayload[] {
    const frames = this.raw.received.filter((r) => r.frame.case === 'interactionAnswer');
    for (const frame of frames.slice(this.handled)) {
      this.handled++;
      if (frame.frame.case !== 'interactionAnswer') continue;
      const signed = frame.frame.value;
      const fields = { runId: signed.runId, linkId: signed.linkId, sessionEpoch: signed.sessionEpoch, issuedAtMs: signed.issuedAtMs, nonce: signed.nonce, payload: signed.answer };
      if (!this.key || !verifyDispatch(fields, signed.signature, this.key, 'answer')) {
        this.badAnswers.push(frame);
        continue;
      }
      const payload = fromBinary(InteractionAnswerPayloadSchema, signed.answer);
      this.answers.push(payload);
      this.agent.answers.push(payload);
      if (this.agent.autoAck) this.ack(payload.runId, payload.interactionId);
    }
    return this.answers;
  }

  /** Acknowledges an answer as applied. */
  ack(runId: string, interactionId: string): void {
    this.raw.send({ frame: { case: 'interactionAnswerAck', value: { runId, interactionId, applied: true } } });
  }

  /** Waits for the answer to `interactionId` on this session. */
  answerTo(interactionId: string, timeoutMs = 15_000): Promise<InteractionAnswerPayload> {
    return this.until(() => this.takeAnswers().find((a) => a.interactionId === interactionId), `the answer to ${interactionId}`, timeoutMs);
  }

  /** Waits for a CancelRun of `runId`. */
  cancelled(runId: string, timeoutMs = 15_000): Promise<ConnectResponse> {
    return this.until(() => this.raw.received.find((r) => r.frame.case === 'cancelRun' && r.frame.value.runId === runId), `a CancelRun of ${runId}`, timeoutMs);
  }

  /** Polls `find` (every 20 ms) until it returns something; fails at the deadline or when the session ends. */
  async until<T>(find: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let ended = false;
    void this.raw.ended.then(() => (ended = true));
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (ended) throw new Error(`the session ended before ${what} arrived: ${(await this.raw.ended)?.message}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  close(): Promise<void> {
    return this.raw.close();
  }
}
