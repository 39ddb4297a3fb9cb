/**
 * Several control-plane replicas on one etcd and one Postgres: presence is right everywhere through
 * agent moves, replica crashes and etcd outages. Real processes, real etcd, real linkd.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createLogger } from '../common/log.js';
import { reasonOf } from '../common/errors.js';
import { EtcdRegistry } from '../control-plane/registry/etcd.js';
import { writeFileAtomically } from '../common/files.js';
import { PostgresStore } from '../control-plane/store/postgres.js';
import { LinkState } from '../gen/link/v1/types_pb.js';
import { RunStatus } from '../gen/link/v1/run_pb.js';
import { collect, threadClient } from './helpers/runs.js';
import { closeClients, Code, hello, linkClient, LinkWatch, RawSession } from './helpers/clients.js';
import { startEtcd, type TestEtcd } from './helpers/etcd.js';
import { migratedDatabase } from './helpers/postgres.js';
import { delay, repoRoot, spawnLinkd, type TestProcess } from './helpers/processes.js';
import { startServerProcess, startTestServer, TEST_KEY_SECRET } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

const LEASE_TTL_S = 3;

interface Replica {
  id: string;
  process: TestProcess;
  grpcUrl: string;
  httpUrl: string;
}

describe('several replicas on etcd', () => {
  let etcd: TestEtcd;
  let databaseUrl: string;
  let store: PostgresStore;
  let userToken: string;
  let userId: string;
  let keyFile: string;
  let dispatchKey: Buffer;
  const replicas: Replica[] = [];
  const agents: TestProcess[] = [];
  const watches: LinkWatch[] = [];

  beforeEach(async () => {
    etcd = await startEtcd();
    databaseUrl = await migratedDatabase();
    store = await PostgresStore.open({ url: databaseUrl, migrationsDir: join(repoRoot, 'sql'), log: createLogger({ name: 't', level: 'silent' }), max: 2 });
    // One key file for every replica (they share the sealed signing key), and its key for link.json.
    keyFile = join(await tempDir('keys-'), 'signing.secret');
    await writeFileAtomically(keyFile, `${TEST_KEY_SECRET.toString('base64')}\n`);
    dispatchKey = (await store.unlockDispatchKeys(TEST_KEY_SECRET)).publicKey;
    const created = (await store.createUser('alice'))!;
    userToken = created.token;
    userId = created.user.id;
  });

  afterEach(async () => {
    for (const w of watches.splice(0)) await w.close();
    closeClients();
    for (const a of agents.splice(0)) await a.stop();
    for (const r of replicas.splice(0)) await r.process.stop();
    await store.close();
    await etcd.stop();
  });

  async function startReplica(id: string): Promise<Replica> {
    const { process: child, grpcPort, httpUrl } = await startServerProcess(
      [
        '--etcd', etcd.endpoint,
        '--database-url', databaseUrl,
        '--replica-id', id,
        '--key-file', keyFile,
        '--lease-ttl', String(LEASE_TTL_S),
        '--keepalive-time', '1000',
        '--keepalive-timeout', '1000',
        '--heartbeat-interval', '300',
        '--drain-grace', '1000',
        '--link-lost-grace', '2000',
      ],
      `link-server ${id}`,
    );
    const replica = { id, process: child, grpcUrl: `http://127.0.0.1:${grpcPort}`, httpUrl };
    replicas.push(replica);
    return replica;
  }

  /** Starts the replicas side by side; every one that started is stopped by afterEach, also when another failed. */
  async function startReplicas(...ids: string[]): Promise<Replica[]> {
    const started = await Promise.allSettled(ids.map((id) => startReplica(id)));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    return started.map((s) => (s as PromiseFulfilledResult<Replica>).value);
  }

  async function newLink(name: string) {
    const { link, token } = await store.createLink(userId, name);
    const tokenFile = join(await tempDir('token-'), 'token');
    await writeFileAtomically(tokenFile, `${token}\n`);
    // What `linkd login` saves beside the token: the dispatch key linkd trusts.
    await writeFileAtomically(join(dirname(tokenFile), 'link.json'), JSON.stringify({ linkId: link.id, dispatchPublicKey: dispatchKey.toString('base64') }));
    return { id: link.id, token, tokenFile };
  }

  async function agent(tokenFile: string, servers: Replica[]) {
    const dataDir = await tempDir('linkd-');
    const started = spawnLinkd(['start', '--server', servers.map((r) => r.grpcUrl).join(','), '--token-file', tokenFile, '--data-dir', dataDir]);
    agents.push(started);
    return started;
  }

  function watchOn(replica: Replica) {
    const w = new LinkWatch(linkClient(replica.grpcUrl, userToken));
    watches.push(w);
    return w;
  }

  it('a link on one replica is seen on the others; it moves to the newest session, and the old replica lets go', async () => {
    const [a, b, c] = await startReplicas('a', 'b', 'c');
    const link = await newLink('laptop');
    const [onB, onC] = [watchOn(b), watchOn(c)];

    const first = await agent(link.tokenFile, [a]);
    const seenOnB = await onB.until(link.id, (l) => l.state === LinkState.ONLINE && l.replicaId === 'a', 'online on a');
    await onC.until(link.id, (l) => l.state === LinkState.ONLINE && l.replicaId === 'a', 'online on a');

    // The same link connects to replica b: newest wins, a ends its session with SUPERSEDED.
    const second = await agent(link.tokenFile, [b]);
    const { code } = await first.waitForExit(15_000);
    assert.equal(code, 1);
    assert.match(first.output, /superseded/i);
    const moved = await onC.until(link.id, (l) => l.state === LinkState.ONLINE && l.replicaId === 'b', 'online on b');
    assert.ok(moved.sessionEpoch > seenOnB.sessionEpoch);
    const { link: fromA } = await linkClient(a.grpcUrl, userToken).getLink({ linkId: link.id });
    assert.equal(fromA?.state, LinkState.ONLINE);
    assert.equal(fromA?.replicaId, 'b');
    await second.stop();
    await onC.offline(link.id);
  });

  it('a SIGKILLed replica\'s links go offline elsewhere within the lease TTL; an agent that knows another replica moves there', async () => {
    const [a, b, c] = await startReplicas('a', 'b', 'c');
    const movable = await newLink('movable');
    const stranded = await newLink('stranded');
    const onA = watchOn(a);
    const mover = await agent(movable.tokenFile, [b, c]);
    const stuck = await agent(stranded.tokenFile, [b]);
    await onA.until(movable.id, (l) => l.state === LinkState.ONLINE && l.replicaId === 'b', 'online on b');
    await onA.until(stranded.id, (l) => l.state === LinkState.ONLINE && l.replicaId === 'b', 'online on b');

    await b.process.stop('SIGKILL');
    // Nobody released the stranded link's presence: its lease's expiry takes it offline.
    await onA.offline(stranded.id, (LEASE_TTL_S + 5) * 1000);
    await onA.until(movable.id, (l) => l.state === LinkState.ONLINE && l.replicaId === 'c', 'online on c', 30_000);
    assert.ok(mover.running);
    await stuck.stop();
  });

  it('after etcd was down longer than the lease TTL, presence comes back to the truth without restarting replicas', async () => {
    const [a, b] = await startReplicas('a', 'b');
    const staying = await newLink('staying');
    const leaving = await newLink('leaving');
    const onB = watchOn(b);
    await agent(staying.tokenFile, [a]);
    const leaver = await agent(leaving.tokenFile, [a]);
    await onB.online(staying.id);
    await onB.online(leaving.id);
    // This watch stays open through the outage: replica b's etcd watch must catch up by itself.
    const through = watchOn(b);
    await through.online(leaving.id);

    await etcd.kill();
    // While etcd is away, replica a is not ready and turns new sessions away with UNAVAILABLE.
    const deadline = Date.now() + 15_000;
    while ((await fetch(`${a.httpUrl}/readyz`)).status === 200) {
      assert.ok(Date.now() < deadline, '/readyz never said not ready');
      await delay(100);
    }
    const late = await newLink('late');
    const refused = await new RawSession(a.grpcUrl, late.token, hello()).end();
    assert.equal(refused?.code, Code.Unavailable);
    assert.equal(reasonOf(refused), 'REGISTRY_UNAVAILABLE');
    // One agent leaves during the outage; the other stays connected throughout.
    await leaver.stop();
    await delay((LEASE_TTL_S + 1) * 1000);
    await etcd.restart();

    // Both replicas ready again: b's etcd client may answer later than a's (a new watch on b
    // before that is refused REGISTRY_UNAVAILABLE, which a client retries).
    for (const replica of [a, b]) {
      while ((await fetch(`${replica.httpUrl}/readyz`)).status !== 200) {
        assert.ok(Date.now() < deadline + 30_000, `/readyz of ${replica.id} never came back`);
        await delay(100);
      }
    }
    const after = watchOn(b);
    await after.until(staying.id, (l) => l.state === LinkState.ONLINE && l.replicaId === 'a', 'online on a', 20_000);
    await after.offline(leaving.id, 20_000);
    await through.offline(leaving.id, 20_000);
    assert.equal(through.links.get(staying.id)?.state, LinkState.ONLINE, 'the watch that lived through the outage shows the truth');
    // Past the old lease's TTL (etcd may have restored it at restart), the truth still holds.
    await delay((LEASE_TTL_S + 1) * 1000);
    const { links } = await linkClient(b.grpcUrl, userToken).listLinks({});
    assert.deepEqual(
      links.filter((l) => l.state === LinkState.ONLINE).map((l) => l.id),
      [staying.id],
      'exactly the connected link is online',
    );
  });

  it('a lost lease is replaced and the replica\'s presence written again', async () => {
    const a = await startReplica('a');
    const link = await newLink('kept');
    const onA = watchOn(a);
    await agent(link.tokenFile, [a]);
    await onA.online(link.id);
    // Revoke the replica's lease behind its back, as an expiry would.
    const env = { ...process.env, ETCDCTL_API: '3' };
    // Plain output lists the ids in hex (JSON would round the 64-bit ids).
    const listed = spawnSync('etcdctl', ['--endpoints', etcd.endpoint, 'lease', 'list'], { env, encoding: 'utf8' }).stdout;
    const ids = listed.split('\n').slice(1).map((l) => l.trim()).filter((l) => /^[0-9a-f]+$/.test(l));
    assert.equal(ids.length, 1, `one lease, the replica's: ${listed}`);
    for (const id of ids) assert.equal(spawnSync('etcdctl', ['--endpoints', etcd.endpoint, 'lease', 'revoke', id], { env }).status, 0);
    await onA.offline(link.id);
    // The replica notices at its next keepalive, grants a new lease and writes the link back.
    await onA.online(link.id, 20_000);
  });

  it('a replica SIGKILLed mid-run: another takes the run over, and watchers on every replica see each event once, in order', async () => {
    const [a, b, c] = await startReplicas('a', 'b', 'c');
    const link = await newLink('worker');
    const onC = watchOn(c);
    await agent(link.tokenFile, [a, b]);
    await onC.until(link.id, (l) => l.state === LinkState.ONLINE && l.replicaId === 'a', 'online on a');
    const threadsOnC = threadClient(c.grpcUrl, userToken);
    const { thread } = await threadsOnC.createThread({});
    const lines = 200;
    const { runId } = await threadsOnC.sendMessage({
      threadId: thread!.id,
      text: `for i in $(seq 1 ${lines}); do echo "line $i"; sleep 0.02; done`,
      harness: 'shell',
      linkId: link.id,
    });
    const watchers = [collect(threadsOnC, runId, 0n, 90_000), collect(threadClient(b.grpcUrl, userToken), runId, 0n, 90_000)];
    // Let it get going on replica a, then kill a.
    for await (const { event } of threadsOnC.watchRun({ runId }, { timeoutMs: 30_000 })) {
      if (event?.event.case === 'log' && event.event.value.text === 'line 20') break;
    }
    await a.process.stop('SIGKILL');
    await onC.until(link.id, (l) => l.state === LinkState.ONLINE && l.replicaId === 'b', 'online on b', 30_000);
    for (const events of await Promise.all(watchers)) {
      assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => BigInt(i + 1)), 'seqs 1..n, no gap, no repeat');
      const texts = events.flatMap((e) => (e.event.case === 'log' ? [e.event.value.text] : []));
      assert.deepEqual(texts, Array.from({ length: lines }, (_, i) => `line ${i + 1}`));
      const done = events.at(-1)!;
      assert.equal(done.event.case === 'done' && done.event.value.status, RunStatus.COMPLETED);
    }
  });

  it('the replica holding a run dies and the machine never comes back: the run fails LINK_LOST elsewhere', async () => {
    const [a, b] = await startReplicas('a', 'b');
    const link = await newLink('doomed');
    const onB = watchOn(b);
    const doomed = await agent(link.tokenFile, [a]);
    await onB.until(link.id, (l) => l.state === LinkState.ONLINE && l.replicaId === 'a', 'online on a');
    const threadsOnB = threadClient(b.grpcUrl, userToken);
    const { thread } = await threadsOnB.createThread({});
    const marker = `doomed-${Math.floor(Math.random() * 1e6)}`;
    const { runId } = await threadsOnB.sendMessage({ threadId: thread!.id, text: `echo up; exec -a ${marker} sleep 300`, harness: 'shell', linkId: link.id });
    for await (const { event } of threadsOnB.watchRun({ runId }, { timeoutMs: 30_000 })) {
      if (event?.event.case === 'log') break;
    }
    // Replica a dies (with its LINK_LOST timer) and the machine goes with it.
    await a.process.stop('SIGKILL');
    await doomed.stop('SIGKILL');
    // The killed linkd's run is still running on the (gone) machine; it is no part of this test.
    spawnSync('pkill', ['--signal', 'KILL', '-f', marker]);
    const events = await collect(threadsOnB, runId, 0n, 60_000);
    const done = events.at(-1)!;
    assert.equal(done.event.case === 'done' && done.event.value.failureReason, 'LINK_LOST');
    assert.equal(events.filter((e) => e.event.case === 'done').length, 1);
  });

  it('heartbeats write nothing to etcd', async () => {
    const registry = new EtcdRegistry({ endpoints: [etcd.endpoint], replicaId: 'counted', leaseTtlSeconds: 5, log: createLogger({ name: 't', level: 'silent' }) });
    const env = await startTestServer({ registry, heartbeatIntervalMs: 100, helloTimeoutMs: 2_000 });
    const sessions: RawSession[] = [];
    let sent = 0;
    // Every session heartbeats from its first moment, five times per interval.
    const beat = setInterval(() => {
      for (const s of sessions) s.send({ frame: { case: 'heartbeat', value: { seq: BigInt(++sent) } } });
    }, 20);
    try {
      for (let i = 0; i < 10; i++) {
        const { token } = await env.store.createLink(env.user.id, `beating-${i}`);
        const s = new RawSession(env.grpcUrl, token, hello());
        sessions.push(s);
        await s.frame('welcome');
      }
      const before = etcd.revision();
      await delay(2_000);
      clearInterval(beat);
      assert.ok(sessions.every((s) => s.received.at(-1)?.frame.case === 'heartbeatAck'), 'every session is alive');
      const acked = sessions.reduce((n, s) => n + s.received.filter((r) => r.frame.case === 'heartbeatAck').length, 0);
      assert.ok(acked >= 200, `many heartbeats were exchanged (${acked})`);
      assert.equal(etcd.revision() - before, 0, 'no etcd write happened');
    } finally {
      clearInterval(beat);
      for (const s of sessions) await s.close();
      await env.close();
    }
  });
});
