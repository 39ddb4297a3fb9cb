/**
 * One handler per frame an agent sends after its Hello. Each gets the session it arrived on (as
 * `FrameSession`: what a handler may read and do) and the frame's value; a handler that throws
 * ends the session with that error (the agent sees it as the stream's status).
 */
import { create } from '@bufbuild/protobuf';
import { checkLength, Code, linkError, Reason } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type {
  CapabilitiesChanged,
  ConnectRequest,
  Goodbye,
  Heartbeat,
  InteractionAnswerAck,
  RunAccepted,
  RunEvents,
  RunRejected,
  SandboxReply,
  SteerAck,
  TokenRotated,
} from '../../gen/link/v1/link_service_pb.js';
import { RunStatus } from '../../gen/link/v1/run_pb.js';
import { CapabilitiesSchema, type Capabilities } from '../../gen/link/v1/types_pb.js';
import type { AnswerDelivery } from '../interactions/answer-delivery.js';
import type { SteerDelivery } from '../steering/steer-delivery.js';
import type { ServerMetrics } from '../metrics.js';
import type { RunStore } from '../runs/run-store.js';
import type { SandboxStore } from '../sandboxes/sandbox-store.js';
import type { Store } from '../store/store.js';
import { validateCapabilities } from './hello.js';
import type { Outgoing } from './link-session.js';
import { RunFailure, type RunFailureReason } from '../../common/reasons.js';
import { onPowerChanged, type PowerSession } from './power-changed.js';

/** What a frame handler may use of its session. */
export interface FrameSession extends PowerSession {
  readonly linkId: string;
  readonly log: Logger;
  readonly metrics?: ServerMetrics;
  readonly store: Store;
  readonly runs: RunStore;
  readonly sandboxes: SandboxStore;
  /** How long a link's old token keeps working after the machine confirmed a new one. */
  readonly tokenGraceMs: number;
  epoch(): bigint;
  send(frame: Outgoing): void;
  /** Ends the session (with `error` as its status, or cleanly). */
  close(error?: unknown): void;
  heartbeatSeen(): void;
  /** Stores new capabilities in the presence record; throws UNAVAILABLE or SUPERSEDED. */
  updateCapabilities(capabilities: Capabilities): Promise<void>;
  /** Keeps the presence record's running runs current (writes in order; never rejects, so callers need not wait). */
  setRunning(runId: string, running: boolean): Promise<void>;
  /** Claims and sends more queued runs (a slot may have opened). */
  dispatchPending(): void;
  /** The answers on their way to the machine (interactions/answer-delivery.ts). */
  readonly answers: Pick<AnswerDelivery, 'acked'>;
  /** The steered messages on their way into running turns (steering/steer-delivery.ts). */
  readonly steers: Pick<SteerDelivery, 'acked'>;
}

/** Handles one frame after the Hello. */
export async function handleFrame(session: FrameSession, request: ConnectRequest): Promise<void> {
  const frame = request.frame;
  switch (frame.case) {
    case 'heartbeat':
      return onHeartbeat(session, frame.value);
    case 'capabilitiesChanged':
      return onCapabilitiesChanged(session, frame.value);
    case 'goodbye':
      return onGoodbye(session, frame.value);
    case 'runAccepted':
      return onRunAccepted(session, frame.value);
    case 'runRejected':
      return onRunRejected(session, frame.value);
    case 'runEvents':
      return onRunEvents(session, frame.value);
    case 'tokenRotated':
      return onTokenRotated(session, frame.value);
    case 'sandboxReply':
      return onSandboxReply(session, frame.value);
    case 'interactionAnswerAck':
      return onInteractionAnswerAck(session, frame.value);
    case 'powerChanged':
      return onPowerChanged(session, frame.value);
    case 'steerAck':
      return onSteerAck(session, frame.value);
    case 'hello':
      throw linkError(Code.InvalidArgument, Reason.UnexpectedFrame, 'Hello may only be the first frame', { frame: 'hello' });
    default:
      throw linkError(Code.InvalidArgument, Reason.UnexpectedFrame, 'empty or unknown frame', { frame: frame.case ?? '' });
  }
}

/** Notes the heartbeat and acknowledges it (through `send`: the session's stream unless given another way out). */
export function onHeartbeat(session: FrameSession, heartbeat: Heartbeat, send: (frame: Outgoing) => void = (frame) => session.send(frame)): void {
  session.metrics?.heartbeats.inc();
  session.heartbeatSeen();
  send({ frame: { case: 'heartbeatAck', value: { seq: heartbeat.seq } } });
}

export async function onCapabilitiesChanged(session: FrameSession, changed: CapabilitiesChanged): Promise<void> {
  const capabilities = changed.capabilities ?? create(CapabilitiesSchema);
  validateCapabilities(capabilities);
  await session.updateCapabilities(capabilities);
  session.log.info('capabilities changed');
}

export function onGoodbye(session: FrameSession, goodbye: Goodbye): void {
  session.log.info({ reason: goodbye.reason }, 'agent said goodbye');
  session.close();
}

