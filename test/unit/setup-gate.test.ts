import assert from 'node:assert/strict';
import { Code, ConnectError } from '@connectrpc/connect';
import { errorMetadataOf, reasonOf } from '../../common/errors.js';
import { SetupGate } from '../../control-plane/setup-gate.js';

describe('SetupGate: turns for session set-ups', () => {
  const never = new AbortController().signal;

  it('lets `concurrent` run, queues the next ones in order, and refuses past the queue with OVERLOADED', async () => {
    const gate = new SetupGate(2, 2);
    const a = await gate.admit(never);
    const b = await gate.admit(never);
    const order: string[] = [];
    const c = gate.admit(never).then((give) => (order.push('c'), give));
    const d = gate.admit(never).then((give) => (order.push('d'), give));
    assert.deepEqual(gate.load, { running: 2, waiting: 2 });
    const refused = await gate.admit(never).catch((error: unknown) => error);
    assert.ok(refused instanceof ConnectError);
    assert.equal(reasonOf(refused), 'OVERLOADED');
    assert.equal(refused.code, Code.Unavailable);
    assert.equal(errorMetadataOf(refused).retry, 'true', 'agents are told to come back');
    a();
    a(); // giving a turn back twice changes nothing
    (await c)();
    b();
    (await d)();
    assert.deepEqual(order, ['c', 'd']);
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
  });

  it('a waiter whose agent gave up leaves the queue and never takes a turn', async () => {
    const gate = new SetupGate(1, 5);
    const first = await gate.admit(never);
    const gaveUp = new AbortController();
    const waiting = gate.admit(gaveUp.signal);
    const next = gate.admit(never);
    gaveUp.abort(new Error('the agent went away'));
    await assert.rejects(waiting, /went away/);
    assert.deepEqual(gate.load, { running: 1, waiting: 1 });
    first();
    (await next)();
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
  });

  it('refuses OVERLOADED when the set-ups ahead would take longer than the wait allowed, at the pace turns come back', async () => {
    let now = 0;
    const gate = new SetupGate(1, 100, 1_000, () => now);
    const first = await gate.admit(never);
    now += 500; // a set-up takes half a second here
    first();
    const running = await gate.admit(never);
    const queued = [gate.admit(never), gate.admit(never), gate.admit(never)]; // 0, 0.5 and 1 s of wait ahead of each
    assert.equal(gate.load.waiting, 3);
    const refused = await gate.admit(never).catch((error: unknown) => error);
    assert.equal(reasonOf(refused), 'OVERLOADED', 'a fourth would wait 1.5 s');
    running();
    for (const turn of queued) (await turn)();
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
    await gate.admit(never).then((give) => give()); // an empty queue admits at once, whatever the pace
  });
});
