/**
 * The LINK_LOST grace is measured from when a run lost its machine, not from when it started: a
 * long run rides out short network outages with every event, and one whose machine stays away
 * fails LINK_LOST once the grace has passed, never sooner. Real linkd, real Postgres, a TCP proxy
 * that plays the outage.
 */
import assert from 'node:assert/strict';
import { RunState, RunStatus, type RunEvent } from '../gen/link/v1/run_pb.js';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { delay, spawnLinkd, type TestProcess } from './helpers/processes.js';
import { collect, threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { tempDir } from './helpers/temp.js';

const GRACE_MS = 3_000;

describe('LINK_LOST is counted from when the machine went away', () => {
  let env: TestServer;
  let proxy: TcpProxy;
  let agent: TestProcess;

  beforeEach(async () => {
    env = await startTestServer({ heartbeatIntervalMs: 300, linkLostGraceMs: GRACE_MS });
    proxy = await TcpProxy.start(env.server.grpcPort);
    // --stop-grace 0: stopping linkd cancels its runs at once, so no harness outlives the test.
    agent = spawnLinkd(['start', '--server', proxy.url, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-'), '--stop-grace', '0']);
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      await watch.online(env.link.id, 20_000);
    } finally {
      await watch.close();
    }
  });

  afterEach(async () => {
    proxy.release();
    await agent.stop();
    await proxy.close();
    closeClients();
    await env.close();
  });

  /** Starts a shell run printing `lines` lines, one every 100 ms, and follows it from the server's side. */
  async function streamingRun(lines: number) {
    const threads = threadClient(env.grpcUrl, env.userToken);
    const { thread } = await threads.createThread({});
    const { runId } = await threads.sendMessage({
      threadId: thread!.id,
      text: `for i in $(seq 1 ${lines}); do echo "line $i"; sleep 0.1; done`,
      harness: 'shell',
      linkId: env.link.id,
    });
    const seen: RunEvent[] = [];
    let wake = () => undefined as void;
    let ended = false;
    const following = (async () => {
      try {
        for await (const { event } of threads.watchRun({ runId }, { timeoutMs: 90_000 })) {
          if (event) seen.push(event);
          wake();
        }
      } finally {
        ended = true;
        wake();
      }
    })();
    /** Resolves once `n` lines were seen. */
    const linesSeen = async (n: number) => {
      while (seen.filter((e) => e.event.case === 'log').length < n) {
        if (ended) throw new Error(`the run ended after ${seen.length} events: ${JSON.stringify(seen.at(-1)?.event.value)}`);
        await new Promise<void>((resolve) => (wake = resolve));
      }
    };
    const state = async () => (await threads.listRuns({ threadId: thread!.id })).runs[0].state;
    return { threads, runId, seen, following, linesSeen, state };
  }

  it('a run older than the grace rides out outages shorter than the grace, with every event once', async function () {
    this.timeout(90_000);
    const lines = 120;
    const run = await streamingRun(lines);
    // Past the grace period of run time, then three outages of half the grace each.
    for (const at of [40, 65, 90]) {
      await run.linesSeen(at);
      proxy.hold();
      await delay(GRACE_MS / 2);
      proxy.release();
    }
    await run.following;
    const events = run.seen;
    assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => BigInt(i + 1)), 'seqs 1..n, no gap, no repeat');
    const texts = events.flatMap((e) => (e.event.case === 'log' ? [e.event.value.text] : []));
    assert.deepEqual(texts, Array.from({ length: lines }, (_, i) => `line ${i + 1}`), 'every line once, in order');
    const done = events.at(-1)!;
    assert.equal(done.event.case === 'done' && done.event.value.status, RunStatus.COMPLETED, JSON.stringify(done.event.value));
    assert.deepEqual((await collect(run.threads, run.runId)).map((e) => e.seq), events.map((e) => e.seq), 'a later watcher sees the same');
  });

  it('a run whose machine stays away fails LINK_LOST once the grace has passed, not before', async function () {
    this.timeout(90_000);
    const run = await streamingRun(600);
    await run.linesSeen(40);
    const awaySince = Date.now();
    proxy.hold();
    // Well inside the grace period, the run is still waiting for its machine.
    await delay(GRACE_MS / 2);
    assert.equal(await run.state(), RunState.RUNNING, 'half the grace after the machine went away, the run still runs');
    await run.following;
    const failedAfter = Date.now() - awaySince;
    const done = run.seen.at(-1)!;
    assert.equal(done.event.case === 'done' && done.event.value.failureReason, 'LINK_LOST');
    assert.equal(await run.state(), RunState.FAILED);
    assert.ok(failedAfter >= GRACE_MS, `failed ${failedAfter} ms after the machine went away, before the grace of ${GRACE_MS} ms`);
    assert.equal(run.seen.filter((e) => e.event.case === 'done').length, 1);
  });
});
