/**
 * linkd's connection loop: one `LinkService.Connect` session at a time, reconnecting with capped
 * exponential backoff and full jitter (0.5 s → 30 s) across the configured server addresses.
 *
 *   run() ─▶ session(server) ─▶ Hello ─▶ Welcome ─▶ frames (session-frames.ts) … ─▶ stream ends
 *     ▲                                                                    │
 *     └──── backoff / Drain delay ◀── retryable ◀── classify(ending) ──────┘──▶ stop for good:
 *                                                  UNAUTHENTICATED, SUPERSEDED, PROTOCOL_MISMATCH, Shutdown
 *
 * The token is read from its file at every attempt, so a re-login takes effect without a restart.
 */
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { arch, hostname, platform } from 'node:os';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { Backoff, sleep } from '../common/backoff.js';
import { Channel } from '../common/channel.js';
import { errorMetadataOf, Reason, reasonOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { LINK_VERSION, MAX_MESSAGE_BYTES, PROTOCOL_VERSION } from '../common/protocol.js';
import { LinkService, type ConnectRequestSchema, type HelloSchema, type Welcome } from '../gen/link/v1/link_service_pb.js';
import type { Capabilities } from '../gen/link/v1/types_pb.js';
import { Heartbeat } from './heartbeat.js';
import { http2Options, type ClientTlsOptions } from '../common/tls.js';
import type { RunSupervisor } from './runs/run-supervisor.js';
import { handleServerFrame, type SessionEnd, type SessionFrameContext } from './session-frames.js';
import type { SandboxKeeper } from './sandboxes/sandboxes.js';
import type { PowerEvent } from './power.js';

type Frame = MessageInitShape<typeof ConnectRequestSchema>;

/** Why the loop stopped for good. */
export type StopReason =
  | { kind: 'stopped' }
  | { kind: 'shutdown'; message: string }
  | { kind: 'unauthenticated'; message: string }
  | { kind: 'superseded'; message: string }
  | { kind: 'protocol-mismatch'; message: string };

export type ConnectionState =
  | { state: 'connecting'; server: string }
  | { state: 'connected'; server: string; linkId: string; replicaId: string; since: number; epoch: bigint }
  | { state: 'waiting'; server: string; retryInMs: number; lastError: string }
  | { state: 'stopped'; reason: StopReason };

export interface LinkConnectionOptions {
  /** Server addresses ("http://host:9090"); the loop moves to the next one after a failure. */
  servers: string[];
  tokenFile: string;
  machineId: string;
  instanceId: string;
  capabilities: () => Capabilities;
  log: Logger;
  /** How long to wait for Welcome after dialing. */
  welcomeTimeoutMs?: number;
  backoff?: Backoff;
  /** The runs, which outlive sessions. */
  runs?: RunSupervisor;
  /** The machine's sandboxes, for SandboxRequest frames. */
  sandboxes?: SandboxKeeper;
  /** A private CA for the server's certificate. */
  tls?: ClientTlsOptions;
  /** The local address to dial from (default: the system's choice). */
  localAddress?: string;
}


interface LiveSession {
  out: Channel<Frame>;
  ended: Promise<void>;
  abort: AbortController;
}

/**
 * Emits `state` (ConnectionState) on every transition; never on heartbeats.
 */
export class LinkConnection extends EventEmitter {
  private live: LiveSession | undefined;
  private stopping = false;
  private closing: Promise<void> | undefined;
  private readonly stopController = new AbortController();
  private readonly backoff: Backoff;
  private lastSuccessAt: number | undefined;
  /** Set when the machine woke: the next attempt goes at once, and a wait between attempts ends. */
  private wokeUp = false;
  private waitController: AbortController | undefined;
  /** The last sleep or wake; a sleep not yet followed by a wake is told again to each new session. */
  private lastPower: PowerEvent | undefined;

  constructor(private readonly options: LinkConnectionOptions) {
    super();
    this.backoff = options.backoff ?? new Backoff(500, 30_000);
  }

  /** Runs until stopped for good; resolves with why. */
  async run(): Promise<StopReason> {
    const { servers, log } = this.options;
    let index = 0;
    while (!this.stopping) {
      const server = servers[index % servers.length];
      this.setState({ state: 'connecting', server });
      let delay: number;
      let why: string;
      try {
        const end = await this.session(server);
        if (this.stopping) break;
        if (end.kind === 'shutdown') return this.stop({ kind: 'shutdown', message: end.reason });
        if (end.kind === 'drain') {
          delay = end.reconnectAfterMs + Math.round(Math.random() * Math.max(1_000, end.reconnectAfterMs));
          why = `the server is draining (${end.reason})`;
          index++;
        } else {
          delay = this.backoff.next();
          why = 'the server closed the session';
        }
      } catch (error) {
        if (this.stopping) break;
        const fatal = classify(error, this.options.instanceId);
        if (fatal) return this.stop(fatal);
        delay = this.backoff.next();
        why = describe(error);
        index++;
      }
      if (this.wokeUp) {
        this.wokeUp = false;
        delay = 0;
      }
      const lastSuccess = this.lastSuccessAt ? `${Math.round((Date.now() - this.lastSuccessAt) / 1000)}s ago` : 'never';
      log.warn({ server, retryInMs: delay }, `session ended: ${why}; will retry in ${(delay / 1000).toFixed(1)}s (last success ${lastSuccess})`);
      this.setState({ state: 'waiting', server, retryInMs: delay, lastError: why });
      this.waitController = new AbortController();
      try {
        await sleep(delay, AbortSignal.any([this.stopController.signal, this.waitController.signal]));
      } catch {
        if (this.stopping) break;
        // Woke up: try again now.
        this.wokeUp = false;
      }
    }
    return this.stop({ kind: 'stopped' });
  }

  /** Tells the server about new capabilities, if a session is live (the next Hello carries them anyway). */
  sendCapabilities(capabilities: Capabilities): void {
    this.live?.out.push({ frame: { case: 'capabilitiesChanged', value: { capabilities } } });
  }

  /**
   * Tells the server what the OS said about sleep, on the live session (a sleep is sent before the
   * machine sleeps). After a wake the session is most likely dead (its TCP connection did not survive
   * the suspend), so it is ended and the next one dialed at once, without waiting for the heartbeat
   * timeout or the backoff; the new session's Welcome tells the server the machine is awake.
   */
  powerChanged(event: PowerEvent): void {
    this.lastPower = event;
    this.sendPower(event);
    if (event.asleep || this.stopping) return;
    this.backoff.reset();
    this.wokeUp = true;
    this.waitController?.abort();
    // The PowerChanged above goes out first (if the connection still carries anything).
    const live = this.live;
    if (live) setImmediate(() => live.abort.abort(new ConnectError('the machine woke from sleep; reconnecting', Code.Unavailable)));
  }

  private sendPower(event: PowerEvent): void {
    this.live?.out.push({ frame: { case: 'powerChanged', value: { asleep: event.asleep, at: timestampFromMs(event.at), source: event.source } } });
  }

  /**
   * Ends the loop: sends Goodbye on a live session, closes its side, and waits (at most
   * `graceMs`) for the server to end the stream, so the link goes offline at once. Idempotent: every
   * call returns the one promise of the first.
   */
  close(reason: string, graceMs = 3_000): Promise<void> {
    // Called again (a second signal, an error while closing): the same wait, not a return at once.
    this.closing ??= this.closeOnce(reason, graceMs);
    return this.closing;
  }

  private async closeOnce(reason: string, graceMs: number): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    const live = this.live;
    if (!live) return;
    live.out.push({ frame: { case: 'goodbye', value: { reason } } });
    live.out.close();
    const timer = setTimeout(() => live.abort.abort(), graceMs);
    await live.ended;
    clearTimeout(timer);
  }

  private stop(reason: StopReason): StopReason {
    this.stopping = true;
    this.setState({ state: 'stopped', reason });
    return reason;
  }

  /** The Hello that opens a session: who this machine is, what it can run, and the runs it holds. */
  private hello(): MessageInitShape<typeof HelloSchema> {
    const runs = this.options.runs;
    return {
      protocolVersion: PROTOCOL_VERSION,
      machineId: this.options.machineId,
      instanceId: this.options.instanceId,
      hostname: hostname(),
      os: platform(),
      arch: arch(),
      agentVersion: LINK_VERSION,
      capabilities: this.options.capabilities(),
      heldRuns: runs?.held() ?? [],
      dispatchKeyMissing: runs ? runs.dispatchKey.state === 'missing' : false,
    };
  }

  /** A Welcome arrived: the session is up. */
  private welcomed(server: string, welcome: Welcome): void {
    this.backoff.reset();
    this.lastSuccessAt = Date.now();
    this.options.log.info({ server, linkId: welcome.linkId, replica: welcome.replicaId, epoch: String(welcome.sessionEpoch) }, 'connected');
    this.setState({ state: 'connected', server, linkId: welcome.linkId, replicaId: welcome.replicaId, since: Date.now(), epoch: welcome.sessionEpoch });
    // Going to sleep, and the session it was told on ended: the new one is told (the Welcome cleared it).
    if (this.lastPower?.asleep) this.sendPower(this.lastPower);
  }

  private setState(state: ConnectionState): void {
    this.emit('state', state);
  }

  private async session(server: string): Promise<SessionEnd> {
    const { log } = this.options;
    const token = await readToken(this.options.tokenFile);
    const { client, sessionManager } = dial(server, this.options);
    const out = new Channel<Frame>();
    const abort = new AbortController();
    let endSession!: () => void;
    const live: LiveSession = { out, abort, ended: new Promise((resolve) => (endSession = resolve)) };
    const runs = this.options.runs;
    const heartbeat = new Heartbeat(
      out,
      () => abort.abort(new ConnectError('no heartbeat acknowledged for 3 intervals', Code.Unavailable)),
      () => runs?.runningCount ?? 0,
    );
    const welcomeTimer = setTimeout(
      () => abort.abort(new ConnectError('no Welcome from the server in time', Code.DeadlineExceeded)),
      this.options.welcomeTimeoutMs ?? 15_000,
    );
    out.push({ frame: { case: 'hello', value: this.hello() } });
    this.live = live;
    try {
      const responses = client.connect(out, { signal: abort.signal, headers: { authorization: `Bearer ${token}` } });
      const frames: SessionFrameContext = {
        out,
        heartbeat,
        log,
        tokenFile: this.options.tokenFile,
        runs,
        sandboxes: this.options.sandboxes,
        welcomed: (welcome) => {
          clearTimeout(welcomeTimer);
          this.welcomed(server, welcome);
        },
        alive: () => (this.lastSuccessAt = Date.now()),
      };
      for await (const response of responses) {
        const end = handleServerFrame(response.frame, frames);
        if (end) return end;
      }
      return { kind: 'closed' };
    } catch (error) {
      // An abort of ours surfaces as Canceled; report the reason we aborted with.
      if (abort.signal.aborted && abort.signal.reason instanceof ConnectError) throw abort.signal.reason;
      throw error;
    } finally {
      clearTimeout(welcomeTimer);
      heartbeat.stop();
      runs?.detach();
      out.close();
      abort.abort();
      sessionManager.abort();
      if (this.live === live) this.live = undefined;
      endSession();
    }
  }
}

