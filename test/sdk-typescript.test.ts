/**
 * The TypeScript SDK (sdk/typescript, npm package `link-client`) against a real link-server and a
 * real linkd, over both transports; and the packed package installed into a project of its own, as a
 * user would get it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  Code,
  ConnectError,
  createLinkClient,
  followRun,
  LinkState,
  metadataOf,
  reasonOf,
  RunStatus,
  waitForLink,
  type LinkClient,
  type RunEvent,
} from '../sdk/typescript/src/index.js';
import { makeCertificates } from './helpers/certs.js';
import { spawnLinkd, type TestProcess } from './helpers/processes.js';
import { typescriptSdkProject } from './helpers/sdks.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { tempDir } from './helpers/temp.js';

const run = promisify(execFile);

function failure(promise: Promise<unknown>): Promise<ConnectError> {
  return promise.then(
    () => assert.fail('expected the call to fail'),
    (e) => ConnectError.from(e),
  );
}

async function all(events: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const out: RunEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

function logText(events: RunEvent[]): string[] {
  return events.flatMap((e) => (e.event.case === 'log' ? [e.event.value.text] : []));
}

describe('the TypeScript SDK', () => {
  let env: TestServer;
  let agent: TestProcess | undefined;
  const clients: LinkClient[] = [];

  before(async () => {
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-')]);
  });

  after(async () => {
    await agent?.stop();
    for (const client of clients) client.close();
    await env.close();
  });

  it('refuses plaintext to another machine unless insecure, and needs a token', () => {
    assert.throws(() => createLinkClient({ server: 'http://link.example.com:9090', token: 'lu_x' }), /without TLS/);
    assert.throws(() => createLinkClient({ server: 'link.example.com:9090', token: 'lu_x' }), /must start with https/);
    assert.throws(() => createLinkClient({ server: 'http://127.0.0.1:9090' }), /no user token/);
    createLinkClient({ server: 'http://link.example.com:9090', token: 'lu_x', insecure: true }).close();
    createLinkClient({ server: 'https://link.example.com:9090', token: 'lu_x' }).close();
  });

  for (const transport of ['grpc', 'connect'] as const) {
    describe(`over ${transport}`, () => {
      let client: LinkClient;
      const server = () => (transport === 'grpc' ? env.grpcUrl : env.httpUrl);

      before(() => {
        client = createLinkClient({ server: server(), token: env.userToken, transport });
        clients.push(client);
      });

      it('waits for a machine to come online, then lists it online', async () => {
        const { link: second, token } = await env.store.createLink(env.user.id, `second-${transport}`);
        const tokenFile = join(await tempDir('link-token-'), 'token');
        await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
        const before = await client.links.getLink({ linkId: second.id });
        assert.equal(before.link?.state, LinkState.OFFLINE);
        const online = waitForLink(client, second.id, { timeoutMs: 30_000 });
        const machine = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', tokenFile, '--data-dir', await tempDir('linkd-')]);
        try {
          const link = await online;
          assert.equal(link.state, LinkState.ONLINE);
          const { links } = await client.links.listLinks({});
          assert.equal(links.find((l) => l.id === second.id)?.state, LinkState.ONLINE);
        } finally {
          await machine.stop();
        }
        await client.links.revokeLink({ linkId: second.id });
        const gone = await failure(waitForLink(client, second.id, { timeoutMs: 30_000 }));
        assert.equal(reasonOf(gone), 'LINK_NOT_FOUND');
      });

      it('gives up waiting at the deadline', async () => {
        const { link: never } = await env.store.createLink(env.user.id, `never-${transport}`);
        const late = await failure(waitForLink(client, never.id, { timeoutMs: 300 }));
        assert.equal(late.code, Code.DeadlineExceeded);
        await client.links.revokeLink({ linkId: never.id });
      });

      it('sends a shell message and follows its run to done', async () => {
        await waitForLink(client, env.link.id, { timeoutMs: 30_000 });
        const { thread } = await client.threads.createThread({});
        const { runId } = await client.threads.sendMessage({ threadId: thread!.id, text: 'echo hello from the sdk', harness: 'shell', linkId: env.link.id });
        const events = await all(followRun(client, runId));
        assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => BigInt(i + 1)));
        assert.ok(logText(events).includes('hello from the sdk'));
        const done = events.at(-1)!;
        assert.equal(done.event.case === 'done' && done.event.value.status, RunStatus.COMPLETED);
        const resumed = await all(followRun(client, runId, { afterSeq: done.seq - 1n }));
        assert.deepEqual(resumed.map((e) => e.seq), [done.seq], 'afterSeq resumes by cursor');
      });

      it('decodes the reason and metadata of a refused call', async () => {
        const missing = await failure(client.threads.sendMessage({ threadId: 'thr_missing', text: 'x', harness: 'shell', linkId: env.link.id }));
        assert.equal(missing.code, Code.NotFound);
        assert.equal(reasonOf(missing), 'THREAD_NOT_FOUND');
        await waitForLink(client, env.link.id, { timeoutMs: 30_000 });
        const { thread } = await client.threads.createThread({});
        const refused = await failure(client.threads.sendMessage({ threadId: thread!.id, text: 'x', harness: 'no-such-harness', linkId: env.link.id }));
        assert.equal(refused.code, Code.InvalidArgument);
        assert.equal(reasonOf(refused), 'INVALID_FIELD');
        assert.ok(metadataOf(refused).field, 'the field comes with the refusal');
        const anonymous = createLinkClient({ server: server(), token: 'lu_not_a_token', transport });
        try {
          const denied = await failure(anonymous.links.listLinks({}));
          assert.equal(denied.code, Code.Unauthenticated);
          assert.equal(reasonOf(denied), 'UNAUTHENTICATED');
        } finally {
          anonymous.close();
        }
      });

      it('follows a run across a cut connection, resuming after the last seq it saw', async () => {
        await waitForLink(client, env.link.id, { timeoutMs: 30_000 });
        const port = Number(new URL(server()).port);
        const proxy = await TcpProxy.start(port);
        const flaky = createLinkClient({ server: proxy.url, token: env.userToken, transport });
        try {
          const { thread } = await flaky.threads.createThread({});
          const script = 'for i in 1 2 3 4 5 6 7 8 9 10; do echo line $i; sleep 0.2; done';
          const { runId } = await flaky.threads.sendMessage({ threadId: thread!.id, text: script, harness: 'shell', linkId: env.link.id });
          const retries: bigint[] = [];
          const events: RunEvent[] = [];
          for await (const event of followRun(flaky, runId, { backoffBaseMs: 50, onRetry: (_e, _d, after) => retries.push(after) })) {
            events.push(event);
            if (event.event.case === 'log' && event.event.value.text === 'line 2') proxy.cutAll();
          }
          assert.equal(proxy.cuts, 1);
          assert.ok(retries.length >= 1, 'it watched again after the cut');
          assert.ok(retries[0] > 0n, 'from the last seq it had');
          assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => BigInt(i + 1)), 'no gap and no repeat across the cut');
          assert.deepEqual(logText(events).filter((t) => t.startsWith('line ')), Array.from({ length: 10 }, (_, i) => `line ${i + 1}`));
          assert.equal(events.at(-1)!.event.case, 'done');
        } finally {
          flaky.close();
          await proxy.close();
        }
      });
    });
  }

  it('over TLS with a private CA (caFile), on both transports; without the CA the certificate is refused', async () => {
    const certs = await makeCertificates();
    const secure = await startTestServer({ tls: { cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) }, localLogin: false });
    try {
      for (const [transport, url] of [['grpc', secure.grpcUrl], ['connect', secure.httpUrl]] as const) {
        const server = url.replace('http://', 'https://');
        const trusted = createLinkClient({ server, token: secure.userToken, transport, caFile: certs.caFile });
        const untrusted = createLinkClient({ server, token: secure.userToken, transport });
        try {
          const { links } = await trusted.links.listLinks({});
          assert.deepEqual(links.map((l) => l.id), [secure.link.id], transport);
          const refused = await failure(untrusted.links.listLinks({}));
          assert.match(refused.message, /certificate/i, transport);
        } finally {
          trusted.close();
          untrusted.close();
        }
      }
    } finally {
      await secure.close();
    }
  });

  it('npm pack of sdk/typescript installs into a project of its own and lists machines', async function () {
    this.timeout(240_000);
    const dir = await typescriptSdkProject();
    const tokenFile = join(await tempDir('link-token-'), 'token');
    await writeFile(tokenFile, `${env.userToken}\n`, { mode: 0o600 });
    await writeFile(
      join(dir, 'list.mjs'),
      [
        "import { createLinkClient, reasonOf } from 'link-client';",
        'const client = createLinkClient({ server: process.env.LINK_SERVER, tokenFile: process.env.LINK_TOKEN_FILE });',
        'const { links } = await client.links.listLinks({});',
        'const refused = await client.threads.getThread({ threadId: "thr_missing" }).catch(reasonOf);',
        'console.log(JSON.stringify({ ids: links.map((l) => l.id), refused }));',
        'client.close();',
      ].join('\n'),
    );
    const { stdout } = await run(process.execPath, ['list.mjs'], { cwd: dir, env: { ...process.env, LINK_SERVER: env.grpcUrl, LINK_TOKEN_FILE: tokenFile }, timeout: 30_000 });
    assert.deepEqual(JSON.parse(stdout), { ids: [env.link.id], refused: 'THREAD_NOT_FOUND' });
  });
});
