/**
 * What a run's end does to its thread, against a real Postgres, on one connection used again and
 * again (its statements prepared, so those that go together really are written together): a
 * message still steering into the ended turn goes back to the queue and is the thread's next run,
 * and the run's own row, events and session are stored with it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { createLogger } from '../../common/log.js';
import { RunStore } from '../../control-plane/runs/run-store.js';
import { ThreadStore } from '../../control-plane/threads/thread-store.js';
import { PostgresStore } from '../../control-plane/store/postgres.js';
import { RunEventSchema, RunStatus } from '../../gen/link/v1/run_pb.js';
import { RunFailure } from '../../common/reasons.js';
import { freshDatabase } from '../helpers/postgres.js';
import { repoRoot } from '../helpers/processes.js';

describe("a run's end and its thread", () => {
  let store: PostgresStore;
  let runs: RunStore;
  let threads: ThreadStore;
  let userId: string;
  let linkId: string;

  before(async () => {
    const log = createLogger({ name: 't', level: 'silent' });
    // One connection: every round below finds the statements of the one before prepared on it.
    store = await PostgresStore.open({ url: await freshDatabase(), migrationsDir: join(repoRoot, 'sql'), log, max: 1 });
    runs = await RunStore.open(store.connection, store.notifications, log);
    threads = new ThreadStore(store.connection, runs);
    userId = (await store.localUser()).id;
    linkId = (await store.createLink(userId, 'machine')).link.id;
  });

  after(async () => {
    await runs.close();
    await store.close();
  });

  it('a message still steering when the turn ends becomes the next run, each time', async () => {
    for (let round = 0; round < 3; round++) {
      const thread = await threads.createThread(userId, '');
      const send = (text: string, steer: boolean) =>
        threads.sendMessage({ userId, threadId: thread.id, text, harness: 'shell', linkId, sandboxProvider: 'directory', branch: '', repository: '', sandbox: null, model: '', tier: 0, delivery: steer ? 'now' : 'after_turn', steer });
      const first = (await send('first', false)).runId!;
      assert.equal((await runs.claimQueued(linkId, 100n, 1)).length, 1);
      assert.ok(await runs.markRunning(first, linkId, 100n));
      const steering = await send('into the turn', true);
      assert.equal(steering.message.state, 'steering', `round ${round}: steered into the running turn`);
      const ended = await runs.appendEvents(first, linkId, 100n, [
        create(RunEventSchema, { seq: 1n, event: { case: 'started', value: { sessionId: `session-${round}` } } }),
        create(RunEventSchema, { seq: 2n, event: { case: 'done', value: { status: RunStatus.COMPLETED, sessionId: `session-${round}` } } }),
      ]);
      assert.deepEqual(ended.ok && [ended.acked, ended.finished], [2n, true]);
      const after = (await threads.getThread(userId, thread.id))!;
      const message = after.messages.find((m) => m.id === steering.message.id)!;
      assert.equal(message.state, 'sent', `round ${round}: the message that never reached the turn runs next`);
      const next = after.runs.find((r) => r.id === message.runId);
      assert.equal(next?.state, 'queued', `round ${round}: its run is queued`);
      assert.equal(after.runs.find((r) => r.id === first)?.state, 'completed');
      assert.equal(after.thread.sessionId, `session-${round}`, 'the next run resumes the session the run ended with');
      assert.equal((await runs.events(first, 0n, 10)).length, 2);
      // The queued run goes, so the next round's first run is the one claimed.
      await runs.finish(next!.id, RunStatus.CANCELLED, RunFailure.Cancelled, 'done with it');
    }
  });
});
