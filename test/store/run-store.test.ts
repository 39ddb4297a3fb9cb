/**
 * Event storage against a real Postgres: what is acknowledged is exactly the contiguous prefix,
 * duplicates change nothing, and writes are fenced to the session that holds the run.
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

describe('run event storage', () => {
  let store: PostgresStore;
  let runs: RunStore;
  let threads: ThreadStore;
  let linkId: string;
  let runId: string;

  beforeEach(async () => {
    const log = createLogger({ name: 't', level: 'silent' });
    store = await PostgresStore.open({ url: await freshDatabase(), migrationsDir: join(repoRoot, 'sql'), log, max: 2 });
    runs = await RunStore.open(store.connection, store.notifications, log);
    threads = new ThreadStore(store.connection, runs);
    const user = await store.localUser();
    linkId = (await store.createLink(user.id, 'machine')).link.id;
    const thread = await threads.createThread(user.id, '');
    runId = (await threads.sendMessage({ userId: user.id, threadId: thread.id, text: 'x', harness: 'shell', linkId, sandboxProvider: 'directory', branch: '', repository: '', sandbox: null, model: '', tier: 0 })).runId!;
    assert.equal((await runs.claimQueued(linkId, 100n, 1)).length, 1);
  });

  afterEach(async () => {
    await runs.close();
    await store.close();
  });

  const events = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => create(RunEventSchema, { seq: BigInt(from + i), event: { case: 'log', value: { text: `line ${from + i}` } } }));

  it('acknowledges a batch up to its last seq, however many it holds', async () => {
    assert.deepEqual(await runs.appendEvents(runId, linkId, 100n, events(1, 250)), { ok: true, acked: 250n, finished: false });
    assert.equal((await runs.events(runId, 0n, 1000)).length, 250);
  });

  it('a gap holds the acknowledgement back until it is filled; resends change nothing', async () => {
    assert.equal(((await runs.appendEvents(runId, linkId, 100n, events(1, 9))) as { acked: bigint }).acked, 9n);
    assert.equal(((await runs.appendEvents(runId, linkId, 100n, events(12, 30))) as { acked: bigint }).acked, 9n, '10 and 11 are missing');
    assert.deepEqual((await runs.events(runId, 0n, 1000)).map((e) => Number(e.seq)), [1, 2, 3, 4, 5, 6, 7, 8, 9], 'watchers see nothing past the gap');
    assert.equal(((await runs.appendEvents(runId, linkId, 100n, events(10, 11))) as { acked: bigint }).acked, 30n);
    assert.equal(((await runs.appendEvents(runId, linkId, 100n, events(1, 30))) as { acked: bigint }).acked, 30n);
    const stored = await runs.events(runId, 0n, 1000);
    assert.deepEqual(stored.map((e) => e.seq), events(1, 30).map((e) => e.seq), 'each once, in order');
  });

  it('stores each event of a batch as it was sent, whatever their sizes', async () => {
    // Sizes around the varint steps of a length (127/128 bytes, 16,383/16,384) and an event with next to nothing in it.
    const texts = ['', 'a'.repeat(120), 'b'.repeat(125), 'c'.repeat(16_375), 'd'.repeat(16_380), 'é'.repeat(3_000), 'e'];
    const batch = texts.map((text, i) => create(RunEventSchema, { seq: BigInt(i + 1), event: text ? { case: 'log', value: { text } } : undefined }));
    assert.equal(((await runs.appendEvents(runId, linkId, 100n, batch)) as { acked: bigint }).acked, BigInt(texts.length));
    const stored = await runs.events(runId, 0n, 1000);
    assert.deepEqual(stored.map((e) => (e.event.case === 'log' ? e.event.value.text : undefined)), texts.map((t) => t || undefined));
    const finished = await runs.finish(runId, RunStatus.FAILED, RunFailure.LinkLost, 'gone');
    assert.equal(finished, true);
    assert.deepEqual((await runs.events(runId, BigInt(texts.length), 10)).map((e) => e.event.case), ['error', 'done'], 'the control plane\'s own events after them');
  });

  it('refuses writes from a session that no longer holds the run', async () => {
    await runs.appendEvents(runId, linkId, 100n, events(1, 5));
    const { cursors } = await runs.adoptRuns(linkId, 200n, [runId]);
    assert.equal(cursors.get(runId), 5n, 'the new session learns what is stored');
    const stale = await runs.appendEvents(runId, linkId, 100n, events(6, 8));
    assert.equal(stale.ok, false);
    assert.equal(((await runs.appendEvents(runId, linkId, 200n, events(6, 8))) as { acked: bigint }).acked, 8n);
  });
  it('stores nothing of a batch that continues the prefix from a session that no longer holds the run, or after the run ended', async () => {
    await runs.appendEvents(runId, linkId, 100n, events(1, 5));
    await runs.adoptRuns(linkId, 200n, [runId]);
    const rows = async () => (await store.connection<{ seq: string }[]>`select seq::text from run_events where run_id = ${runId} order by seq`).map((r) => Number(r.seq));
    assert.equal((await runs.appendEvents(runId, linkId, 100n, events(6, 8))).ok, false, 'the old session is fenced');
    assert.deepEqual(await rows(), [1, 2, 3, 4, 5], 'its rows were not written');
    await runs.finish(runId, RunStatus.CANCELLED, RunFailure.Cancelled, 'cancelled');
    const top = (await rows()).at(-1)!;
    assert.equal(((await runs.appendEvents(runId, linkId, 200n, events(top + 1, top + 3))) as { acked: bigint }).acked, BigInt(top + 3), 'moot: acknowledged');
    assert.equal((await rows()).at(-1), top, 'and not stored');
  });
});
