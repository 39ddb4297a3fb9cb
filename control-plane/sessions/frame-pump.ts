/**
 * An agent's frames, read a little ahead of their handling: while one batch of run events is being
 * stored, the batches of the same run that arrive behind it are joined into one (one transaction,
 * one statement, one acknowledgement for all of them), and heartbeats are answered as they arrive,
 * never queued behind a slow store.
 *
 *   stream ─▶ read ahead (≤ READ_AHEAD_FRAMES) ─┬─▶ heartbeat: answered at once
 *                                               └─▶ queue ─▶ join consecutive RunEvents of one run ─▶ handle (in order)
 */
import type { ConnectRequest } from '../../gen/link/v1/link_service_pb.js';

/** Frames read ahead of the one being handled; past it the stream's own flow control holds the agent. */
export const READ_AHEAD_FRAMES = 16;

/** The most events one joined batch holds. */
export const JOINED_EVENTS_MAX = 8_192;

/**
 * Reads `frames` until they end, handing each to `handle` in order (consecutive RunEvents of one
 * run joined) and the ones `atOnce` takes (it returns true) to it as soon as they are read.
 * Resolves when the stream ends and everything read was handled; throws what the stream or
 * `handle` threw (then nothing more is read).
 */
export async function pumpFrames(
  frames: AsyncIterator<ConnectRequest>,
  handle: (frame: ConnectRequest) => Promise<void>,
  atOnce: (frame: ConnectRequest) => boolean,
): Promise<void> {
  const queue: ConnectRequest[] = [];
  let ended = false;
  let stopped = false;
  let failure: { error: unknown } | undefined;
  let wakeHandler: (() => void) | undefined;
  let wakeReader: (() => void) | undefined;
  const wake = (which: 'handler' | 'reader') => {
    const waiter = which === 'handler' ? wakeHandler : wakeReader;
    if (which === 'handler') wakeHandler = undefined;
    else wakeReader = undefined;
    waiter?.();
  };
  void (async () => {
    try {
      while (!stopped) {
        if (queue.length >= READ_AHEAD_FRAMES) {
          await new Promise<void>((resolve) => (wakeReader = resolve));
          continue;
        }
        const next = await frames.next();
        if (next.done) break;
        if (!atOnce(next.value)) queue.push(next.value);
        wake('handler');
      }
    } catch (error) {
      failure = { error };
    }
    ended = true;
    wake('handler');
  })();
  try {
    for (;;) {
      if (queue.length === 0) {
        if (ended) {
          if (failure) throw failure.error;
          return;
        }
        await new Promise<void>((resolve) => (wakeHandler = resolve));
        continue;
      }
      const frame = joinRunEvents(queue);
      wake('reader');
      await handle(frame);
    }
  } finally {
    stopped = true;
    wake('reader');
  }
}

/** Takes the queue's first frame, with the RunEvents of the same run right behind it joined on. */
function joinRunEvents(queue: ConnectRequest[]): ConnectRequest {
  const first = queue.shift()!;
  if (first.frame.case !== 'runEvents') return first;
  const batch = first.frame.value;
  let events = batch.events;
  for (;;) {
    const next = queue[0]?.frame;
    if (next?.case !== 'runEvents' || next.value.runId !== batch.runId || events.length + next.value.events.length > JOINED_EVENTS_MAX) break;
    if (events === batch.events) events = [...events];
    for (const event of next.value.events) events.push(event);
    queue.shift();
  }
  batch.events = events;
  return first;
}
