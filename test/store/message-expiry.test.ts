/**
 * Expiry against a real Postgres: a queued run past its expiry is never claimed, whether or not a
 * sweep has run; the sweep (two at once, as on two replicas) ends it once, FAILED EXPIRED with its
 * done event, and expires its message and the queued messages behind it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createLogger } from '../../common/log.js';
import { RunStore } from '../../control-plane/runs/run-store.js';
import { MessageExpirySweep } from '../../control-plane/threads/message-expiry.js';
import { ThreadStore } from '../../control-plane/threads/thread-store.js';
import { PostgresStore } from '../../control-plane/store/postgres.js';
import { freshDatabase } from '../helpers/postgres.js';
import { repoRoot } from '../helpers/processes.js';

describe('message expiry', () => {
  let store: PostgresStore;
  let runs: RunStore;

  before(async () => {
    const log = createLogger({ name: 't', level: 'silent' });
    store = await PostgresStore.open({ url: await freshDatabase(), migrationsDir: join(repoRoot, 'sql'), log, max: 4 });
    runs = await RunStore.open(store.connection, store.notifications, log);
  });

  after(async () => {
    await runs.close();
    await store.close();
  });

  it('an expired queued run is never claimed; the sweeps end it once, EXPIRED, and expire the messages waiting behind it', async () => {
    const log = createLogger({ name: 't', level: 'silent' });
    const threads = new ThreadStore(store.connection, runs);
    const user = await store.localUser();
    const linkId = (await store.createLink(user.id, 'machine')).link.id;
    const thread = await threads.createThread(user.id, '');
    const input = { userId: user.id, threadId: thread.id, harness: 'shell', linkId, sandboxProvider: 'directory', branch: '', repository: '', sandbox: null, model: '', tier: 0, linkOnline: false };
    const past = new Date(Date.now() - 1_000);
    const first = await threads.sendMessage({ ...input, text: 'echo first', expiresAt: past });
    const behind = await threads.sendMessage({ ...input, text: 'echo behind', expiresAt: past });
    assert.equal(behind.runId, null, 'the second waits behind the first');

    assert.deepEqual(await runs.claimQueued(linkId, 100n, 4), [], 'not claimed, though no sweep ran yet');
    const sweeps = [0, 1].map(() => new MessageExpirySweep(store.connection, runs, log));
    await Promise.all(sweeps.map((s) => s.sweep()));

    const run = await runs.getRun(user.id, first.runId!);
    assert.equal(run?.state, 'failed');
    assert.equal(run?.failureReason, 'EXPIRED');
    const done = (await runs.events(first.runId!, 0n, 10)).filter((e) => e.event.case === 'done');
    assert.equal(done.length, 1, 'one done event');
    const { messages, runs: all } = (await threads.getThread(user.id, thread.id))!;
    assert.deepEqual(messages.map((m) => m.state), ['expired', 'expired']);
    assert.equal(all.length, 1, 'the expired message behind it never became a run');
  });
});
