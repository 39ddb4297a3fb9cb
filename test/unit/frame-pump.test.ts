/**
 * The session's frame pump (a unit test of frame-pump.ts over a stream of its own): a run's batches
 * that arrive while one is being stored are joined into one, in order; heartbeats are answered
 * while the store is busy; other frames keep their place.
 */
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { Channel } from '../../common/channel.js';
import { pumpFrames } from '../../control-plane/sessions/frame-pump.js';
import { ConnectRequestSchema, type ConnectRequest } from '../../gen/link/v1/link_service_pb.js';
import { RunEventSchema } from '../../gen/link/v1/run_pb.js';

const events = (runId: string, from: number, count: number) =>
  create(ConnectRequestSchema, {
    frame: {
      case: 'runEvents',
      value: { runId, events: Array.from({ length: count }, (_, i) => create(RunEventSchema, { seq: BigInt(from + i), event: { case: 'log', value: { text: 'x' } } })) },
    },
  });
const heartbeat = (seq: number) => create(ConnectRequestSchema, { frame: { case: 'heartbeat', value: { seq: BigInt(seq) } } });
const accepted = (runId: string) => create(ConnectRequestSchema, { frame: { case: 'runAccepted', value: { runId } } });

describe('pumpFrames', () => {
  it("joins a run's batches queued behind a slow store, answers heartbeats meanwhile, and keeps every other frame in its place", async () => {
    const stream = new Channel<ConnectRequest>();
    const handled: string[] = [];
    const answered: bigint[] = [];
    let release!: () => void;
    const storeBusy = new Promise<void>((resolve) => (release = resolve));
    let first = true;
    const pumped = pumpFrames(
      stream[Symbol.asyncIterator](),
      async (frame) => {
        const f = frame.frame;
        handled.push(f.case === 'runEvents' ? `${f.value.runId}:${f.value.events.map((e) => e.seq).join(',')}` : `${f.case}:${f.case === 'runAccepted' ? f.value.runId : ''}`);
        if (first) {
          first = false;
          await storeBusy;
        }
      },
      (frame) => frame.frame.case === 'heartbeat' && (answered.push(frame.frame.value.seq), true),
    );
    stream.push(events('run_a', 1, 2));
    await new Promise((resolve) => setImmediate(resolve));
    // While the first batch is being stored:
    for (const frame of [events('run_a', 3, 2), heartbeat(1), events('run_a', 5, 1), events('run_b', 1, 1), events('run_a', 6, 1), accepted('run_c'), events('run_a', 7, 1)]) stream.push(frame);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(answered, [1n], 'the heartbeat was answered while the store was busy');
    release();
    stream.close();
    await pumped;
    assert.deepEqual(handled, ['run_a:1,2', 'run_a:3,4,5', 'run_b:1', 'run_a:6', 'runAccepted:run_c', 'run_a:7']);
  });

  it('throws what the stream threw, after handling what came before it', async () => {
    const stream = new Channel<ConnectRequest>();
    const handled: string[] = [];
    stream.push(accepted('run_a'));
    stream.close(new Error('stream broke'));
    await assert.rejects(
      pumpFrames(stream[Symbol.asyncIterator](), async (f) => void handled.push(f.frame.case ?? ''), () => false),
      /stream broke/,
    );
    assert.deepEqual(handled, ['runAccepted']);
  });
});
