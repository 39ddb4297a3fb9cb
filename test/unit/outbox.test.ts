import assert from 'node:assert/strict';
import { RunOutbox, SEND_WINDOW_MAX, SEND_WINDOW_MIN, SEND_WINDOW_TARGET_MS } from '../../agent/runs/outbox.js';
import { MAX_EVENTS_PER_BATCH } from '../../common/protocol.js';

describe('the run outbox', () => {
  it('numbers events 1, 2, 3 … and keeps them until acknowledged, resending after a reconnect', () => {
    const outbox = new RunOutbox();
    for (let i = 0; i < 5; i++) outbox.add({ event: { case: 'text', value: { text: `t${i}` } } });
    assert.deepEqual(outbox.takeUnsent(1 << 20).map((e) => e.seq), [1n, 2n, 3n, 4n, 5n]);
    assert.deepEqual(outbox.takeUnsent(1 << 20), [], 'nothing is sent twice on one session');
    outbox.ack(3n);
    outbox.resend(3n);
    assert.deepEqual(outbox.takeUnsent(1 << 20).map((e) => e.seq), [4n, 5n], 'a new session gets what was not stored');
  });

  it('a backlog of many tiny events goes out in frames of at most MAX_EVENTS_PER_BATCH events', () => {
    const outbox = new RunOutbox();
    const total = MAX_EVENTS_PER_BATCH * 2 + 10;
    for (let i = 0; i < total; i++) outbox.add({ event: { case: 'text', value: { text: '.' } } });
    const sizes: number[] = [];
    while (outbox.hasUnsent) sizes.push(outbox.takeUnsent(4 * 1024 * 1024).length);
    assert.deepEqual(sizes, [MAX_EVENTS_PER_BATCH, MAX_EVENTS_PER_BATCH, 10]);
  });
});

describe("the run outbox's window (the pace of a run's output)", () => {
  /** Sends what is unsent, as linkd does with nothing in flight; returns how many went. */
  const send = (outbox: RunOutbox, now: number) => outbox.takeUnsent(1 << 30, 1 << 30, now).length;
  const add = (outbox: RunOutbox, count: number) => {
    for (let i = 0; i < count; i++) outbox.add({ event: { case: 'log', value: { text: '.' } } });
  };

  it('is full only while a batch is in flight and a window of events waits behind it', () => {
    const outbox = new RunOutbox();
    add(outbox, SEND_WINDOW_MIN * 3);
    assert.equal(outbox.full, false, 'nothing in flight: everything may go now');
    send(outbox, 0);
    add(outbox, SEND_WINDOW_MIN - 1);
    assert.equal(outbox.full, false);
    add(outbox, 1);
    assert.equal(outbox.full, true, 'a window waits behind the batch in flight');
    outbox.ack(outbox.last - BigInt(SEND_WINDOW_MIN), 5);
    assert.equal(outbox.full, false, 'acknowledged: nothing in flight');
  });

  it('sizes the window to what the store takes in SEND_WINDOW_TARGET_MS: grows with a fast store, shrinks with a slow one, within its bounds', () => {
    const outbox = new RunOutbox();
    let now = 0;
    // A store that takes 1 ms per 100 events: the window settles at about TARGET × 100 events.
    for (let round = 0; round < 20; round++) {
      add(outbox, outbox.window);
      const sent = send(outbox, now);
      now += sent / 100;
      outbox.ack(outbox.last, now);
    }
    assert.ok(Math.abs(outbox.window - SEND_WINDOW_TARGET_MS * 100) <= SEND_WINDOW_TARGET_MS * 10, `settled at ${outbox.window}`);
    // The store slows to 1 ms per 10 events: the window follows it down, at most halving per batch.
    const before = outbox.window;
    add(outbox, outbox.window);
    now += send(outbox, now) / 10;
    outbox.ack(outbox.last, now);
    assert.equal(outbox.window, before / 2, 'one slow batch halves it, no more');
    for (let round = 0; round < 20; round++) {
      add(outbox, outbox.window);
      now += send(outbox, now) / 10;
      outbox.ack(outbox.last, now);
    }
    assert.ok(Math.abs(outbox.window - SEND_WINDOW_TARGET_MS * 10) <= SEND_WINDOW_TARGET_MS, `settled at ${outbox.window}`);
    // A store that stalls: never below the minimum. One that is instant: never above the maximum.
    add(outbox, outbox.window);
    send(outbox, now);
    outbox.ack(outbox.last, (now += 60_000));
    for (let round = 0; round < 10; round++) {
      add(outbox, outbox.window);
      send(outbox, now);
      outbox.ack(outbox.last, (now += 60_000));
    }
    assert.equal(outbox.window, SEND_WINDOW_MIN);
    // Doubling from the minimum reaches the maximum in log2(MAX / MIN) batches.
    for (let round = 0; round <= Math.log2(SEND_WINDOW_MAX / SEND_WINDOW_MIN); round++) {
      add(outbox, outbox.window);
      send(outbox, now);
      outbox.ack(outbox.last, now);
    }
    assert.equal(outbox.window, SEND_WINDOW_MAX);
  });

  it('a run that prints little says nothing of the store: its window does not grow', () => {
    const outbox = new RunOutbox();
    const start = outbox.window;
    for (let round = 0; round < 10; round++) {
      add(outbox, 2);
      send(outbox, round);
      outbox.ack(outbox.last, round + 0.5);
    }
    assert.equal(outbox.window, start);
  });
});
