/**
 * The statements of a session's set-up, batched across sessions (store/batched.ts), against a real
 * Postgres: many links setting up at once each get their own answer — their token's link, what they
 * have to adopt or waiting, their last sighting written — as one at a time would.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createLogger } from '../../common/log.js';
import { RunStore } from '../../control-plane/runs/run-store.js';
import { ThreadStore } from '../../control-plane/threads/thread-store.js';
import { PostgresStore } from '../../control-plane/store/postgres.js';
import { freshDatabase } from '../helpers/postgres.js';
import { repoRoot } from '../helpers/processes.js';

const LINKS = 40;

describe("a session's set-up statements, many sessions at once", () => {
  let store: PostgresStore;
  let runs: RunStore;
  let threads: ThreadStore;
  let userId: string;
  let links: { id: string; token: string }[];

  before(async () => {
    const log = createLogger({ name: 't', level: 'silent' });
    store = await PostgresStore.open({ url: await freshDatabase(), migrationsDir: join(repoRoot, 'sql'), log, max: 4 });
    runs = await RunStore.open(store.connection, store.notifications, log);
    threads = new ThreadStore(store.connection, runs);
    userId = (await store.localUser()).id;
    links = [];
    for (let i = 0; i < LINKS; i++) {
      const { link, token } = await store.createLink(userId, `machine ${i}`);
      links.push({ id: link.id, token });
    }
  });

  after(async () => {
    await runs.close();
    await store.close();
  });

  it("finds each token's link, and none for unknown, revoked or superseded tokens", async () => {
    const revoked = (await store.createLink(userId, 'revoked')).token;
    await store.revokeLink(userId, (await store.linkByToken(revoked))!.id);
    // A rotation the machine confirmed by connecting with its new token: the old one keeps working for the grace.
    const rotating = links[1];
    const newToken = 'll_rotated_token_of_link_1';
    await store.setPendingToken(rotating.id, newToken);
    const asked = [...links.map((l) => l.token), 'll_unknown_1', revoked, newToken, 'll_unknown_2', links[0].token];
    const found = await Promise.all(asked.map((token) => store.linkByToken(token)));
    assert.deepEqual(
      found.map((link) => link?.id),
      [...links.map((l) => l.id), undefined, undefined, rotating.id, undefined, links[0].id],
    );
    assert.equal((await store.linkByToken(rotating.token))?.id, rotating.id, 'the previous token works within its grace');
    const [row] = await store.connection<{ pending: string | null }[]>`select pending_token_hash as pending from links where id = ${rotating.id}`;
    assert.equal(row.pending, null, 'the rotation completed');
  });

  it("writes each link's last sighting, the later one where a link is seen twice", async () => {
    const at = Date.now();
    const seen = (i: number, hostname: string, when: number) =>
      store.recordSeen(links[i].id, { at: when, machineId: `m${i}`, hostname, os: 'linux', arch: 'x64', agentVersion: '1.0', capabilitiesJson: i % 2 ? { harnesses: [{ name: `h${i}` }] } : undefined });
    // The later sighting of link 0 is asked first: the write keeps it.
    await Promise.all([seen(0, 'later', at + 5_000), ...links.map((_, i) => seen(i, `host ${i}`, at + i)), seen(0, 'earlier', at + 1)]);
    const byId = new Map((await store.listLinks(userId)).map((l) => [l.id, l]));
    assert.equal(byId.get(links[0].id)?.lastSeen?.hostname, 'later');
    assert.equal(byId.get(links[0].id)?.lastSeen?.at, at + 5_000);
    for (let i = 1; i < LINKS; i++) {
      const last = byId.get(links[i].id)?.lastSeen;
      assert.equal(last?.hostname, `host ${i}`);
      assert.equal(last?.at, at + i);
      assert.equal(last?.machineId, `m${i}`);
      assert.deepEqual(last?.capabilitiesJson, i % 2 ? { harnesses: [{ name: `h${i}` }] } : undefined);
    }
  });

  it('says for each link whether it has runs waiting, and adopts, queues again or leaves alone what each holds', async () => {
    const withRun = links[2];
    const thread = await threads.createThread(userId, '');
    const { runId } = await threads.sendMessage({ userId, threadId: thread.id, text: 'hi', harness: 'shell', linkId: withRun.id, sandboxProvider: 'directory', branch: '', repository: '', sandbox: null, model: '', tier: 0 });
    const pending = await Promise.all(links.map((l) => runs.pendingForLink(l.id)));
    assert.deepEqual(pending.map((p, i) => (p.runs ? i : -1)).filter((i) => i >= 0), [2]);
    assert.ok(pending.every((p) => !p.sandboxOps));
    // Dispatched on a session of epoch 100 that ended; a new session of 200 holding nothing sends it back to the queue.
    assert.equal((await runs.claimQueued(withRun.id, 100n, 10)).length, 1);
    const adopted = await Promise.all(links.map((l) => runs.adoptRuns(l.id, 200n, [])));
    assert.ok(adopted.every((a) => a.cursors.size === 0 && a.failed.length === 0));
    const [row] = await store.connection<{ state: string }[]>`select state from runs where id = ${runId!}`;
    assert.equal(row.state, 'queued', 'the run the machine no longer holds is queued again');
  });
});
