/**
 * Group commit against a real Postgres (event-group.ts): plain batches of several runs that arrive
 * together are stored by fewer commits than batches, each event once and in order, every run
 * announced; a batch the group cannot take (fenced, a gap, a finished run) goes on alone and is
 * decided there; a run waiting for the user stays waiting; a group that fails leaves the others'
 * batches stored and the failing one's not.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { createLogger } from '../../common/log.js';
import { RunStore } from '../../control-plane/runs/run-store.js';
import { ThreadStore } from '../../control-plane/threads/thread-store.js';
import { PostgresStore } from '../../control-plane/store/postgres.js';
import { RunEventSchema, RunStatus } from '../../gen/link/v1/run_pb.js';
import { EventsRefusal, RunFailure } from '../../common/reasons.js';
import { freshDatabase } from '../helpers/postgres.js';
import { repoRoot } from '../helpers/processes.js';

const EPOCH = 100n;

describe('group commit of several runs\' event batches', () => {
  let store: PostgresStore;
  let runs: RunStore;
  let linkId: string;
  let runIds: string[];
  /** The number of batches of each group commit, as metrics see it. */
  let commits: number[];
  /** The top each run's announcements reached. */
  let announced: Map<string, bigint>;

  beforeEach(async () => {
    const log = createLogger({ name: 't', level: 'silent' });
    store = await PostgresStore.open({ url: await freshDatabase(), migrationsDir: join(repoRoot, 'sql'), log, max: 4 });
    runs = await RunStore.open(store.connection, store.notifications, log);
    commits = [];
    runs.observe({ runsFinished: { inc: () => undefined }, eventsStored: { inc: () => undefined }, eventBatchesPerCommit: { observe: (n) => commits.push(n) } });
    announced = new Map();
    store.notifications.on('run_event', ({ runId, seq }) => announced.set(runId, BigInt(seq) > (announced.get(runId) ?? 0n) ? BigInt(seq) : announced.get(runId)!));
    const threads = new ThreadStore(store.connection, runs);
    const user = await store.localUser();
    linkId = (await store.createLink(user.id, 'machine')).link.id;
    runIds = [];
    for (let i = 0; i < 6; i++) {
      const thread = await threads.createThread(user.id, '');
      runIds.push((await threads.sendMessage({ userId: user.id, threadId: thread.id, text: `run ${i}`, harness: 'shell', linkId, sandboxProvider: 'directory', branch: '', repository: '', sandbox: null, model: '', tier: 0 })).runId!);
    }
    assert.equal((await runs.claimQueued(linkId, EPOCH, 10)).length, 6);
  });

  afterEach(async () => {
    await runs.close();
    await store.close();
  });

  const events = (from: number, to: number, tag = '') =>
    Array.from({ length: to - from + 1 }, (_, i) => create(RunEventSchema, { seq: BigInt(from + i), event: { case: 'log', value: { text: `${tag}line ${from + i}` } } }));
  const acked = (result: unknown) => (result as { acked: bigint }).acked;
  const storedSeqs = async (runId: string) =>
    (await store.connection<{ seq: string }[]>`select seq::text as seq from run_events where run_id = ${runId}`).map((r) => Number(r.seq)).sort((a, b) => a - b);
  const states = async () => new Map((await store.connection<{ id: string; state: string; started: boolean }[]>`
    select id, state, started_at is not null as started from runs where id = any(${runIds}::text[])`).map((r) => [r.id, r]));
  async function until(condition: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`${what}: not within 10 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('stores batches that arrive together with fewer commits than batches, each event once and in order, every run announced', async () => {
    for (const round of [0, 1, 2]) {
      const from = round * 50 + 1;
      const results = await Promise.all(runIds.map((runId, i) => runs.appendEvents(runId, linkId, EPOCH, events(from, from + 49, `run ${i} `))));
      assert.deepEqual(results.map(acked), runIds.map(() => BigInt(from + 49)), `round ${round}: every batch acknowledged to its last seq`);
    }
    for (const [i, runId] of runIds.entries()) {
      const stored = await runs.events(runId, 0n, 1000);
      assert.deepEqual(stored.map((e) => Number(e.seq)), Array.from({ length: 150 }, (_, k) => k + 1), 'each once, in order');
      assert.ok(stored.every((e) => e.event.case === 'log' && e.event.value.text.startsWith(`run ${i} `)), 'each run\'s own events');
    }
    assert.equal(commits.reduce((a, b) => a + b, 0), 18, 'every batch went through a group');
    assert.ok(commits.length < 18, `fewer commits than batches (${commits.join(', ')})`);
    assert.ok(Math.max(...commits) > 1, 'some commit stored several runs\' batches');
    for (const row of (await states()).values()) assert.deepEqual([row.state, row.started], ['running', true], 'each run is running, with its start');
    await until(() => runIds.every((id) => announced.get(id) === 150n), 'every run announced up to 150');
  });

  it('a batch the group cannot take goes on alone and is decided there; a run waiting for the user stays waiting', async () => {
    await Promise.all(runIds.map((runId) => runs.appendEvents(runId, linkId, EPOCH, events(1, 50))));
    const [fenced, gap, finished, waiting, usual, twice] = runIds;
    await runs.finish(finished, RunStatus.CANCELLED, RunFailure.Cancelled, 'cancelled');
    const finishedTop = (await storedSeqs(finished)).at(-1)!;
    await store.connection`update runs set state = 'waiting' where id = ${waiting}`;
    const results = await Promise.all([
      runs.appendEvents(fenced, linkId, EPOCH - 1n, events(51, 60)),
      runs.appendEvents(gap, linkId, EPOCH, events(61, 70)),
      runs.appendEvents(finished, linkId, EPOCH, events(finishedTop + 1, finishedTop + 10)),
      runs.appendEvents(waiting, linkId, EPOCH, events(51, 60)),
      runs.appendEvents(usual, linkId, EPOCH, events(51, 60)),
      runs.appendEvents(twice, linkId, EPOCH, events(51, 60)),
      runs.appendEvents(twice, linkId, EPOCH, events(61, 70)),
    ]);
    assert.deepEqual(results[0], { ok: false, reason: EventsRefusal.Fenced, why: 'fenced: the run belongs to session 100' });
    assert.equal(acked(results[1]), 50n, 'a gap holds the acknowledgement back');
    assert.equal(acked(results[2]), BigInt(finishedTop + 10), 'moot after the run ended: acknowledged');
    assert.equal(acked(results[3]), 60n);
    assert.equal(acked(results[4]), 60n);
    assert.deepEqual([acked(results[5]), acked(results[6])], [60n, 70n], 'a run\'s second batch after its first');
    assert.equal((await storedSeqs(fenced)).length, 50, 'nothing of the fenced batch');
    assert.deepEqual((await runs.events(gap, 0n, 1000)).length, 50, 'watchers see nothing past the gap');
    assert.equal((await storedSeqs(finished)).at(-1), finishedTop, 'nothing after the end');
    assert.deepEqual(await storedSeqs(twice), Array.from({ length: 70 }, (_, k) => k + 1));
    const after = await states();
    assert.equal(after.get(waiting)!.state, 'waiting', 'still waiting for the user');
    assert.equal(after.get(usual)!.state, 'running');
    // The gap filled later (alone: it does not continue the stored prefix) acknowledges past it.
    assert.equal(acked(await runs.appendEvents(gap, linkId, EPOCH, events(51, 60))), 70n);
  });

  it('when a group fails, the other runs\' batches are stored and acknowledged, the failing one\'s not', async () => {
    const [doomed] = runIds;
    await store.connection.unsafe(`
      create function refuse_doomed() returns trigger language plpgsql as $$
      begin if new.run_id = '${doomed}' then raise exception 'refused for the test'; end if; return new; end $$;
      create trigger refuse_doomed before insert on run_events for each row execute function refuse_doomed();`);
    // Two batches start at once (two groups in flight); the rest wait and go as one group, the doomed one among them.
    const order = [...runIds.slice(1, 3), doomed, ...runIds.slice(3)];
    const results = await Promise.allSettled(order.map((runId) => runs.appendEvents(runId, linkId, EPOCH, events(1, 20))));
    const byRun = new Map(order.map((runId, i) => [runId, results[i]]));
    assert.equal(byRun.get(doomed)!.status, 'rejected', 'the failing batch fails');
    assert.match(String((byRun.get(doomed) as PromiseRejectedResult).reason), /refused for the test/);
    for (const runId of runIds.slice(1)) {
      const result = byRun.get(runId)!;
      assert.equal(result.status, 'fulfilled');
      assert.equal(acked((result as PromiseFulfilledResult<unknown>).value), 20n);
      assert.deepEqual(await storedSeqs(runId), Array.from({ length: 20 }, (_, k) => k + 1), 'stored once');
    }
    assert.deepEqual(await storedSeqs(doomed), [], 'nothing of the failing batch');
    assert.equal((await states()).get(doomed)!.state, 'dispatched', 'nor its run\'s row');
  });
});
