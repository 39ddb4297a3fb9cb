/**
 * WatchRun's reader over a source of its own (a unit test of run-follow.ts): live events are handed
 * from memory, a watcher that falls behind lets them go and resumes from the table at its seq, and
 * the others are not held up by it.
 */
import assert from 'node:assert/strict';
import { create, toBinary } from '@bufbuild/protobuf';
import { createLogger } from '../../common/log.js';
import {
  followRun,
  followRunBatches,
  WATCH_BATCH_BYTES,
  WATCH_BATCH_EVENTS,
  WATCHER_BUFFER_EVENTS,
  type FollowSource,
  type RunEventDelivery,
  type SizedEvents,
} from '../../control-plane/runs/run-follow.js';
import { RunEventSchema, RunStatus, type RunEvent } from '../../gen/link/v1/run_pb.js';

/** A run's table of events and the replica's store that hands each stored batch to its watchers. */
class Source implements FollowSource {
  readonly table: RunEvent[] = [];
  /** The cursor of each read of the table, in order. */
  readonly reads: bigint[] = [];
  readonly listeners = new Set<(delivery: RunEventDelivery) => void>();

  async sizedEvents(_runId: string, afterSeq: bigint, limit: number): Promise<SizedEvents> {
    this.reads.push(afterSeq);
    const events = this.table.filter((e) => e.seq > afterSeq).slice(0, limit);
    return { events, sizes: events.map((e) => toBinary(RunEventSchema, e).length) };
  }

  onRunEvent(_runId: string, deliver: (delivery: RunEventDelivery) => void): () => void {
    this.listeners.add(deliver);
    return () => this.listeners.delete(deliver);
  }

  /** Stores `count` log events (and a done, when asked), then hands them over as the store does after its commit. */
  store(count: number, done = false, text = (seq: bigint) => `line ${seq}`): void {
    const events: RunEvent[] = [];
    for (let i = 0; i < count + (done ? 1 : 0); i++) {
      const seq = BigInt(this.table.length + 1);
      const event =
        i < count
          ? create(RunEventSchema, { seq, event: { case: 'log', value: { text: text(seq) } } })
          : create(RunEventSchema, { seq, event: { case: 'done', value: { status: RunStatus.COMPLETED } } });
      this.table.push(event);
      events.push(event);
    }
    for (const deliver of this.listeners) deliver({ top: events.at(-1)!.seq, events });
  }
}

const log = createLogger({ name: 't', level: 'silent' });

async function take(watcher: AsyncGenerator<RunEvent>, count: number): Promise<bigint[]> {
  const seqs: bigint[] = [];
  while (seqs.length < count) {
    const next = await watcher.next();
    if (next.done) break;
    seqs.push(next.value.seq);
  }
  return seqs;
}

const upTo = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => BigInt(from + i));

