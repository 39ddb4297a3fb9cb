/**
 * Catch-up after the LISTEN connection drops, tested the way postgres.js tests itself: the
 * listening backend killed (`pg_terminate_backend`), and Postgres down for several seconds. A run
 * queued, a cancel and a sandbox operation sent while a replica did not listen each reach the
 * machine once it listens again, with no later trigger; `/readyz` is 503 while LISTEN does not hold.
 * Real linkd, a real server, a real Postgres.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { create, toBinary } from '@bufbuild/protobuf';
import type { Client } from '@connectrpc/connect';
import type { Sql } from 'postgres';
import { SandboxRequestSchema } from '../gen/link/v1/link_service_pb.js';
import { RunStatus, type RunEvent } from '../gen/link/v1/run_pb.js';
import type { ThreadService } from '../gen/link/v1/thread_service_pb.js';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { DatabaseAdmin, freshDatabase, startRestartablePostgres, type RestartablePostgres } from './helpers/postgres.js';
import { spawnLinkd, type TestProcess } from './helpers/processes.js';
import { collect, sandboxClient, threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { tempDir } from './helpers/temp.js';

describe('notifications missed while LISTEN was down', () => {
  let env: TestServer | undefined;
  let agent: TestProcess | undefined;
  let admin: DatabaseAdmin | undefined;
  let pg: RestartablePostgres | undefined;
  let proxy: TcpProxy | undefined;

  afterEach(async () => {
    await admin?.end();
    admin = undefined;
    await agent?.stop();
    agent = undefined;
    closeClients();
    proxy?.unblock();
    await env?.close();
    env = undefined;
    await proxy?.close();
    proxy = undefined;
    await pg?.stop();
    pg = undefined;
  });

  /** Holds `server`'s LISTEN down while `act` runs (the test's own connection is `admin.sql`). */
  const whileNotListening = (server: TestServer, act: (sql: Sql) => Promise<void>) => (admin ??= new DatabaseAdmin(server.databaseUrl)).whileNotListening(act);

  async function startAgent(server: TestServer): Promise<void> {
    agent = spawnLinkd(['start', '--server', server.grpcUrl, '--token-file', server.linkTokenFile, '--data-dir', await tempDir('linkd-')]);
    const watch = new LinkWatch(linkClient(server.grpcUrl, server.userToken));
    try {
      await watch.online(server.link.id, 20_000);
    } finally {
      await watch.close();
    }
  }

  /** A thread whose first run finished (so it has its pins and its sandbox), and a run that keeps running. */
  async function threadsWithRuns(server: TestServer, threads: Client<typeof ThreadService>) {
    const { thread: done } = await threads.createThread({});
    const first = await threads.sendMessage({ threadId: done!.id, text: 'echo first', harness: 'shell', linkId: server.link.id });
    assert.equal(lastStatus(await collect(threads, first.runId)), RunStatus.COMPLETED);
    const { thread: busy } = await threads.createThread({});
    const long = await threads.sendMessage({ threadId: busy!.id, text: 'echo started; sleep 120', harness: 'shell', linkId: server.link.id });
    for await (const { event } of threads.watchRun({ runId: long.runId }, { timeoutMs: 30_000 })) {
      if (event?.event.case === 'log' && event.event.value.text === 'started') break;
    }
    return { threadId: done!.id, longRunId: long.runId };
  }

  it('the listening backend is killed: a run, a cancel and a sandbox operation sent before it listens again are each delivered', async function () {
    this.timeout(120_000);
    env = await startTestServer({ heartbeatIntervalMs: 300 });
    const threads = threadClient(env.grpcUrl, env.userToken);
    await startAgent(env);
    const { threadId, longRunId } = await threadsWithRuns(env, threads);

    let runId = '';
    let opId = '';
    await whileNotListening(env, async (sql) => {
      // Sent the way the services send them, while nothing of this replica listens.
      runId = await queueRun(sql, threadId, 'echo caught up');
      await sql.begin(async (tx) => {
        await tx`update runs set cancel_requested_at = now() where id = ${longRunId}`;
        await tx`select pg_notify('run_cancel', ${JSON.stringify({ runId: longRunId, linkId: env!.link.id, at: Date.now() })})`;
      });
      opId = await queueEnsure(sql, env!.user.id, env!.link.id);
    });

    const events = await collect(threads, runId, 0n, 30_000);
    assert.ok(events.some((e) => e.event.case === 'log' && e.event.value.text === 'caught up'), 'the queued run ran');
    assert.equal(lastStatus(events), RunStatus.COMPLETED);
    assert.equal(lastStatus(await collect(threads, longRunId, 0n, 30_000)), RunStatus.CANCELLED, 'the cancel reached the machine');
    await until(async () => (await admin!.sql`select 1 from sandbox_ops where id = ${opId} and state = 'done' and reply is not null`).length > 0, 'the machine answered the sandbox operation');
  });

  it('a link renamed, then revoked, while the listening backend was down: the page shows both, and the session ends', async function () {
    this.timeout(120_000);
    env = await startTestServer({ heartbeatIntervalMs: 300 });
    await startAgent(env);
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      await watch.online(env.link.id);
      const control = (type: string) => JSON.stringify({ type, userId: env!.user.id, linkId: env!.link.id, at: Date.now() });
      await whileNotListening(env, async (sql) => {
        await sql.begin(async (tx) => {
          await tx`update links set name = 'renamed meanwhile' where id = ${env!.link.id}`;
          await tx`select pg_notify('link_control', ${control('changed')})`;
        });
      });
      await watch.until(env.link.id, (link) => link.name === 'renamed meanwhile', 'renamed');
      await whileNotListening(env, async (sql) => {
        await sql.begin(async (tx) => {
          await tx`update links set revoked_at = now() where id = ${env!.link.id}`;
          await tx`select pg_notify('link_control', ${control('revoke')})`;
        });
      });
      await watch.removed(env.link.id);
      await until(async () => env!.server.sessionCount === 0, "the revoked link's session ended");
    } finally {
      await watch.close();
    }
  });

  it('a run sent to the replica that holds the machine runs, and its watcher there sees it end, without a notification', async function () {
    this.timeout(60_000);
    const databaseUrl = await freshDatabase();
    proxy = await TcpProxy.start(Number(new URL(databaseUrl).port));
    const listenUrl = new URL(databaseUrl);
    listenUrl.port = String(proxy.port);
    env = await startTestServer({ databaseUrl, listenDatabaseUrl: listenUrl.toString(), heartbeatIntervalMs: 500 });
    const threads = threadClient(env.grpcUrl, env.userToken);
    await startAgent(env);
    // The LISTEN connection goes down and stays down: no notification reaches this replica.
    proxy.block();
    await until(async () => (await readyz(env!)).status === 503, '/readyz says LISTEN does not hold');
    const { thread } = await threads.createThread({});
    const { runId } = await threads.sendMessage({ threadId: thread!.id, text: 'echo straight through', harness: 'shell', linkId: env.link.id });
    const events = await collect(threads, runId, 0n, 30_000);
    assert.ok(events.some((e) => e.event.case === 'log' && e.event.value.text === 'straight through'));
    assert.equal(lastStatus(events), RunStatus.COMPLETED);
    assert.equal((await readyz(env)).status, 503, 'LISTEN was down all along');
  });

  it('Postgres down for several seconds: /readyz is 503 until LISTEN holds, and what was sent before it did is delivered', async function () {
    this.timeout(150_000);
    pg = await startRestartablePostgres();
    // The LISTEN connection goes through a proxy, so it can be kept from reconnecting after Postgres is back.
    proxy = await TcpProxy.start(pg.port);
    const listenUrl = new URL(pg.url);
    listenUrl.port = String(proxy.port);
    env = await startTestServer({ databaseUrl: pg.url, listenDatabaseUrl: listenUrl.toString(), heartbeatIntervalMs: 300, linkLostGraceMs: 60_000 });
    const threads = threadClient(env.grpcUrl, env.userToken);
    await startAgent(env);
    const { threadId, longRunId } = await threadsWithRuns(env, threads);
    assert.equal((await readyz(env)).status, 200);

    proxy.block();
    await pg.down();
    await until(async () => (await readyz(env!)).status === 503, '/readyz says not ready while Postgres is down');
    // Down for several seconds: long enough for every reconnect of the LISTEN connection to fail.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await pg.up();
    // Postgres is back, the LISTEN connection is not.
    const notListening = await until(async () => {
      const ready = await readyz(env!);
      return ready.status === 200 || /listen/i.test(ready.body) ? ready : undefined;
    }, '/readyz sees the database again');
    assert.equal(notListening.status, 503, `not ready while LISTEN does not hold: ${notListening.body}`);

    const { runId } = await threads.sendMessage({ threadId, text: 'echo after the outage', harness: 'shell' });
    await threads.cancelRun({ runId: longRunId });
    const ensured = sandboxClient(env.grpcUrl, env.userToken).ensureSandbox({ linkId: env.link.id, provider: 'directory', branch: 'after-outage' }, { timeoutMs: 60_000 });
    assert.equal((await readyz(env)).status, 503, 'still not ready');

    proxy.unblock();
    const events = await collect(threads, runId, 0n, 30_000);
    assert.ok(events.some((e) => e.event.case === 'log' && e.event.value.text === 'after the outage'), 'the queued run ran');
    assert.equal(lastStatus(events), RunStatus.COMPLETED);
    assert.equal(lastStatus(await collect(threads, longRunId, 0n, 30_000)), RunStatus.CANCELLED, 'the cancel reached the machine');
    const { sandbox } = await ensured;
    assert.ok(sandbox?.path, 'the machine made the sandbox');
    await until(async () => (await readyz(env!)).status === 200, '/readyz is ready once LISTEN holds');
  });
});

