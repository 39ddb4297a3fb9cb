/** ThreadService over an in-memory transport, its stores faked: SendMessage's refusals and pins. */
import assert from 'node:assert/strict';
import { ConnectError, type Client } from '@connectrpc/connect';
import { Code, errorMetadataOf, reasonOf } from '../../common/errors.js';
import { ThreadService } from '../../gen/link/v1/thread_service_pb.js';
import type { MemoryRegistry } from '../../control-plane/registry/memory.js';
import { ThreadServiceImpl } from '../../control-plane/services/thread-service.js';
import type { LinkRecord } from '../../control-plane/store/store.js';
import { as, capabilities, FakeInteractionStore, FakeRunStore, FakeStore, FakeThreadStore, goOnline, serveInMemory, startRegistry } from '../helpers/fakes.js';

/** The refusal a call ends with: its code, ErrorInfo reason and metadata. */
async function refusal(call: Promise<unknown>) {
  const error = await call.then(
    () => assert.fail('the call was not refused'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ConnectError, String(error));
  return { code: error.code, reason: reasonOf(error), metadata: errorMetadataOf(error), message: error.rawMessage };
}

describe('ThreadService (in memory)', () => {
  let store: FakeStore;
  let threads: FakeThreadStore;
  let registry: MemoryRegistry;
  let client: Client<typeof ThreadService>;
  let token: string;
  let link: LinkRecord;

  beforeEach(async () => {
    store = new FakeStore();
    threads = new FakeThreadStore();
    registry = await startRegistry();
    client = serveInMemory(ThreadService, new ThreadServiceImpl(store.asStore(), threads, new FakeRunStore(), registry, new FakeInteractionStore()), store);
    const alice = store.addUser('alice');
    token = alice.token;
    link = store.addLink(alice.user.id, 'laptop');
  });

  afterEach(() => registry.close());

  const newThread = async () => (await client.createThread({ title: 't' }, as(token))).thread!.id;
  const send = (threadId: string, init: Record<string, string> = {}) =>
    client.sendMessage({ threadId, text: 'hello', harness: 'shell', linkId: link.id, ...init }, as(token));

  it('a call without a bearer token is UNAUTHENTICATED', async () => {
    const refused = await refusal(client.createThread({ title: 't' }));
    assert.equal(refused.code, Code.Unauthenticated);
  });

  it('the first message pins harness, link, provider and branch', async () => {
    await goOnline(registry, link);
    const threadId = await newThread();
    const sent = await send(threadId, { repository: 'https://example.com/r.git', branch: 'feature/x' });
    assert.match(sent.runId, /^run_/);
    const { thread } = await client.getThread({ threadId }, as(token));
    assert.equal(thread!.harness, 'shell');
    assert.equal(thread!.linkId, link.id);
    assert.equal(thread!.sandboxProvider, 'worktree');
    assert.equal(thread!.branch, 'feature/x');
    assert.equal(thread!.repository, 'https://example.com/r.git');
  });

  it('a later message asking for another pinned value is THREAD_PINNED naming the field', async () => {
    await goOnline(registry, link);
    const threadId = await newThread();
    await send(threadId, { repository: 'https://example.com/r.git', branch: 'main' });
    const refused = await refusal(send(threadId, { branch: 'dev' }));
    assert.equal(refused.code, Code.FailedPrecondition);
    assert.equal(refused.reason, 'THREAD_PINNED');
    assert.equal(refused.metadata.field, 'branch');
  });

  it('an offline link is LINK_OFFLINE naming it', async () => {
    const refused = await refusal(send(await newThread()));
    assert.equal(refused.code, Code.FailedPrecondition);
    assert.equal(refused.reason, 'LINK_OFFLINE');
    assert.equal(refused.metadata.link_name, 'laptop');
  });

  it('a harness the machine lacks is CAPABILITY_MISSING with its harnesses', async () => {
    await goOnline(registry, link, { capabilities: capabilities({ harnesses: ['shell', 'codex'] }) });
    const refused = await refusal(send(await newThread(), { harness: 'claude-code' }));
    assert.equal(refused.reason, 'CAPABILITY_MISSING');
    assert.equal(refused.metadata.harness, 'claude-code');
    assert.equal(refused.metadata.installed, 'shell,codex');
    assert.match(refused.metadata.capabilities, /codex/);
  });

  it('a machine without a dispatch key is LINK_NOT_PAIRED', async () => {
    await goOnline(registry, link, { dispatchKeyMissing: true });
    const refused = await refusal(send(await newThread()));
    assert.equal(refused.reason, 'LINK_NOT_PAIRED');
  });

  it('a thread with a run in progress is THREAD_BUSY', async () => {
    await goOnline(registry, link);
    const threadId = await newThread();
    threads.busy.add(threadId);
    const refused = await refusal(send(threadId));
    assert.equal(refused.code, Code.FailedPrecondition);
    assert.equal(refused.reason, 'THREAD_BUSY');
  });

  it('a hostile repository URL or model name is INVALID_FIELD naming the field, before anything is written', async () => {
    await goOnline(registry, link);
    const threadId = await newThread();
    for (const repository of ['--upload-pack=touch /tmp/x', 'ext::sh -c touch% /tmp/x', 'https://example.com/r.git\nx']) {
      const refused = await refusal(send(threadId, { repository, branch: 'main' }));
      assert.equal(refused.code, Code.InvalidArgument, repository);
      assert.equal(refused.reason, 'INVALID_FIELD');
      assert.equal(refused.metadata.field, 'repository', repository);
    }
    const refused = await refusal(send(threadId, { model: '--dangerously-skip-permissions' }));
    assert.equal(refused.reason, 'INVALID_FIELD');
    assert.equal(refused.metadata.field, 'model');
    assert.equal(threads.sent.length, 0);
  });

  it("another user's thread is THREAD_NOT_FOUND, like one that does not exist", async () => {
    await goOnline(registry, link);
    const threadId = await newThread();
    const bob = store.addUser('bob');
    const bobsLink = store.addLink(bob.user.id, 'desktop');
    await goOnline(registry, bobsLink);
    const refused = await refusal(client.sendMessage({ threadId, text: 'hi', harness: 'shell', linkId: bobsLink.id }, as(bob.token)));
    assert.equal(refused.code, Code.NotFound);
    assert.equal(refused.reason, 'THREAD_NOT_FOUND');
    const read = await refusal(client.getThread({ threadId }, as(bob.token)));
    assert.equal(read.reason, 'THREAD_NOT_FOUND');
  });

  it("another user's link is LINK_NOT_FOUND", async () => {
    const bob = store.addUser('bob');
    const bobsLink = store.addLink(bob.user.id, 'desktop');
    await goOnline(registry, bobsLink);
    const refused = await refusal(send(await newThread(), { linkId: bobsLink.id }));
    assert.equal(refused.code, Code.NotFound);
    assert.equal(refused.reason, 'LINK_NOT_FOUND');
  });
});