/** RunAccepted frames stored at once at most, per session; past it the frames wait (an agent flooding them holds only its own). */
export const ACCEPTS_IN_FLIGHT_MAX = 8;

/** Each session's accepts in flight, by run: the frames behind them (the runs' events) go on meanwhile. */
const acceptsInFlight = new WeakMap<FrameSession, Map<string, Promise<void>>>();

/**
 * Marks the run running, without holding the frames behind it for that write: the run's events are
 * stored meanwhile (a run both mark running is left as the later one says; see RunStore.markRunning).
 * Resolves once the accept is under way; a failure ends the session, as a handler's would.
 */
export async function onRunAccepted(session: FrameSession, accepted: RunAccepted): Promise<void> {
  const { runId } = accepted;
  let inFlight = acceptsInFlight.get(session);
  if (!inFlight) acceptsInFlight.set(session, (inFlight = new Map()));
  // A repeated accept of the run goes after the one before; at the bound, after any one of them.
  await inFlight.get(runId);
  while (inFlight.size >= ACCEPTS_IN_FLIGHT_MAX) await Promise.race(inFlight.values());
  const epoch = session.epoch();
  const accepting: Promise<void> = session.runs
    .markRunning(runId, session.linkId, epoch)
    .then((marked) => {
      if (!marked) return;
      session.log.info({ runId }, 'run accepted');
      // The registry's write goes on behind the frames: the run's events need not wait for it.
      void session.setRunning(runId, true);
    })
    .catch((error: unknown) => session.close(error))
    .finally(() => {
      if (inFlight.get(runId) === accepting) inFlight.delete(runId);
    });
  inFlight.set(runId, accepting);
}

export async function onRunRejected(session: FrameSession, rejected: RunRejected): Promise<void> {
  const { runId, reason, message } = rejected;
  checkLength('run_rejected.reason', reason, 64);
  session.log.warn({ runId, reason }, 'the agent refused a run');
  // A newer linkd may refuse for a reason the table does not know yet: it is stored as sent.
  const failure = (reason || RunFailure.Rejected) as RunFailureReason;
  // Fenced: only a run of this link, dispatched to this session (a late refusal from a superseded
  // session, or one naming another link's run, changes nothing).
  await session.runs.finish(runId, RunStatus.FAILED, failure, message.slice(0, 1024) || 'the agent refused the run', {
    epoch: session.epoch(),
    linkId: session.linkId,
  });
  session.dispatchPending();
}

/** Stores a batch of events and acks what may be forgotten; a finished run frees a slot. */
export async function onRunEvents(session: FrameSession, batch: RunEvents): Promise<void> {
  const { runId, events } = batch;
  if (events.length === 0) return;
  const stored = await session.runs.appendEvents(runId, session.linkId, session.epoch(), events);
  if (!stored.ok) {
    session.log.warn({ runId, reason: stored.reason, why: stored.why }, 'refusing run events');
    return;
  }
  session.log.debug({ runId, from: String(events[0].seq), to: String(events[events.length - 1].seq), acked: String(stored.acked) }, 'run events stored');
  session.send({ frame: { case: 'eventsAck', value: { runId, ackedSeq: stored.acked } } });
  if (stored.finished) {
    // Never ahead of the run's own `setRunning(true)`: behind its accept when that is still in flight.
    const accepting = acceptsInFlight.get(session)?.get(runId);
    if (accepting) void accepting.then(() => session.setRunning(runId, false));
    else void session.setRunning(runId, false);
    session.dispatchPending();
  }
}

export async function onTokenRotated(session: FrameSession, rotated: TokenRotated): Promise<void> {
  checkLength('token_rotated.rotation_id', rotated.rotationId, 64);
  if (await session.store.completeTokenRotation(session.linkId, session.tokenGraceMs)) {
    session.log.info({ rotationId: rotated.rotationId }, 'link token rotated');
  }
}

export async function onSandboxReply(session: FrameSession, reply: SandboxReply): Promise<void> {
  checkLength('sandbox_reply.op_id', reply.opId, 64, 1);
  await session.sandboxes.reply(session.linkId, reply);
}

/** The machine took an answer (or says it is moot): it is marked delivered and not sent again. */
export async function onInteractionAnswerAck(session: FrameSession, ack: InteractionAnswerAck): Promise<void> {
  checkLength('interaction_answer_ack.run_id', ack.runId, 64, 1);
  checkLength('interaction_answer_ack.interaction_id', ack.interactionId, 128, 1);
  checkLength('interaction_answer_ack.reason', ack.reason, 64);
  await session.answers.acked(ack);
}

/** The machine took a steered message into the turn, or cannot (it then runs after the turn). */
export async function onSteerAck(session: FrameSession, ack: SteerAck): Promise<void> {
  checkLength('steer_ack.run_id', ack.runId, 64, 1);
  checkLength('steer_ack.message_id', ack.messageId, 64);
  checkLength('steer_ack.reason', ack.reason, 64);
  await session.steers.acked(ack);
}
