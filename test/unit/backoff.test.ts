import assert from 'node:assert/strict';
import { Backoff } from '../../common/backoff.js';

describe('Backoff', () => {
  it('draws each delay from a window that doubles up to the cap', () => {
    const top = new Backoff(500, 30_000, () => 1);
    const delays = Array.from({ length: 10 }, () => top.next());
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
  });

  it('has full jitter: a delay can be anywhere from zero to the window', () => {
    const low = new Backoff(500, 30_000, () => 0);
    assert.equal(low.next(), 0);
    const half = new Backoff(500, 30_000, () => 0.5);
    half.next();
    assert.equal(half.next(), 500);
  });

  it('starts again from the base after reset', () => {
    const b = new Backoff(500, 30_000, () => 1);
    for (let i = 0; i < 8; i++) b.next();
    b.reset();
    assert.equal(b.next(), 500);
  });
});
