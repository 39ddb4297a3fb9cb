/**
 * store/batched.ts: callers that come together share one fetch, each gets its own answer, a lone
 * caller goes at once, and at most `inFlight` fetches are out.
 */
import assert from 'node:assert/strict';
import { batched } from '../../control-plane/store/batched.js';

/** A fetch the test answers by hand: each call is recorded with the keys it got. */
function controlledFetch() {
  const calls: { keys: readonly number[]; answer: () => void; fail: (error: Error) => void }[] = [];
  const fetch = (keys: readonly number[]) =>
    new Promise<string[]>((resolve, reject) => {
      calls.push({ keys: [...keys], answer: () => resolve(keys.map((k) => `value of ${k}`)), fail: reject });
    });
  return { calls, fetch };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('batched statements (store/batched.ts)', () => {
  it('sends a lone call at once, and the calls that come while fetches are out in one fetch', async () => {
    const { calls, fetch } = controlledFetch();
    const load = batched(fetch, { inFlight: 1 });
    const first = load(1);
    await turn();
    assert.deepEqual(calls.map((c) => c.keys), [[1]], 'the lone call went at once');
    const later = [2, 3, 4, 5].map((k) => load(k));
    await turn();
    assert.equal(calls.length, 1, 'nothing more goes while the one fetch allowed is out');
    calls[0].answer();
    assert.equal(await first, 'value of 1');
    await turn();
    assert.deepEqual(calls.map((c) => c.keys), [[1], [2, 3, 4, 5]], 'the four waiting calls went in one fetch');
    calls[1].answer();
    assert.deepEqual(await Promise.all(later), ['value of 2', 'value of 3', 'value of 4', 'value of 5'], 'each caller got its own answer');
  });

  it('keeps at most inFlight fetches out, and at most maxBatch keys in one', async () => {
    const { calls, fetch } = controlledFetch();
    const load = batched(fetch, { inFlight: 2, maxBatch: 3 });
    const answers = Array.from({ length: 10 }, (_, k) => load(k));
    await turn();
    assert.deepEqual(calls.map((c) => c.keys), [[0, 1, 2], [3, 4, 5]]);
    calls[0].answer();
    await turn();
    assert.deepEqual(calls.map((c) => c.keys).slice(2), [[6, 7, 8]], 'a returned fetch hands its turn to the next batch');
    calls[1].answer();
    await turn();
    calls[2].answer();
    await turn();
    assert.deepEqual(calls.map((c) => c.keys).slice(3), [[9]]);
    calls[3].answer();
    assert.equal((await Promise.all(answers)).length, 10);
  });

  it('gives every caller of a failed fetch the error, and goes on with the next', async () => {
    const { calls, fetch } = controlledFetch();
    const load = batched(fetch, { inFlight: 1 });
    const failed = [load(1), load(2)];
    await turn();
    calls[0].fail(new Error('connection lost'));
    for (const answer of failed) await assert.rejects(answer, /connection lost/);
    const next = load(3);
    await turn();
    calls[1].answer();
    assert.equal(await next, 'value of 3');
  });
});
