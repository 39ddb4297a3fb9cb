/**
 * Runs through faults: connections cut mid-run, an agent that restarts without its run, a machine
 * that never comes back. Events stay complete, in order, exactly once; nothing waits forever.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunStatus, type RunEvent } from '../gen/link/v1/run_pb.js';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { spawnLinkd, type TestProcess } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { tempDir } from './helpers/temp.js';
import { collect, threadClient } from './helpers/runs.js';

function processesWith(marker: string): string[] {
  return execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => l.includes(marker) && !l.includes('ps -eo'));
}

describe('runs through faults', () => {
  let env: TestServer;
  const agents: TestProcess[] = [];
  const markers: string[] = [];

  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop('SIGKILL');
    for (const marker of markers.splice(0)) spawnSync('pkill', ['--signal', 'KILL', '-f', marker]);
    closeClients();
    await env.close();
  });

  async function agent(server: string, dataDir?: string) {
    const a = spawnLinkd(['start', '--server', server, '--token-file', env.linkTokenFile, '--data-dir', dataDir ?? (await tempDir('linkd-'))]);
    agents.push(a);
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      await watch.online(env.link.id, 20_000);
    } finally {
      await watch.close();
    }
    return a;
  }

  it('every event arrives once and in order while the agent\'s connection is cut again and again', async function () {
    // Each cut costs linkd a reconnect with backoff (capped, jittered); on a loaded machine that adds up.
    this.timeout(150_000);
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    const proxy = await TcpProxy.start(env.server.grpcPort);
    try {
      await agent(proxy.url);
      const threads = threadClient(env.grpcUrl, env.userToken);
      const { thread } = await threads.createThread({});
      const lines = 300;
      const { runId } = await threads.sendMessage({
        threadId: thread!.id,
        text: `for i in $(seq 1 ${lines}); do echo "line $i"; sleep 0.01; done`,
        harness: 'shell',
        linkId: env.link.id,
      });
      // Cut the connection at random moments while the run streams.
      const watching = collect(threads, runId, 0n, 120_000);
      let finished = false;
      void watching.finally(() => (finished = true));
      while (!finished && proxy.cuts < 8) {
        await new Promise((r) => setTimeout(r, 150 + Math.random() * 250));
        if (!finished) proxy.cutAll();
      }
      const events: RunEvent[] = await watching.catch(async (error) => {
        const sql = env.store.connection;
        const [run] = await sql`select state, last_seq::text, session_epoch::text from runs where id = ${runId}`;
        const [stored] = await sql`select count(*)::int as n, max(seq)::text as top from run_events where run_id = ${runId}`;
        throw new Error(`${error.message}; the database has run ${JSON.stringify(run)} and events ${JSON.stringify(stored)}`);
      });
      assert.ok(proxy.cuts >= 3, `the connection was cut ${proxy.cuts} times during the run`);
      assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => BigInt(i + 1)), 'seqs 1..n, no gap, no repeat');
      const texts = events.flatMap((e) => (e.event.case === 'log' ? [e.event.value.text] : []));
      assert.deepEqual(texts, Array.from({ length: lines }, (_, i) => `line ${i + 1}`), 'every line once, in order');
      assert.equal(events.filter((e) => e.event.case === 'done').length, 1);
      const done = events.at(-1)!;
      assert.equal(done.event.case === 'done' && done.event.value.status, RunStatus.COMPLETED);
      // A second watcher, after the fact, sees exactly the same.
      assert.deepEqual((await collect(threads, runId)).map((e) => e.seq), events.map((e) => e.seq));
    } finally {
      await proxy.close();
    }
  });

  it('an agent that restarts without the run: the run fails AGENT_RESTARTED and its processes are gone', async () => {
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    const dataDir = await tempDir('linkd-');
    const first = await agent(env.grpcUrl, dataDir);
    const threads = threadClient(env.grpcUrl, env.userToken);
    const { thread } = await threads.createThread({});
    const marker = `restart-${Math.floor(Math.random() * 1e6)}`;
    markers.push(marker);
    const { runId } = await threads.sendMessage({ threadId: thread!.id, text: `echo up; exec -a ${marker} sleep 300`, harness: 'shell', linkId: env.link.id });
    for await (const { event } of threads.watchRun({ runId }, { timeoutMs: 20_000 })) {
      if (event?.event.case === 'log') break;
    }
    await first.stop('SIGKILL');
    assert.equal(processesWith(marker).length, 1, 'the killed linkd left its run behind');
    await agent(env.grpcUrl, dataDir);
    const events = await collect(threads, runId);
    const done = events.at(-1)!;
    assert.equal(done.event.case === 'done' && done.event.value.status, RunStatus.FAILED);
    assert.equal(done.event.case === 'done' && done.event.value.failureReason, 'AGENT_RESTARTED');
    assert.deepEqual(processesWith(marker), [], 'the new linkd stopped what the old one left behind');
  });

  it('a machine that does not come back within the grace period: its run fails LINK_LOST', async () => {
    env = await startTestServer({ heartbeatIntervalMs: 300, linkLostGraceMs: 1_000 });
    const gone = await agent(env.grpcUrl);
    const threads = threadClient(env.grpcUrl, env.userToken);
    const { thread } = await threads.createThread({});
    const marker = `lost-${Math.floor(Math.random() * 1e6)}`;
    markers.push(marker);
    const { runId } = await threads.sendMessage({ threadId: thread!.id, text: `echo up; exec -a ${marker} sleep 300`, harness: 'shell', linkId: env.link.id });
    for await (const { event } of threads.watchRun({ runId }, { timeoutMs: 20_000 })) {
      if (event?.event.case === 'log') break;
    }
    await gone.stop('SIGKILL');
    const events = await collect(threads, runId, 0n, 20_000);
    const done = events.at(-1)!;
    assert.equal(done.event.case === 'done' && done.event.value.failureReason, 'LINK_LOST');
    assert.equal(events.filter((e) => e.event.case === 'done').length, 1);
  });

  it('a run with no output for the idle timeout is stopped, however long it has run before', async () => {
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    const quiet = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-'), '--idle-timeout', '1500']);
    agents.push(quiet);
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    await watch.online(env.link.id);
    await watch.close();
    const threads = threadClient(env.grpcUrl, env.userToken);
    const { thread } = await threads.createThread({});
    // Output every half second for three seconds (longer than the idle timeout), then silence.
    const { runId } = await threads.sendMessage({
      threadId: thread!.id,
      text: 'for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.5; done; sleep 60; echo never',
      harness: 'shell',
      linkId: env.link.id,
    });
    const events = await collect(threads, runId, 0n, 30_000);
    const ticks = events.filter((e) => e.event.case === 'log' && e.event.value.text.startsWith('tick'));
    assert.equal(ticks.length, 6, 'a run that keeps talking is not stopped, however long it runs');
    const done = events.at(-1)!;
    assert.equal(done.event.case === 'done' && done.event.value.failureReason, 'IDLE_TIMEOUT');
    assert.equal(done.event.case === 'done' && done.event.value.status, RunStatus.FAILED);
  });

  it('a claim lost in a database crash after its DispatchRun went out: the machine runs the run once and its output is stored', async function () {
    this.timeout(60_000);
    env = await startTestServer({ heartbeatIntervalMs: 2_000 });
    const dir = await tempDir('lost-claim-');
    const machine = await agent(env.grpcUrl);
    const threads = threadClient(env.grpcUrl, env.userToken);
    const { thread } = await threads.createThread({});
    // linkd is stopped, so nothing it answers is stored before the crash (any later commit that
    // waits for its flush would have made the claim durable).
    machine.child.kill('SIGSTOP');
    let runId = '';
    try {
      ({ runId } = await threads.sendMessage({ threadId: thread!.id, text: `echo ran >> ${dir}/starts; echo output`, harness: 'shell', linkId: env.link.id }));
      const sql = env.store.connection;
      const deadline = Date.now() + 20_000;
      while ((await sql`select state from runs where id = ${runId}`)[0].state !== 'dispatched') {
        assert.ok(Date.now() < deadline, 'the run was never claimed');
        await new Promise((r) => setTimeout(r, 20));
      }
      // The database comes back from a crash that lost the claim: the run is queued again.
      await sql`update runs set state = 'queued', session_epoch = null, dispatched_at = null where id = ${runId}`;
    } finally {
      machine.child.kill('SIGCONT');
    }
    const events = await collect(threads, runId, 0n, 30_000);
    assert.equal(readFileSync(join(dir, 'starts'), 'utf8'), 'ran\n', 'the run started once on the machine');
    assert.deepEqual(events.flatMap((e) => (e.event.case === 'log' ? [e.event.value.text] : [])), ['output']);
    assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => BigInt(i + 1)));
    const done = events.at(-1)!;
    assert.equal(done.event.case === 'done' && done.event.value.status, RunStatus.COMPLETED);
  });
});
