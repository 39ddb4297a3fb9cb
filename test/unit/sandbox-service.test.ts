/** SandboxService over an in-memory transport, its stores faked: refusals before anything reaches a machine. */
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { ConnectError, type Client } from '@connectrpc/connect';
import { Code, errorMetadataOf, reasonOf } from '../../common/errors.js';
import { SandboxReplySchema } from '../../gen/link/v1/link_service_pb.js';
import { SandboxService } from '../../gen/link/v1/sandbox_service_pb.js';
import type { MemoryRegistry } from '../../control-plane/registry/memory.js';
import { SandboxServiceImpl } from '../../control-plane/services/sandbox-service.js';
import type { LinkRecord, UserRecord } from '../../control-plane/store/store.js';
import { as, FakeRunStore, FakeSandboxStore, FakeStore, FakeThreadStore, goOnline, serveInMemory, startRegistry } from '../helpers/fakes.js';

async function refusal(call: Promise<unknown>) {
  const error = await call.then(
    () => assert.fail('the call was not refused'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ConnectError, String(error));
  return { code: error.code, reason: reasonOf(error), metadata: errorMetadataOf(error) };
}

describe('SandboxService (in memory)', () => {
  let store: FakeStore;
  let sandboxes: FakeSandboxStore;
  let registry: MemoryRegistry;
  let client: Client<typeof SandboxService>;
  let alice: { user: UserRecord; token: string };
  let link: LinkRecord;

  beforeEach(async () => {
    store = new FakeStore();
    sandboxes = new FakeSandboxStore();
    registry = await startRegistry();
    const impl = new SandboxServiceImpl(store.asStore(), new FakeRunStore(), sandboxes, registry, new FakeThreadStore());
    client = serveInMemory(SandboxService, impl, store);
    alice = store.addUser('alice');
    link = store.addLink(alice.user.id, 'laptop');
  });

  afterEach(() => registry.close());

  const worktree = (userId = alice.user.id, linkId = link.id) =>
    sandboxes.add({ userId, linkId, repository: 'https://example.com/r.git', branch: 'main', provider: 'worktree', threadScope: '' });

  it("another user's sandbox is SANDBOX_NOT_FOUND for every call, and nothing is forwarded", async () => {
    const bob = store.addUser('bob');
    const bobsLink = store.addLink(bob.user.id, 'server');
    await goOnline(registry, bobsLink);
    const row = worktree(bob.user.id, bobsLink.id);
    const calls = [
      client.getSandbox({ sandboxId: row.id }, as(alice.token)),
      client.deleteSandbox({ sandboxId: row.id }, as(alice.token)),
      client.commitSandbox({ sandboxId: row.id, message: 'x' }, as(alice.token)),
      client.pushSandbox({ sandboxId: row.id }, as(alice.token)),
      client.getSandboxChanges({ sandboxId: row.id }, as(alice.token)),
    ];
    for (const call of calls) {
      const refused = await refusal(call);
      assert.equal(refused.code, Code.NotFound);
      assert.equal(refused.reason, 'SANDBOX_NOT_FOUND');
    }
    assert.equal(sandboxes.forwarded.length, 0);
    assert.equal((await client.getSandbox({ sandboxId: row.id }, as(bob.token))).sandbox!.id, row.id);
  });

  it('a hostile sandbox handle is INVALID_FIELD sandbox_id', async () => {
    for (const sandboxId of ['../../etc', 'sbx_AAAAAAAAAAAAAAAAAAAA', 'sbx_aaaa/../../b', '-rf']) {
      const refused = await refusal(client.getSandbox({ sandboxId }, as(alice.token)));
      assert.equal(refused.code, Code.InvalidArgument, sandboxId);
      assert.equal(refused.reason, 'INVALID_FIELD');
      assert.equal(refused.metadata.field, 'sandbox_id', sandboxId);
    }
  });

  it('a hostile branch or repository in EnsureSandbox is INVALID_FIELD naming it, and nothing is stored', async () => {
    await goOnline(registry, link);
    const repository = 'https://example.com/r.git';
    for (const branch of ['--upload-pack=x', 'a..b', 'refs/heads/../x', 'x\ny', 'x.lock']) {
      const refused = await refusal(client.ensureSandbox({ linkId: link.id, repository, branch }, as(alice.token)));
      assert.equal(refused.code, Code.InvalidArgument, branch);
      assert.equal(refused.metadata.field, 'branch', branch);
    }
    const refused = await refusal(client.ensureSandbox({ linkId: link.id, repository: 'ext::sh -c id', branch: 'main' }, as(alice.token)));
    assert.equal(refused.metadata.field, 'repository');
    assert.equal(sandboxes.rows.size, 0);
  });

  it('an offline machine is LINK_OFFLINE for ensure, delete and git actions', async () => {
    const row = worktree();
    const calls = [
      client.ensureSandbox({ linkId: link.id, repository: 'https://example.com/r.git', branch: 'main' }, as(alice.token)),
      client.deleteSandbox({ sandboxId: row.id }, as(alice.token)),
      client.discardSandboxChanges({ sandboxId: row.id }, as(alice.token)),
    ];
    for (const call of calls) {
      const refused = await refusal(call);
      assert.equal(refused.code, Code.FailedPrecondition);
      assert.equal(refused.reason, 'LINK_OFFLINE');
      assert.equal(refused.metadata.link_name, 'laptop');
    }
    assert.equal(sandboxes.forwarded.length, 0);
  });

  it('a sandbox with a run in progress is SANDBOX_BUSY for delete, commit, push and discard; the map keeps it', async () => {
    await goOnline(registry, link);
    const row = worktree();
    sandboxes.running.set(row.id, 1);
    const calls = [
      client.deleteSandbox({ sandboxId: row.id }, as(alice.token)),
      client.commitSandbox({ sandboxId: row.id, message: 'x' }, as(alice.token)),
      client.pushSandbox({ sandboxId: row.id }, as(alice.token)),
      client.discardSandboxChanges({ sandboxId: row.id }, as(alice.token)),
    ];
    for (const call of calls) {
      const refused = await refusal(call);
      assert.equal(refused.code, Code.FailedPrecondition);
      assert.equal(refused.reason, 'SANDBOX_BUSY');
      assert.equal(refused.metadata.sandbox_id, row.id);
    }
    assert.equal(sandboxes.forwarded.length, 0);
    assert.ok(sandboxes.rows.has(row.id));
  });

  it('an idle sandbox on an online machine is deleted there, then from the map', async () => {
    await goOnline(registry, link);
    const row = worktree();
    sandboxes.reply = create(SandboxReplySchema, { result: { case: 'deleted', value: {} } });
    await client.deleteSandbox({ sandboxId: row.id }, as(alice.token));
    assert.deepEqual(sandboxes.forwarded.map((f) => [f.linkId, f.sandboxId, f.op.case]), [[link.id, row.id, 'delete']]);
    assert.equal(sandboxes.rows.has(row.id), false);
  });
});