/** The transport of one session: its own HTTP/2 connection to `server`. */
function dial(server: string, options: Pick<LinkConnectionOptions, 'tls' | 'localAddress'>) {
  // No client-side HTTP/2 pings: connect-node 2.1.2 keeps its ping timer after abort() on a
  // connection the server sent GOAWAY to, and the next ping throws on the destroyed session. Dead
  // connections are still caught: the server's gRPC keepalive pings us, and the heartbeat ends
  // the session when three intervals pass without an acknowledgement.
  const sessionManager = new Http2SessionManager(server, undefined, {
    ...http2Options(options.tls ?? {}),
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
  });
  const transport = createGrpcTransport({ baseUrl: server, sessionManager, readMaxBytes: MAX_MESSAGE_BYTES });
  return { client: createClient(LinkService, transport), sessionManager };
}

/** The endings after which linkd must not reconnect, each with what to tell the user. */
function classify(error: unknown, instanceId: string): StopReason | undefined {
  const connectError = ConnectError.from(error);
  const reason = reasonOf(connectError);
  if (connectError.code === Code.Unauthenticated) {
    return {
      kind: 'unauthenticated',
      message: `the server refused this machine's link token (${connectError.rawMessage}); pair it again with \`linkd login\``,
    };
  }
  // Superseded by a session of this very process (an attempt it gave up on that the server set up
  // late) is no takeover: reconnect. Another instance's session is.
  if (reason === Reason.Superseded && errorMetadataOf(connectError).newer_instance !== instanceId) {
    return {
      kind: 'superseded',
      message: 'another linkd connected with this link\'s token and took over; this one stops so the two do not fight',
    };
  }
  if (reason === Reason.ProtocolMismatch) {
    const upgrade = errorMetadataOf(connectError).upgrade ?? 'linkd';
    return { kind: 'protocol-mismatch', message: `${connectError.rawMessage} (upgrade ${upgrade})` };
  }
  return undefined;
}

function describe(error: unknown): string {
  const connectError = ConnectError.from(error);
  const reason = reasonOf(connectError);
  return `${Code[connectError.code]}${reason ? ` ${reason}` : ''}: ${connectError.rawMessage}`;
}

async function readToken(file: string): Promise<string> {
  let token: string;
  try {
    token = (await readFile(file, 'utf8')).trim();
  } catch (error) {
    throw new ConnectError(`cannot read the link token from ${file}: ${(error as Error).message}`, Code.Unauthenticated);
  }
  if (!token) throw new ConnectError(`the link token file ${file} is empty`, Code.Unauthenticated);
  return token;
}