describe('followRun: live events from memory', () => {
  it('hands a watcher that keeps up what is stored without reading the table again', async () => {
    const source = new Source();
    const abort = new AbortController();
    const watcher = followRun(source, 'run_a', 0n, abort.signal, log);
    const first = watcher.next();
    source.store(1);
    assert.equal((await first).value?.seq, 1n);
    const seen: bigint[] = [];
    for (let batch = 0; batch < 100; batch++) {
      source.store(10);
      seen.push(...(await take(watcher, 10)));
    }
    source.store(0, true);
    seen.push(...(await take(watcher, 2)));
    assert.deepEqual(seen, upTo(2, 1002), 'every event once, in order, ending with done');
    assert.equal((await watcher.next()).done, true);
    assert.deepEqual(source.reads, [0n], 'one read of the table, at the start');
  });

  it('a watcher that does not read holds up no one, lets go past its bound and resumes from the table at its seq', async () => {
    const source = new Source();
    const abort = new AbortController();
    const fast = followRun(source, 'run_a', 0n, abort.signal, log);
    const slow = followRun(source, 'run_a', 0n, abort.signal, log);
    const firsts = [fast.next(), slow.next()];
    source.store(1);
    assert.deepEqual((await Promise.all(firsts)).map((n) => n.value?.seq), [1n, 1n]);
    const readsBefore = source.reads.length;

    // Far more than the slow watcher's bound is stored while it reads nothing.
    const total = Math.ceil((4 * WATCHER_BUFFER_EVENTS) / 100) * 100;
    const fastSeen: bigint[] = [];
    for (let stored = 0; stored < total; stored += 100) {
      source.store(100);
      fastSeen.push(...(await take(fast, 100)));
    }
    assert.deepEqual(fastSeen, upTo(2, total + 1), 'the watcher that keeps up got everything as it was stored');
    assert.equal(source.reads.length, readsBefore, 'from memory: neither watcher read the table meanwhile');

    source.store(0, true);
    const slowSeen = await take(slow, total + 1);
    assert.deepEqual(slowSeen, upTo(2, total + 2), 'the slow watcher missed nothing and saw nothing twice');
    assert.equal((await slow.next()).done, true);
    assert.ok(source.reads.slice(readsBefore).includes(1n), `it resumed from the table at its seq (reads after: ${source.reads.slice(readsBefore).join(', ')})`);
    assert.deepEqual(await take(fast, 1), [BigInt(total + 2)]);
    abort.abort();
  });

  it('a hint without events, or a top past what it was handed, sends the watcher to the table', async () => {
    const source = new Source();
    const abort = new AbortController();
    const watcher = followRun(source, 'run_a', 0n, abort.signal, log);
    const first = watcher.next();
    source.store(1);
    await first;
    // Stored on another replica, too large to ride along in the announcement.
    source.table.push(create(RunEventSchema, { seq: 2n, event: { case: 'log', value: { text: 'big' } } }));
    source.listeners.forEach((deliver) => deliver({ top: 2n }));
    assert.deepEqual(await take(watcher, 1), [2n]);
    assert.deepEqual(source.reads, [0n, 1n]);
    abort.abort();
    assert.equal((await watcher.next()).done, true);
  });
});

describe('followRunBatches: what WatchRun sends a client that asks for batches', () => {
  it('a watcher that keeps up gets each stored batch as one response, cut at WATCH_BATCH_EVENTS, ending at done', async () => {
    const source = new Source();
    const abort = new AbortController();
    const watcher = followRunBatches(source, 'run_a', 0n, abort.signal, log);
    const first = watcher.next();
    source.store(3);
    assert.deepEqual((await first).value?.map((e: RunEvent) => e.seq), [1n, 2n, 3n], 'the table read at the start: one batch');
    const next = watcher.next();
    source.store(WATCH_BATCH_EVENTS + 10, true);
    const sizes = [(await next).value!.length, (await watcher.next()).value!.length];
    assert.deepEqual(sizes, [WATCH_BATCH_EVENTS, 11], 'a stored batch larger than a response goes as two, the second ending with done');
    assert.equal((await watcher.next()).done, true);
    assert.deepEqual(source.reads, [0n], 'from memory after the first read');
  });

  it('a response is at most about WATCH_BATCH_BYTES; an event larger than that goes alone; what is stored meanwhile comes together', async () => {
    const source = new Source();
    const abort = new AbortController();
    const big = 'x'.repeat(WATCH_BATCH_BYTES / 3 + 1);
    source.store(5, false, () => big);
    source.store(1, false, () => 'y'.repeat(WATCH_BATCH_BYTES + 10));
    source.store(2, true);
    const batches: bigint[][] = [];
    for await (const batch of followRunBatches(source, 'run_a', 0n, abort.signal, log)) batches.push(batch.map((e) => e.seq));
    assert.deepEqual(batches, [[1n, 2n], [3n, 4n], [5n], [6n], [7n, 8n, 9n]]);
  });
});