function lastStatus(events: RunEvent[]): RunStatus | undefined {
  const done = events.at(-1);
  return done?.event.case === 'done' ? done.event.value.status : undefined;
}

/** A thread's next run, queued as ThreadService.SendMessage queues it (run row, then `run_queued`). */
async function queueRun(sql: Sql, threadId: string, prompt: string): Promise<string> {
  const runId = `run_${randomBytes(12).toString('base64url')}`;
  await sql.begin(async (tx) => {
    const [{ link_id: linkId }] = await tx<{ link_id: string }[]>`
      insert into runs (id, thread_id, sandbox_id, user_id, link_id, harness, model, tier, prompt, resume_session_id, state)
      select ${runId}, id, sandbox_id, user_id, link_id, harness, '', 0, ${prompt}, session_id, 'queued' from threads where id = ${threadId}
      returning link_id`;
    await tx`select pg_notify('run_queued', ${JSON.stringify({ linkId, at: Date.now() })})`;
  });
  return runId;
}

/** A sandbox operation (ensure a new directory sandbox), queued as SandboxService queues it (op row, then `sandbox_op`). */
async function queueEnsure(sql: Sql, userId: string, linkId: string): Promise<string> {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const handle = `sbx_${[...randomBytes(20)].map((b) => alphabet[b % 36]).join('')}`;
  const opId = `sop_${randomBytes(12).toString('base64url')}`;
  const request = toBinary(
    SandboxRequestSchema,
    create(SandboxRequestSchema, { opId, op: { case: 'ensure', value: { handle, provider: 'directory', repository: '', branch: 'caught-up' } } }),
  );
  await sql.begin(async (tx) => {
    await tx`insert into sandboxes (id, user_id, link_id, repository, branch, provider, thread_scope)
             values (${handle}, ${userId}, ${linkId}, '', 'caught-up', 'directory', '')`;
    await tx`insert into sandbox_ops (id, link_id, sandbox_id, request, deadline)
             values (${opId}, ${linkId}, ${handle}, ${Buffer.from(request)}, now() + interval '60 seconds')`;
    await tx`select pg_notify('sandbox_op', ${JSON.stringify({ linkId, at: Date.now() })})`;
  });
  return opId;
}

/** GET /readyz on a connection of its own (none is left open for the server's close). */
function readyz(env: TestServer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${env.httpUrl}/readyz`, { agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves with the first truthy answer of `check`, asked again every 100 ms for up to 30 s. */
async function until<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await check().catch(() => undefined);
    if (answer) return answer;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
