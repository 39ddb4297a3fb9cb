/**
 * A run's hold by a session against a real Postgres: the LINK_LOST grace counts from when the run
 * was detached, and adopting and failing are compare-and-set on the session epoch, so replicas that
 * race (a sweep failing a run, a new session adopting it, an older session adopting late) leave it
 * in one consistent state.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { createLogger, type Logger } from '../../common/log.js';
import { RunEventSchema } from '../../gen/link/v1/run_pb.js';
import { Dispatcher } from '../../control-plane/runs/dispatcher.js';
import { RunStore } from '../../control-plane/runs/run-store.js';
import { SandboxStore } from '../../control-plane/sandboxes/sandbox-store.js';
import { ThreadStore } from '../../control-plane/threads/thread-store.js';
import { PostgresStore } from '../../control-plane/store/postgres.js';
import { freshDatabase } from '../helpers/postgres.js';
import { repoRoot } from '../helpers/processes.js';

describe('runs detached from their session', () => {
  let store: PostgresStore;
  let runs: RunStore;
  let threads: ThreadStore;
  let linkId: string;
  let userId: string;

  beforeEach(async () => {
    const log = createLogger({ name: 't', level: 'silent' });
    store = await PostgresStore.open({ url: await freshDatabase(), migrationsDir: join(repoRoot, 'sql'), log, max: 4 });
    runs = await RunStore.open(store.connection, store.notifications, log);
    threads = new ThreadStore(store.connection, runs);
    userId = (await store.localUser()).id;
    linkId = (await store.createLink(userId, 'machine')).link.id;
  });

  afterEach(async () => {
    await runs.close();
    await store.close();
  });

  /** A run dispatched to session `epoch`, backdated `ageMs` (so it is older than any grace). */
  async function heldRun(epoch: bigint, ageMs = 3_600_000): Promise<string> {
    const thread = await threads.createThread(userId, '');
    const runId = (await threads.sendMessage({ userId, threadId: thread.id, text: 'x', harness: 'shell', linkId, sandboxProvider: 'directory', branch: '', repository: '', sandbox: null, model: '', tier: 0 })).runId!;
    await runs.claimQueued(linkId, epoch, 64);
    await store.connection`update runs set created_at = now() - ${ageMs / 1000} * interval '1 second', dispatched_at = now() - ${ageMs / 1000} * interval '1 second' where id = ${runId}`;
    return runId;
  }

  const state = async (runId: string) => (await runs.getRun(userId, runId))!;

  it('an old run is not overdue until it has been detached for the grace period', async () => {
    const runId = await heldRun(100n);
    assert.deepEqual(await runs.overdueRuns(1_000), [], 'held by its session: never overdue, however old');
    assert.deepEqual(await runs.detachRuns(linkId, 100n), [runId]);
    assert.deepEqual(await runs.overdueRuns(60_000), [], 'just detached');
    assert.equal(await runs.failLostRun(runId, 100n, 60_000), false, 'not failed before the grace');
    assert.equal((await state(runId)).state, 'dispatched');
    await store.connection`update runs set detached_at = now() - interval '61 seconds' where id = ${runId}`;
    assert.deepEqual((await runs.overdueRuns(60_000)).map((r) => r.id), [runId]);
    assert.equal(await runs.failLostRun(runId, 100n, 60_000), true);
    assert.equal((await state(runId)).failureReason, 'LINK_LOST');
  });

  it('a session that adopts a detached run attaches it again, and a late failure of the old session does nothing', async () => {
    const runId = await heldRun(100n);
    await runs.detachRuns(linkId, 100n);
    await store.connection`update runs set detached_at = now() - interval '61 seconds' where id = ${runId}`;
    const { cursors } = await runs.adoptRuns(linkId, 200n, [runId]);
    assert.ok(cursors.has(runId));
    assert.equal((await state(runId)).detachedAt, null);
    assert.equal(await runs.failLostRun(runId, 100n, 60_000), false, 'the sweep lost the race to the adoption');
    assert.equal((await state(runId)).state, 'dispatched');
    assert.deepEqual(await runs.detachRuns(linkId, 100n), [], 'the old session ending late detaches nothing');
  });

  it('a run failed by the sweep first is not adopted afterwards', async () => {
    const runId = await heldRun(100n);
    await runs.detachRuns(linkId, 100n);
    await store.connection`update runs set detached_at = now() - interval '61 seconds' where id = ${runId}`;
    assert.equal(await runs.failLostRun(runId, 100n, 60_000), true);
    const { cursors } = await runs.adoptRuns(linkId, 200n, [runId]);
    assert.equal(cursors.has(runId), false, 'the agent is not told to carry on with a failed run');
    assert.equal((await state(runId)).state, 'failed');
  });

  it('an older session adopting late takes nothing from a newer one', async () => {
    const running = await heldRun(300n);
    await runs.markRunning(running, linkId, 300n);
    const dispatched = await heldRun(300n);
    const { cursors, failed } = await runs.adoptRuns(linkId, 200n, [running]);
    assert.equal(cursors.size, 0, 'no run moved to the older epoch');
    assert.deepEqual(failed, [], 'nothing failed AGENT_RESTARTED by the older session');
    assert.equal((await state(running)).sessionEpoch, 300n);
    assert.equal((await state(dispatched)).state, 'dispatched', 'not sent back to the queue');
    assert.equal((await state(dispatched)).sessionEpoch, 300n);
  });

  it('an older session claims no queued run once a newer one holds runs of the link', async () => {
    await heldRun(300n);
    const thread = await threads.createThread(userId, '');
    const runId = (await threads.sendMessage({ userId, threadId: thread.id, text: 'x', harness: 'shell', linkId, sandboxProvider: 'directory', branch: '', repository: '', sandbox: null, model: '', tier: 0 })).runId!;
    assert.equal((await runs.claimQueued(linkId, 200n, 8)).length, 0, 'the superseded session gets nothing to send to a machine that left it');
    assert.deepEqual((await runs.claimQueued(linkId, 300n, 8)).map((r) => r.id), [runId]);
  });

  it('a session superseded while its claim was in flight sends nothing, and what it claimed goes back to the queue for the newer one', async () => {
    const thread = await threads.createThread(userId, '');
    const runId = (await threads.sendMessage({ userId, threadId: thread.id, text: 'x', harness: 'shell', linkId, sandboxProvider: 'directory', branch: '', repository: '', sandbox: null, model: '', tier: 0 })).runId!;
    const sent: unknown[] = [];
    let checks = 0;
    let claimed!: () => void;
    const done = new Promise<void>((resolve) => (claimed = resolve));
    // Live when the claim starts; superseded by the time it returns (a newer session connected meanwhile).
    const target = { linkId, capacity: 8, live: true, epoch: () => 200n, mayDispatch: () => checks++ === 0, send: (frame: unknown) => sent.push(frame) };
    const sandboxes = await SandboxStore.open(store.connection, store.notifications, createLogger({ name: 't', level: 'silent' }));
    // The dispatcher's one log line of the attempt (what it did, or that it failed) says it is over.
    const log = { info: () => claimed(), error: () => claimed(), warn: () => undefined, debug: () => undefined } as unknown as Logger;
    const dispatcher = new Dispatcher(target, runs, sandboxes, store, log);
    dispatcher.dispatchPending();
    await done;
    assert.deepEqual(sent, [], 'nothing is sent on a superseded session');
    const [row] = await store.connection<{ state: string; session_epoch: string | null }[]>`select state, session_epoch::text from runs where id = ${runId}`;
    assert.deepEqual({ ...row }, { state: 'queued', session_epoch: null });
    assert.deepEqual((await runs.claimQueued(linkId, 300n, 8)).map((r) => r.id), [runId], 'the newer session claims it');
  });

  it('a run whose claim a database crash lost is taken by the session that holds it: by its acceptance, its events or its Hello', async () => {
    const queued = async () => {
      const thread = await threads.createThread(userId, '');
      return (await threads.sendMessage({ userId, threadId: thread.id, text: 'x', harness: 'shell', linkId, sandboxProvider: 'directory', branch: '', repository: '', sandbox: null, model: '', tier: 0 })).runId!;
    };
    // Each was sent to session 200, and the claim that said so is gone (the table says queued).
    const accepted = await queued();
    assert.equal(await runs.markRunning(accepted, linkId, 200n), true);
    assert.deepEqual([(await state(accepted)).state, (await state(accepted)).sessionEpoch], ['running', 200n]);

    const streamed = await queued();
    const started = create(RunEventSchema, { seq: 1n, event: { case: 'started', value: { harness: 'shell' } } });
    assert.deepEqual(await runs.appendEvents(streamed, linkId, 200n, [started]), { ok: true, acked: 1n, finished: false });
    assert.deepEqual([(await state(streamed)).state, (await state(streamed)).sessionEpoch], ['running', 200n]);

    const held = await queued();
    const { cursors } = await runs.adoptRuns(linkId, 200n, [held]);
    assert.deepEqual([...cursors], [[held, 0n]], 'the Hello that holds it adopts it, with nothing stored');
    assert.equal((await state(held)).state, 'dispatched');
    assert.deepEqual(await runs.claimQueued(linkId, 200n, 8), [], 'none of them is sent again');

    // A session older than one that holds runs of the link takes nothing.
    const late = await queued();
    assert.equal(await runs.markRunning(late, linkId, 100n), false);
    assert.equal((await runs.appendEvents(late, linkId, 100n, [started])).ok, false);
    assert.equal((await state(late)).state, 'queued');
  });
});
