/**
 * Presence tells "asleep" from "offline": a real linkd whose power monitor (LINKD_POWER_EVENTS_COMMAND,
 * a script speaking `gdbus monitor`'s format) reports the machine going to sleep is ASLEEP once its
 * session ends, and ONLINE again, the sleep forgotten, when it wakes; a linkd that just loses its
 * connection is OFFLINE. A machine's queued runs count in `queued_messages`. Bad PowerChanged frames
 * end only the session that sent them.
 */
import assert from 'node:assert/strict';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { timestampDate, timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { Client } from '@connectrpc/connect';
import { reasonOf } from '../common/errors.js';
import type { ThreadService } from '../gen/link/v1/thread_service_pb.js';
import { LinkState, type Link } from '../gen/link/v1/types_pb.js';
import { closeClients, Code, hello, linkClient, LinkWatch, RawSession } from './helpers/clients.js';
import { runLinkd, spawnLinkd, type TestProcess } from './helpers/processes.js';
import { collect, threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { tempDir } from './helpers/temp.js';

const SLEEP = '/org/freedesktop/login1: org.freedesktop.login1.Manager.PrepareForSleep (true,)';
const WAKE = '/org/freedesktop/login1: org.freedesktop.login1.Manager.PrepareForSleep (false,)';

describe('presence: asleep, offline, and what waits for a machine', () => {
  let env: TestServer;
  let proxy: TcpProxy;
  let agent: TestProcess;
  let watch: LinkWatch;
  let threads: Client<typeof ThreadService>;
  let eventsDir: string;
  let dataDir: string;
  let nextEvent = 1;

  /**
   * The OS says something: the monitor script prints the line (after its banner and garbage). The
   * file appears whole (written aside, then renamed): the script must never see it empty.
   */
  async function os(line: string): Promise<void> {
    const name = `event-${nextEvent++}`;
    await writeFile(join(eventsDir, `.${name}`), `${line}\n`);
    await rename(join(eventsDir, `.${name}`), join(eventsDir, name));
  }

  const link = (): Link => watch.links.get(env.link.id)!;

  before(async () => {
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    proxy = await TcpProxy.start(Number(new URL(env.grpcUrl).port));
    eventsDir = await tempDir('power-events-');
    dataDir = await tempDir('linkd-');
    const script = join(eventsDir, 'monitor.sh');
    // Like `gdbus monitor`: a banner, then one line per signal (here: whenever the test drops a file).
    await writeFile(
      script,
      [
        'echo "Monitoring signals from all objects owned by org.freedesktop.login1"',
        'echo "garbage ((( PrepareForSleep (maybe,)"',
        'n=1',
        'while :; do',
        `  if [ -e "${eventsDir}/event-$n" ]; then cat "${eventsDir}/event-$n"; n=$((n+1)); else sleep 0.05; fi`,
        'done',
        '',
      ].join('\n'),
    );
    agent = spawnLinkd(['start', '--server', proxy.url, '--token-file', env.linkTokenFile, '--data-dir', dataDir, '--max-concurrent-runs', '1'], {
      LINKD_POWER_EVENTS_COMMAND: `sh ${script}`,
    });
    watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    await watch.online(env.link.id);
    threads = threadClient(env.grpcUrl, env.userToken);
  });

  after(async () => {
    await agent?.stop();
    await watch?.close();
    await proxy?.close();
    closeClients();
    await env?.close();
  });

  it('a machine that said it goes to sleep is ASLEEP once its session ends, ONLINE again when it wakes; one that just lost its connection is OFFLINE', async () => {
    // No word about sleep: a lost connection is OFFLINE.
    proxy.block();
    const offline = await watch.offline(env.link.id);
    assert.equal(offline.asleepSince, undefined);
    proxy.unblock();
    await watch.online(env.link.id, 40_000);

    const before = Date.now();
    await os(SLEEP);
    // The word arrives on the live session (the machine has not slept yet).
    await watch.until(env.link.id, (l) => l.state === LinkState.ONLINE && l.asleepSince !== undefined, 'told it goes to sleep');
    // The machine sleeps: its connection dies.
    proxy.block();
    const asleep = await watch.until(env.link.id, (l) => l.state === LinkState.ASLEEP, 'asleep');
    const since = timestampDate(asleep.asleepSince!).getTime();
    assert.ok(since >= before - 1000 && since <= Date.now(), `asleep since ${new Date(since).toISOString()}`);
    const { links } = await linkClient(env.grpcUrl, env.userToken).listLinks({});
    const listed = links.find((l) => l.id === env.link.id)!;
    assert.equal(listed.state, LinkState.ASLEEP);
    assert.deepEqual(listed.asleepSince, asleep.asleepSince);

    // It wakes: linkd reconnects at once (its backoff cut short) and the sleep is forgotten.
    proxy.unblock();
    await os(WAKE);
    const awake = await watch.until(env.link.id, (l) => l.state === LinkState.ONLINE && l.asleepSince === undefined, 'awake and online');
    assert.equal(awake.asleepSince, undefined);
    const got = (await linkClient(env.grpcUrl, env.userToken).getLink({ linkId: env.link.id })).link!;
    assert.equal(got.state, LinkState.ONLINE);
    assert.equal(got.asleepSince, undefined);

    // A wake while connected: the session is presumed dead (a suspend rarely leaves TCP alive), so
    // linkd dials a new one at once rather than wait for the heartbeat timeout.
    const epoch = got.sessionEpoch;
    await os(WAKE);
    await watch.until(env.link.id, (l) => l.state === LinkState.ONLINE && l.sessionEpoch > epoch, 'reconnected after the wake');

    const status = await runLinkd(['status', '--data-dir', dataDir]);
    assert.match(status.output, /last power event: woke up at .* \(test\)/);
  });

  it('a queued run counts as waiting for its machine (queued_messages), and stops counting once it runs', async () => {
    const first = (await threads.createThread({})).thread!.id;
    const second = (await threads.createThread({})).thread!.id;
    const long = await threads.sendMessage({ threadId: first, text: 'echo started; sleep 60', harness: 'shell', linkId: env.link.id });
    // Its first event: it runs, holding the machine's one slot.
    for await (const _ of threads.watchRun({ runId: long.runId, afterSeq: 0n }, { timeoutMs: 20_000 })) break;
    // The machine runs one at a time: the second thread's run waits for the slot.
    const waiting = await threads.sendMessage({ threadId: second, text: 'echo later', harness: 'shell', linkId: env.link.id });
    const queued = await watch.until(env.link.id, (l) => l.queuedMessages === 1, 'one queued');
    assert.equal(queued.state, LinkState.ONLINE);
    const { links } = await linkClient(env.grpcUrl, env.userToken).listLinks({});
    assert.equal(links.find((l) => l.id === env.link.id)!.queuedMessages, 1);
    assert.equal((await linkClient(env.grpcUrl, env.userToken).getLink({ linkId: env.link.id })).link!.queuedMessages, 1);

    await threads.cancelRun({ runId: long.runId });
    const events = await collect(threads, waiting.runId);
    assert.equal(events.at(-1)?.event.case, 'done');
    await watch.until(env.link.id, (l) => l.queuedMessages === 0, 'nothing queued');
  });

  it('bad PowerChanged frames end only their own session; nothing is stored; a time outside the session is the server\'s', async () => {
    const other = await env.store.createLink(env.user.id, 'fake machine');
    const bad = [
      { asleep: true, source: 'x'.repeat(33) },
      { asleep: true, source: 'nul\0byte' },
      { asleep: true, at: { seconds: 1n, nanos: 2_000_000_000 } },
      { asleep: true, at: { seconds: 10n ** 15n, nanos: 0 } },
    ];
    for (const value of bad) {
      const session = new RawSession(env.grpcUrl, other.token, hello({ machineId: 'fake-machine' }));
      await session.frame('welcome');
      session.send({ frame: { case: 'powerChanged', value } });
      const error = await session.end();
      assert.equal(error?.code, Code.InvalidArgument, JSON.stringify(String(value.source ?? value.at?.seconds)));
      assert.equal(reasonOf(error!), 'INVALID_FIELD');
    }
    const stored = (await linkClient(env.grpcUrl, env.userToken).getLink({ linkId: other.link.id })).link!;
    assert.equal(stored.state, LinkState.OFFLINE);
    assert.equal(stored.asleepSince, undefined);

    // A valid frame with a clock far ahead: believed as "now" (the server's), never a future time.
    const session = new RawSession(env.grpcUrl, other.token, hello({ machineId: 'fake-machine' })).keepAlive(100);
    await session.frame('welcome');
    session.send({ frame: { case: 'powerChanged', value: { asleep: true, at: timestampFromMs(Date.now() + 3600_000), source: 'test' } } });
    const told = await watch.until(other.link.id, (l) => l.asleepSince !== undefined, 'told it goes to sleep');
    assert.ok(timestampDate(told.asleepSince!).getTime() <= Date.now());
    await session.close();
    await watch.until(other.link.id, (l) => l.state === LinkState.ASLEEP, 'asleep');
    // The real machine was never disturbed.
    assert.equal(link().state, LinkState.ONLINE);
  });
});
