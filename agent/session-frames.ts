/**
 * What linkd does with each frame the server sends on a live session: one handler per frame, none
 * of which touches the transport. The connection loop (connection.ts) reads the stream and hands
 * every frame here; a frame that ends the session (Drain, Shutdown) returns how it ended.
 *
 *   Welcome ─▶ heartbeat.start, runs.attach ─▶ ctx.welcomed        HeartbeatAck ─▶ heartbeat, ctx.alive
 *   DispatchRun / CancelRun / EventsAck ─▶ RunSupervisor           RotateToken ─▶ token file ─▶ TokenRotated
 *   SignedSandboxRequest ─▶ verified, answered ─▶ SandboxReply      SandboxRequest ─▶ refused UNSIGNED
 *   SignedInteractionAnswer ─▶ RunSupervisor.answer (verified, applied once) ─▶ InteractionAnswerAck
 *   SignedSteer ─▶ RunSupervisor.steer (verified, applied once, into the running turn) ─▶ SteerAck
 *   Drain / Shutdown ─▶ the session's end
 *
 * CancelRun with `interrupt` ends only the running turn (the CLI's own interrupt).
 * Shutdown, CancelRun and RotateToken from a session whose dispatch key is not the pinned one
 * (`runs.sessionTrusted`) are not obeyed: a Shutdown there only ends the session.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Channel } from '../common/channel.js';
import { writeFileAtomically } from '../common/files.js';
import type { Logger } from '../common/log.js';
import type { ConnectRequestSchema, ConnectResponse, Welcome } from '../gen/link/v1/link_service_pb.js';
import type { Heartbeat } from './heartbeat.js';
import type { RunSupervisor } from './runs/run-supervisor.js';
import { answerSignedSandboxRequest, refuseUnsignedSandboxRequest } from './sandboxes/signed-requests.js';
import type { SandboxKeeper } from './sandboxes/sandboxes.js';

type Frame = MessageInitShape<typeof ConnectRequestSchema>;

/** How one session ended, when it ended without an error. */
export type SessionEnd = { kind: 'closed' } | { kind: 'drain'; reconnectAfterMs: number; reason: string } | { kind: 'shutdown'; reason: string };

/** What the frame handlers act on: the session's outgoing frames and the machine's runs and sandboxes. */
export interface SessionFrameContext {
  out: Channel<Frame>;
  heartbeat: Heartbeat;
  log: Logger;
  /** Where the link token lives (a RotateToken replaces it). */
  tokenFile: string;
  runs?: RunSupervisor;
  sandboxes?: SandboxKeeper;
  /** The server welcomed the session (after the heartbeat started and the runs were attached). */
  welcomed: (welcome: Welcome) => void;
  /** The server answered a heartbeat: the session is alive. */
  alive: () => void;
}

/** Handles one frame from the server; returns how the session ends when the frame ends it. */
export function handleServerFrame(frame: ConnectResponse['frame'], ctx: SessionFrameContext): SessionEnd | undefined {
  switch (frame.case) {
    case 'welcome':
    case 'heartbeatAck':
      sessionFrame(frame, ctx);
      return undefined;
    case 'drain':
    case 'shutdown':
      return endingFrame(frame, ctx);
    case 'dispatchRun':
    case 'cancelRun':
    case 'eventsAck':
      runFrame(frame, ctx);
      return undefined;
    case 'rotateToken':
      rotateToken(frame.value, ctx);
      return undefined;
    case 'signedSandboxRequest':
    case 'sandboxRequest':
      sandboxFrame(frame, ctx);
      return undefined;
    case 'interactionAnswer':
      // Verified (the pinned key, domain `answer`) and acknowledged by the supervisor.
      ctx.runs?.answer(frame.value);
      return undefined;
    case 'steer':
      // Verified (the pinned key, domain `steer`), applied once and acknowledged by the supervisor.
      ctx.runs?.steer(frame.value);
      return undefined;
    default:
      ctx.log.debug({ frame: frame.case }, 'ignoring an unknown frame');
      return undefined;
  }
}

type FrameOf<K extends ConnectResponse['frame']['case']> = Extract<ConnectResponse['frame'], { case: K }>;

