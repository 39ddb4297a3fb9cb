/**
 * The link session end to end: real linkd processes against a control plane on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CredentialsState, LinkState, SandboxProviderKind } from '../gen/link/v1/types_pb.js';
import { create } from '@bufbuild/protobuf';
import { LinkConnection, type ConnectionState } from '../agent/connection.js';
import { Backoff } from '../common/backoff.js';
import { createLogger } from '../common/log.js';
import { CapabilitiesSchema } from '../gen/link/v1/types_pb.js';
import { closeClients, hello, linkClient, LinkWatch, RawSession } from './helpers/clients.js';
import { spawnLinkd, type TestProcess } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

describe('the link session', () => {
  let env: TestServer;
  let watch: LinkWatch;
  const agents: TestProcess[] = [];

  async function startLinkd(options: { dataDir?: string; server?: string; tokenFile?: string } = {}) {
    const agent = spawnLinkd([
      'start',
      '--server', options.server ?? env.grpcUrl,
      '--token-file', options.tokenFile ?? env.linkTokenFile,
      '--data-dir', options.dataDir ?? (await tempDir('linkd-')),
    ]);
    agents.push(agent);
    return agent;
  }

  afterEach(async () => {
    for (const agent of agents.splice(0)) await agent.stop('SIGKILL');
    await watch?.close();
    closeClients();
    await env?.close();
  });

  it('a linkd that connects is listed and watched as online, with its capabilities', async () => {
    env = await startTestServer();
    watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    await startLinkd();

    const watched = await watch.online(env.link.id);
    const shell = watched.capabilities?.harnesses.find((h) => h.name === 'shell');
    assert.equal(shell?.installed, true, 'the shell harness is found on any machine');
    for (const name of ['claude-code', 'codex', 'gemini']) {
      assert.ok(watched.capabilities?.harnesses.some((h) => h.name === name), `${name} is reported, installed or not`);
    }
    assert.ok(watched.capabilities?.tools.some((t) => t.name === 'git' && t.installed), 'git is found');
    assert.ok(watched.capabilities?.sandboxProviders.some((p) => p.kind === SandboxProviderKind.DIRECTORY && p.available));
    assert.ok(watched.connectedAt, 'connected since is set');
    assert.notEqual(watched.machineId, '');

    const { links } = await linkClient(env.grpcUrl, env.userToken).listLinks({});
    const listed = links.find((l) => l.id === env.link.id);
    assert.equal(listed?.state, LinkState.ONLINE);
    assert.equal(listed?.hostname, watched.hostname);
    assert.equal(listed?.capabilities?.harnesses.length, watched.capabilities?.harnesses.length);
  });

  it('a linkd stopped with SIGTERM says goodbye and goes offline at once', async () => {
    // Heartbeats so slow that only the Goodbye can take the link offline within the deadline.
    env = await startTestServer({ heartbeatIntervalMs: 60_000 });
    watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    const agent = await startLinkd();
    await watch.online(env.link.id);

    await agent.stop('SIGTERM');
    const { code } = await agent.exited;
    assert.equal(code, 0, 'linkd exits cleanly');
    const offline = await watch.offline(env.link.id, 5_000);
    assert.ok(offline.lastSeenAt, 'an offline link says when it was last seen');
    assert.equal(offline.capabilities?.harnesses.find((h) => h.name === 'shell')?.installed, true, 'the last capabilities are kept');
  });

  it('a SIGKILLed linkd goes offline', async () => {
    env = await startTestServer({ heartbeatIntervalMs: 200 });
    watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    const agent = await startLinkd();
    await watch.online(env.link.id);
    await agent.stop('SIGKILL');
    await watch.offline(env.link.id, 3_000);
  });

  it('a linkd that silently stops heartbeating goes offline within three intervals', async () => {
    env = await startTestServer({ heartbeatIntervalMs: 200 });
    watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    const agent = await startLinkd();
    await watch.online(env.link.id);
    // SIGSTOP freezes the process: its TCP connection stays open, only the heartbeats stop.
    agent.child.kill('SIGSTOP');
    try {
      await watch.offline(env.link.id, 3_000);
    } finally {
      agent.child.kill('SIGCONT');
    }
  });

  it('a second session of the same link supersedes the first, and the first stops for good', async () => {
    env = await startTestServer();
    watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    const first = await startLinkd();
    const firstOnline = await watch.online(env.link.id);

    const second = await startLinkd();
    const { code } = await first.waitForExit(10_000);
    assert.equal(code, 1, 'the superseded linkd exits with an error');
    assert.match(first.output, /superseded/i);
    assert.match(first.output, /took over/);

    // The watch may show the old session a moment after the first linkd was told: two streams.
    const now = await watch.until(env.link.id, (l) => l.state === LinkState.ONLINE && l.sessionEpoch > firstOnline.sessionEpoch, 'online in the newer session');
    assert.notEqual(now.machineId, firstOnline.machineId, 'it is the second machine');
    assert.ok(second.running, 'the newer linkd keeps running');
  });

  it('a session superseded by a late attempt of the same linkd (one it gave up on) reconnects instead of stopping', async () => {
    env = await startTestServer();
    watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    const states: ConnectionState[] = [];
    const connection = new LinkConnection({
      servers: [env.grpcUrl],
      tokenFile: env.linkTokenFile,
      machineId: 'machine-1',
      instanceId: 'instance-1',
      capabilities: () => create(CapabilitiesSchema),
      log: createLogger({ name: 'test', level: 'silent' }),
      backoff: new Backoff(50, 200),
    });
    connection.on('state', (state: ConnectionState) => states.push(state));
    const running = connection.run();
    let late: RawSession | undefined;
    try {
      const first = await watch.online(env.link.id);
      // What the server does with an attempt it set up after linkd had given up on it.
      late = new RawSession(env.grpcUrl, env.linkToken, hello({ machineId: 'machine-1', instanceId: 'instance-1' }));
      const lateEpoch = ((await late.frame('welcome')).frame.value as { sessionEpoch: bigint }).sessionEpoch;
      assert.ok(lateEpoch > first.sessionEpoch);
      // linkd's session is superseded by it, and linkd comes back (superseding the stray one in turn).
      const back = await watch.until(env.link.id, (l) => l.state === LinkState.ONLINE && l.sessionEpoch > lateEpoch, 'linkd back online');
      assert.ok(back.sessionEpoch > lateEpoch);
      assert.equal((await late.end())?.rawMessage.includes('newer session'), true);
      // (The registry can show the new session a moment before linkd has read its Welcome; and on a
      // busy machine the first session can be superseded before linkd got to call itself connected.)
      const cameBack = () => states.some((s) => s.state === 'waiting') && states.at(-1)?.state === 'connected';
      const deadline = Date.now() + 10_000;
      while (!cameBack() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(cameBack(), `it was cut off and connected again: ${states.map((s) => s.state).join(' → ')}`);
      assert.ok(!states.some((s) => s.state === 'stopped'), `linkd did not stop: ${states.map((s) => s.state).join(' → ')}`);
    } finally {
      await late?.close();
      await connection.close('test over');
    }
    assert.equal((await running).kind, 'stopped');
  });

  it('closing a connection twice waits for the first close: both resolve once the session has ended', async () => {
    env = await startTestServer({ heartbeatIntervalMs: 60_000 });
    watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    const connection = new LinkConnection({
      servers: [env.grpcUrl],
      tokenFile: env.linkTokenFile,
      machineId: 'machine-1',
      instanceId: 'instance-1',
      capabilities: () => create(CapabilitiesSchema),
      log: createLogger({ name: 'test', level: 'silent' }),
    });
    const running = connection.run();
    await watch.online(env.link.id);
    let firstDone = false;
    const first = connection.close('stopping').then(() => (firstDone = true));
    // A second signal while the first close waits for the server (linkd then exits): it must wait too.
    await connection.close('stopping again');
    assert.equal(firstDone, true, 'the second close resolved only with the first');
    await first;
    assert.equal((await running).kind, 'stopped');
    await watch.offline(env.link.id, 5_000);
  });

  it('linkd comes back by itself when the server restarts', async () => {
    env = await startTestServer({ heartbeatIntervalMs: 200 });
    const { databaseUrl } = env;
    const grpcPort = env.server.grpcPort;
    const linkId = env.link.id;
    const agent = await startLinkd();
    watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    await watch.online(env.link.id);
    await watch.close();
    closeClients();
    await env.close();

    // The same database and port: the agent's token is still valid there.
    env = await startTestServer({ databaseUrl, grpcPort });
    watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    await watch.online(linkId, 20_000).catch((error) => {
      throw new Error(`${error.message}\n${agent.tail()}`);
    });
    assert.ok(agent.running);
    assert.match(agent.output, /will retry in/, 'linkd backed off while the server was away');
  });

  it('a draining server sends its agents to another server in linkd\'s list', async () => {
    env = await startTestServer({ heartbeatIntervalMs: 200 });
    // A second replica with its own registry, on the same database.
    const other = await startTestServer({ databaseUrl: env.databaseUrl, heartbeatIntervalMs: 200 });
    try {
      const agent = await startLinkd({ server: `${env.grpcUrl},${other.grpcUrl}` });
      watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
      await watch.online(env.link.id);
      const otherWatch = new LinkWatch(linkClient(other.grpcUrl, other.userToken));
      try {
        await env.close();
        await otherWatch.online(env.link.id, 15_000);
        assert.match(agent.output, /draining/);
      } finally {
        await otherWatch.close();
      }
    } finally {
      await other.close();
    }
  });

  it('linkd with a token the server does not know stops and says to pair again', async () => {
    env = await startTestServer();
    const dataDir = await tempDir('linkd-');
    const tokenFile = join(dataDir, 'token');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(tokenFile, 'll_not-a-real-token\n');
    const agent = await startLinkd({ tokenFile });
    const { code } = await agent.waitForExit(10_000);
    assert.equal(code, 1);
    assert.match(agent.output, /refused this machine's link token/);
    assert.match(agent.output, /linkd login/);
    assert.doesNotMatch(agent.output, /ll_not-a-real-token/, 'the token never reaches the log');
  });

  it('reports the credentials state of each harness it finds', async () => {
    env = await startTestServer();
    watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    await startLinkd();
    const link = await watch.online(env.link.id);
    for (const harness of link.capabilities?.harnesses ?? []) {
      if (!harness.installed && harness.name !== 'shell') {
        assert.equal(harness.credentials, CredentialsState.UNSPECIFIED, `${harness.name} is not installed, so no credentials state`);
        assert.match(harness.detail, /not on PATH/);
      }
    }
  });
});
