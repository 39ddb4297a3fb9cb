import assert from 'node:assert/strict';
import { RunOutbox } from '../../agent/runs/outbox.js';
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