/** Welcome and HeartbeatAck: the session's own state. */
function sessionFrame(frame: FrameOf<'welcome' | 'heartbeatAck'>, ctx: SessionFrameContext): void {
  if (frame.case === 'heartbeatAck') {
    ctx.heartbeat.acknowledged(frame.value.seq);
    ctx.alive();
    return;
  }
  ctx.heartbeat.start(frame.value.heartbeatIntervalMs);
  ctx.runs?.attach((f) => ctx.out.push(f), {
    linkId: frame.value.linkId,
    epoch: frame.value.sessionEpoch,
    dispatchKey: frame.value.dispatchPublicKey,
    chain: frame.value.dispatchKeyChain,
    cursors: new Map(frame.value.runCursors.map((c) => [c.runId, c.lastPersistedSeq])),
  });
  ctx.welcomed(frame.value);
}

/** Drain and Shutdown: how the session ends. */
function endingFrame(frame: FrameOf<'drain' | 'shutdown'>, ctx: SessionFrameContext): SessionEnd {
  const { runs, log } = ctx;
  if (frame.case === 'drain') {
    log.info({ reason: frame.value.reason }, 'server asked to reconnect elsewhere');
    return { kind: 'drain', reason: frame.value.reason, reconnectAfterMs: frame.value.reconnectAfterMs };
  }
  if (runs && !runs.sessionTrusted) {
    // Not this machine's control plane (its key is not the pinned one): no reason to stop for good.
    log.warn({ reason: frame.value.reason }, 'a server without the pinned key asked linkd to stop; reconnecting instead');
    return { kind: 'closed' };
  }
  log.warn({ reason: frame.value.reason }, 'server asked linkd to stop');
  return { kind: 'shutdown', reason: frame.value.reason };
}

/** DispatchRun, CancelRun and EventsAck: handed to the run supervisor. */
function runFrame(frame: FrameOf<'dispatchRun' | 'cancelRun' | 'eventsAck'>, ctx: SessionFrameContext): void {
  const { runs, log } = ctx;
  switch (frame.case) {
    case 'dispatchRun':
      void runs?.dispatch(frame.value).catch((error) => log.error({ err: error }, 'handling a dispatch failed'));
      return;
    case 'cancelRun':
      if (runs && !runs.sessionTrusted) {
        log.warn({ runId: frame.value.runId }, 'ignoring a cancel from a server without the pinned key');
        return;
      }
      void runs?.cancel(frame.value)?.catch((error) => log.error({ err: error }, 'cancelling a run failed'));
      return;
    case 'eventsAck':
      runs?.ack(frame.value);
      return;
  }
}

function rotateToken(rotation: FrameOf<'rotateToken'>['value'], ctx: SessionFrameContext): void {
  if (ctx.runs && !ctx.runs.sessionTrusted) {
    // A server that cannot sign as ours must not replace the token that reaches ours.
    ctx.log.warn('ignoring a token rotation from a server without the pinned key');
    return;
  }
  saveRotatedToken(rotation.rotationId, rotation.newToken, ctx);
}

/** SignedSandboxRequest (verified, then answered) and SandboxRequest (refused: unsigned). */
function sandboxFrame(frame: FrameOf<'signedSandboxRequest' | 'sandboxRequest'>, ctx: SessionFrameContext): void {
  const { out, runs, sandboxes, log } = ctx;
  if (frame.case === 'sandboxRequest') {
    out.push({ frame: { case: 'sandboxReply', value: refuseUnsignedSandboxRequest(frame.value, log) } });
    return;
  }
  if (!sandboxes || !runs) return;
  void answerSignedSandboxRequest(runs, sandboxes, frame.value, log).then((reply) => out.push({ frame: { case: 'sandboxReply', value: reply } }));
}

/** Saved (atomically, 0600) before it is acknowledged: a crash in between leaves a token that works. */
function saveRotatedToken(rotationId: string, newToken: string, ctx: SessionFrameContext): void {
  void writeFileAtomically(ctx.tokenFile, `${newToken}\n`)
    .then(() => {
      ctx.out.push({ frame: { case: 'tokenRotated', value: { rotationId } } });
      ctx.log.info({ rotationId }, 'link token rotated and saved');
    })
    .catch((error) => ctx.log.error({ err: error }, 'cannot save the rotated link token; keeping the old one'));
}
