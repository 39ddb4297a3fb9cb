/**
 * Operating Link: Prometheus metrics on the control plane and on linkd move as links connect and
 * runs execute; /readyz follows the database; and no secret ever reaches a log.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../common/net.js';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { freshDatabase } from './helpers/postgres.js';
import { delay, spawnLinkd } from './helpers/processes.js';
import { collect, sandboxClient, threadClient } from './helpers/runs.js';
import { startTestServer } from './helpers/server.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { tempDir } from './helpers/temp.js';

/** One sample of a series from Prometheus text, matching all `labels`; 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_:]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(match[3]);
  }
  return total;
}

describe('observability', () => {
  afterEach(() => closeClients());

  it('/metrics on both sides moves as a link connects and a run executes', async () => {
    const env = await startTestServer({ heartbeatIntervalMs: 200 });
    const metricsPort = await freePort();
    const agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-'), '--metrics-port', String(metricsPort)]);
    try {
      const scrape = async () => (await fetch(`${env.httpUrl}/metrics`)).text();
      const before = await scrape();
      assert.equal(sample(before, 'link_server_links_connected'), 0);
      assert.ok(sample(before, 'link_server_process_cpu_user_seconds_total') > 0, 'Node\'s default metrics are there');

      const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
      await watch.online(env.link.id).finally(() => watch.close());
      const threads = threadClient(env.grpcUrl, env.userToken);
      const { thread } = await threads.createThread({});
      const { runId } = await threads.sendMessage({ threadId: thread!.id, text: 'echo one; echo two', harness: 'shell', linkId: env.link.id });
      const events = await collect(threads, runId);
      await delay(600); // a few more heartbeats

      const after = await scrape();
      assert.equal(sample(after, 'link_server_links_connected'), 1);
      assert.equal(sample(after, 'link_server_sessions_opened_total'), 1);
      assert.ok(sample(after, 'link_server_heartbeats_total') >= 2, 'heartbeats are counted');
      assert.equal(sample(after, 'link_server_dispatch_latency_seconds_count'), 1);
      assert.equal(sample(after, 'link_server_runs_finished_total', { state: 'completed' }), 1);
      assert.equal(sample(after, 'link_server_run_events_stored_total'), events.length);
      assert.ok(sample(after, 'link_server_notification_lag_seconds_count', { channel: 'run_event' }) >= 1);

      const local = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      assert.equal(sample(local, 'linkd_connected'), 1);
      assert.equal(sample(local, 'linkd_runs_started_total', { harness: 'shell' }), 1);
      assert.equal(sample(local, 'linkd_runs_finished_total', { status: 'completed' }), 1);
      assert.equal(sample(local, 'linkd_run_events_total'), events.length);

      await agent.stop();
      const gone = await scrape();
      assert.equal(sample(gone, 'link_server_links_connected'), 0);
      assert.equal(sample(gone, 'link_server_sessions_closed_total'), 1);
    } finally {
      await agent.stop();
      await env.close();
    }
  });

  it('/readyz says not ready while the database is unreachable, and ready again when it is back', async () => {
    const url = new URL(await freshDatabase());
    const proxy = await TcpProxy.start(Number(url.port));
    url.port = String(proxy.port);
    const env = await startTestServer({ databaseUrl: url.toString() });
    try {
      const readyz = async () => {
        const response = await fetch(`${env.httpUrl}/readyz`);
        return { status: response.status, body: await response.text() };
      };
      assert.equal((await readyz()).status, 200);
      proxy.block();
      const down = await readyz();
      assert.equal(down.status, 503);
      assert.match(down.body, /database/);
      proxy.unblock();
      const deadline = Date.now() + 20_000;
      while ((await readyz()).status !== 200) {
        assert.ok(Date.now() < deadline, '/readyz did not recover');
        await delay(200);
      }
      assert.ok(sample(await (await fetch(`${env.httpUrl}/metrics`)).text(), 'link_server_database_errors_total') >= 1);
    } finally {
      await env.close();
      await proxy.close();
    }
  });

  it('no secret reaches a log: user and link tokens, pairing codes, the dispatch key', async () => {
    const lines: string[] = [];
    const env = await startTestServer({ heartbeatIntervalMs: 200, logTo: { write: (line: string) => void lines.push(line) } });
    const dataDir = await tempDir('linkd-');
    const tokenFile = join(dataDir, 'token');
    let agent: ReturnType<typeof spawnLinkd> | undefined;
    try {
      const { code } = await linkClient(env.grpcUrl, env.userToken).startPairing({ linkName: 'secret-test' });
      const login = spawnLinkd(['login', '--server', env.grpcUrl, '--code', code, '--token-file', tokenFile, '--data-dir', dataDir]);
      assert.equal((await login.waitForExit(20_000)).code, 0, login.output);
      agent = spawnLinkd(['start', '--token-file', tokenFile, '--data-dir', dataDir, '--log-level', 'trace']);
      const linkToken = (await readFile(tokenFile, 'utf8')).trim();
      const linkId = JSON.parse(await readFile(join(dataDir, 'link.json'), 'utf8')).linkId as string;
      const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
      await watch.online(linkId).finally(() => watch.close());
      const threads = threadClient(env.grpcUrl, env.userToken);
      const { thread } = await threads.createThread({});
      const { runId } = await threads.sendMessage({ threadId: thread!.id, text: 'echo hello', harness: 'shell', linkId });
      await collect(threads, runId);
      await sandboxClient(env.grpcUrl, env.userToken).ensureSandbox({ linkId, provider: 'directory', branch: 'x' });
      // A wrong token and a bad login are logged too: they must not carry the token either.
      await fetch(`${env.httpUrl}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: env.userToken }) });
      await agent.stop();

      const { privateKey } = await env.store.dispatchKey();
      const der = privateKey.export({ format: 'der', type: 'pkcs8' });
      const secrets: Record<string, string> = {
        'user token': env.userToken,
        'link token': linkToken,
        'pairing code': code,
        'dispatch key (pkcs8, base64)': der.toString('base64'),
        'dispatch key (seed, base64)': der.subarray(-32).toString('base64'),
        'dispatch key (seed, hex)': der.subarray(-32).toString('hex'),
      };
      const logs = { server: lines.join(''), linkd: `${login.output}\n${agent.output}` };
      assert.ok(logs.server.length > 1_000 && logs.linkd.length > 1_000, 'there are logs to search');
      for (const [what, value] of Object.entries(secrets)) {
        if (!value || value.length < 8) continue;
        for (const [whose, text] of Object.entries(logs)) assert.equal(text.includes(value), false, `the ${what} appears in the ${whose} logs`);
      }
    } finally {
      await agent?.stop();
      await env.close();
    }
  });
});
