/**
 * SendMessage refuses what the machine would refuse before anything is queued, and a refused
 * message leaves nothing behind: no run, no message, no sandbox in the map. Real linkd, real
 * Postgres (checked row by row).
 */
import assert from 'node:assert/strict';
import { ConnectError } from '@connectrpc/connect';
import { errorMetadataOf, reasonOf } from '../common/errors.js';
import { closeClients, Code, linkClient, LinkWatch } from './helpers/clients.js';
import { spawnLinkd, type TestProcess } from './helpers/processes.js';
import { collect, sandboxClient, threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';
import { makeRepository } from './helpers/git.js';

function failure(promise: Promise<unknown>): Promise<ConnectError> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e) => ConnectError.from(e),
  );
}

describe('SendMessage checks before it queues', () => {
  let env: TestServer;
  let agent: TestProcess;

  before(async () => {
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-')]);
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      await watch.online(env.link.id, 20_000);
    } finally {
      await watch.close();
    }
  });

  after(async () => {
    await agent.stop();
    closeClients();
    await env.close();
  });

  async function rows() {
    const sql = env.store.connection;
    const [{ runs }] = await sql`select count(*)::int as runs from runs`;
    const [{ messages }] = await sql`select count(*)::int as messages from messages`;
    const [{ sandboxes }] = await sql`select count(*)::int as sandboxes from sandboxes`;
    return { runs, messages, sandboxes };
  }

  it('repository URLs that git would read as options or commands are INVALID_ARGUMENT naming repository, and nothing is queued', async () => {
    const threads = threadClient(env.grpcUrl, env.userToken);
    const before = await rows();
    for (const repository of [
      'ssh://-oProxyCommand=touch${IFS}/tmp/pwned/x',
      'ssh://git@-oProxyCommand=id/repo',
      'ssh://%2doProxyCommand=id/repo',
      'ssh://-user@example.com/repo',
      'git@-oProxyCommand=id:repo',
      'git@example.com:-upload-pack=id',
      'ext::sh',
      'file://other.host/share/repo',
    ]) {
      const { thread } = await threads.createThread({});
      const error = await failure(threads.sendMessage({ threadId: thread!.id, text: 'true', harness: 'shell', linkId: env.link.id, repository, branch: 'main' }));
      assert.equal(error.code, Code.InvalidArgument, `${repository}: ${error.message}`);
      assert.equal(reasonOf(error), 'INVALID_FIELD', repository);
      assert.equal(errorMetadataOf(error).field, 'repository', repository);
      const { thread: after } = await threads.getThread({ threadId: thread!.id });
      assert.equal(after!.harness, '', `${repository}: the thread is not pinned by a refused message`);
    }
    assert.deepEqual(await rows(), before, 'no run, message or sandbox was written');
    const { sandboxes } = await sandboxClient(env.grpcUrl, env.userToken).listSandboxes({});
    assert.deepEqual(sandboxes.map((s) => s.repository), []);
  });

  it('a URL whose scheme the machine does not clone from (file:, without --repository-schemes) is refused before queueing, naming the schemes', async () => {
    const threads = threadClient(env.grpcUrl, env.userToken);
    const sandboxes = sandboxClient(env.grpcUrl, env.userToken);
    const before = await rows();
    const repo = await makeRepository();
    const { thread } = await threads.createThread({});
    const error = await failure(threads.sendMessage({ threadId: thread!.id, text: 'true', harness: 'shell', linkId: env.link.id, repository: repo.url, branch: 'main' }));
    assert.equal(error.code, Code.InvalidArgument, error.message);
    assert.equal(errorMetadataOf(error).field, 'repository');
    assert.equal(errorMetadataOf(error).allowed, 'https,ssh', 'the machine advertised what it clones from');
    const ensured = await failure(sandboxes.ensureSandbox({ linkId: env.link.id, repository: repo.url, branch: 'main' }));
    assert.equal(ensured.code, Code.InvalidArgument, 'EnsureSandbox checks the same');
    assert.deepEqual(await rows(), before, 'no run, message or sandbox was written');
  });

  it('a first message refused after its checks leaves no pending sandbox in ListSandboxes', async () => {
    const threads = threadClient(env.grpcUrl, env.userToken);
    const sandboxes = sandboxClient(env.grpcUrl, env.userToken);
    const before = await rows();
    const { thread } = await threads.createThread({});
    // Postgres refuses the text (a NUL byte) when it stores the message.
    await failure(threads.sendMessage({ threadId: thread!.id, text: 'echo \u0000', harness: 'shell', linkId: env.link.id, sandboxProvider: 'directory', branch: 'refused' }));
    assert.deepEqual((await sandboxes.listSandboxes({})).sandboxes.map((s) => s.branch), [], 'no sandbox listed after a refused message');
    assert.deepEqual(await rows(), before, 'no run, message or sandbox row');
  });

  it('two first messages racing on one thread: one runs, the other is refused, and only the winner\'s sandbox exists', async function () {
    this.timeout(60_000);
    const threads = threadClient(env.grpcUrl, env.userToken);
    const sandboxes = sandboxClient(env.grpcUrl, env.userToken);
    const started: string[] = [];
    const threadIds: string[] = [];
    for (let i = 0; i < 8; i++) {
      const { thread } = await threads.createThread({});
      threadIds.push(thread!.id);
      const sends = await Promise.allSettled(
        ['left', 'right'].map((side) =>
          threads.sendMessage({ threadId: thread!.id, text: 'true', harness: 'shell', linkId: env.link.id, sandboxProvider: 'directory', branch: `race-${i}-${side}` }),
        ),
      );
      const won = sends.flatMap((s) => (s.status === 'fulfilled' ? [s.value.runId] : []));
      assert.ok(won.length >= 1, 'at least one of the two is queued');
      started.push(...won);
    }
    for (const runId of started) await collect(threads, runId, 0n, 30_000);
    // Every sandbox in the map is the sandbox of one of the threads.
    const listed = (await sandboxes.listSandboxes({})).sandboxes.filter((s) => s.branch.startsWith('race-'));
    const pinned = await Promise.all(threadIds.map(async (threadId) => (await threads.getThread({ threadId })).thread!.sandboxId));
    assert.deepEqual(listed.map((s) => s.id).sort(), [...new Set(pinned)].sort(), 'no sandbox left behind by a refused message');
  });
});
