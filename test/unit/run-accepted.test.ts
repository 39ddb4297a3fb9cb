/**
 * RunAccepted and the frames behind it (a unit test of session-frames.ts over a session of its
 * own): the run's events are stored while its accept is still being written, the presence record
 * never hears "not running" ahead of "running" for one run, a flood of accepts is held at
 * ACCEPTS_IN_FLIGHT_MAX, and an accept that cannot be written ends the session.
 */
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { RunEventsSchema, RunAcceptedSchema } from '../../gen/link/v1/link_service_pb.js';
import { RunEventSchema, RunStatus } from '../../gen/link/v1/run_pb.js';
const ACCEPTS_IN_FLIGHT_MAX = 8;
import { onRunAccepted, onRunEvents, type FrameSession } from '../../control-plane/sessions/session-frames.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** Resolves with `promise`, or rejects with `what` after `ms` (a deadline, not a wait for state). */
async function within<T>(promise: Promise<T>, what: string, ms = 2_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms)));
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A session whose store answers markRunning when the test says so, and stores every batch at once. */
function fakeSession() {
  const marks: { runId: string; answer: Deferred<boolean> }[] = [];
  const marked: ((runId: string) => void)[] = [];
  const running: string[] = [];
  const stored: string[] = [];
  const closed: unknown[] = [];
  const waiters: (() => void)[] = [];
  const changed = () => waiters.splice(0).forEach((wake) => wake());
  /** Resolves once `holds` is true (checked each time the session is told something). */
  const until = async (holds: () => boolean) => {
    while (!holds()) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  const session = {
    linkId: 'lnk_1',
    log: { info: () => undefined, warn: () => undefined, debug: () => undefined },
    epoch: () => 7n,
    send: () => undefined,
    close: (error?: unknown) => (closed.push(error), changed()),
    dispatchPending: () => undefined,
    setRunning: async (runId: string, on: boolean) => (running.push(`${runId}:${on}`), changed()),
    runs: {
      markRunning: (runId: string) => {
        const answer = deferred<boolean>();
        marks.push({ runId, answer });
        for (const waiter of marked.splice(0)) waiter(runId);
        return answer.promise;
      },
      appendEvents: async (runId: string, _link: string, _epoch: bigint, events: { seq: bigint; event: { case?: string } }[]) => {
        stored.push(runId);
        const top = events[events.length - 1];
        return { ok: true, acked: top.seq, finished: top.event.case === 'done' };
      },
    },
  } as unknown as FrameSession;
  const nextMark = () => new Promise<string>((resolve) => marked.push(resolve));
  return { session, marks, nextMark, running, stored, closed, until };
}

const accept = (runId: string) => create(RunAcceptedSchema, { runId });
const startedAndDone = (runId: string) =>
  create(RunEventsSchema, {
    runId,
    events: [
      create(RunEventSchema, { seq: 1n, event: { case: 'started', value: {} } }),
      create(RunEventSchema, { seq: 2n, event: { case: 'done', value: { status: RunStatus.COMPLETED } } }),
    ],
  });

describe('RunAccepted and the frames behind it', () => {
  it("stores the run's events while its accept is in flight, and says it stopped running only after it said it runs", async () => {
    const { session, marks, running, stored, until } = fakeSession();
    // As the frame pump does: one frame after the other, each handler awaited.
    await within(
      (async () => {
        await onRunAccepted(session, accept('run_1'));
        await onRunEvents(session, startedAndDone('run_1'));
      })(),
      "the run's events stored while its accept was unanswered",
    );
    assert.deepEqual(stored, ['run_1']);
    assert.deepEqual(running, [], 'nothing told the presence record before the accept was answered');
    marks[0].answer.resolve(true);
    await within(until(() => running.length === 2), 'both presence writes');
    assert.deepEqual(running, ['run_1:true', 'run_1:false']);
  });

  it(`holds the frames behind the ${ACCEPTS_IN_FLIGHT_MAX + 1}th accept in flight until one is answered`, async () => {
    const { session, marks, nextMark, stored } = fakeSession();
    for (let i = 0; i < ACCEPTS_IN_FLIGHT_MAX; i++) await within(onRunAccepted(session, accept(`run_${i}`)), `accept ${i}`);
    assert.equal(marks.length, ACCEPTS_IN_FLIGHT_MAX);
    let held = true;
    const pump = (async () => {
      await onRunAccepted(session, accept('run_over'));
      held = false;
      await onRunEvents(session, startedAndDone('run_over'));
    })();
    // The extra accept waits: no write for it, and the frames behind it are not handled.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(marks.length, ACCEPTS_IN_FLIGHT_MAX);
    assert.ok(held);
    const writing = nextMark();
    marks[3].answer.resolve(true);
    assert.equal(await within(writing, 'the held accept written once one was answered'), 'run_over');
    await within(pump, 'the frames behind it handled');
    assert.deepEqual(stored, ['run_over']);
    for (const mark of marks) mark.answer.resolve(false);
  });

  it('ends the session when the accept cannot be written', async () => {
    const { session, marks, closed, until } = fakeSession();
    await within(onRunAccepted(session, accept('run_1')), 'the accept under way');
    const failure = new Error('connection lost');
    marks[0].answer.reject(failure);
    await within(until(() => closed.length > 0), 'the session closed');
    assert.equal(closed[0], failure);
  });
});
