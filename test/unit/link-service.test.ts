/** LinkService over an in-memory transport, its store faked: every call scoped to the caller. */
import assert from 'node:assert/strict';
import { ConnectError, type Client } from '@connectrpc/connect';
import { Code, reasonOf } from '../../common/errors.js';
import { LinkService } from '../../gen/link/v1/link_service_pb.js';
import { LinkState } from '../../gen/link/v1/types_pb.js';
import type { MemoryRegistry } from '../../control-plane/registry/memory.js';
import { LinkServiceImpl } from '../../control-plane/services/link-service.js';
import { as, FakeStore, goOnline, serveInMemory, startRegistry } from '../helpers/fakes.js';

describe('LinkService (in memory)', () => {
  let store: FakeStore;
  let registry: MemoryRegistry;
  let client: Client<typeof LinkService>;

  beforeEach(async () => {
    store = new FakeStore();
    registry = await startRegistry();
    const sessions = { run: () => assert.fail('no agent sessions in these tests') };
    client = serveInMemory(LinkService, new LinkServiceImpl(store.asStore(), registry, sessions, 'http://127.0.0.1:9090'), store);
  });

  afterEach(() => registry.close());

  it("ListLinks shows the caller's links with their presence, never another user's", async () => {
    const alice = store.addUser('alice');
    const bob = store.addUser('bob');
    const laptop = store.addLink(alice.user.id, 'laptop');
    store.addLink(alice.user.id, 'desktop');
    const bobs = store.addLink(bob.user.id, 'server');
    await goOnline(registry, laptop);
    await goOnline(registry, bobs);
    const { links } = await client.listLinks({}, as(alice.token));
    assert.deepEqual(links.map((l) => [l.name, l.state]).sort(), [['desktop', LinkState.OFFLINE], ['laptop', LinkState.ONLINE]]);
    assert.equal(links.find((l) => l.name === 'laptop')!.hostname, 'laptop.local');
  });

  it("GetLink of another user's link is NOT_FOUND, exactly like one that does not exist", async () => {
    const alice = store.addUser('alice');
    const bob = store.addUser('bob');
    const bobs = store.addLink(bob.user.id, 'server');
    await goOnline(registry, bobs);
    const refusals = [];
    for (const linkId of [bobs.id, 'lnk_doesnotexist00000']) {
      const error = await client.getLink({ linkId }, as(alice.token)).then(() => assert.fail('not refused'), (e: unknown) => e);
      assert.ok(error instanceof ConnectError);
      assert.equal(error.code, Code.NotFound);
      refusals.push(reasonOf(error));
    }
    assert.equal(refusals[0], refusals[1]);
    assert.equal((await client.getLink({ linkId: bobs.id }, as(bob.token))).link!.state, LinkState.ONLINE);
  });

  it('a call with an unknown token is UNAUTHENTICATED', async () => {
    const error = await client.listLinks({}, as('lu_not-a-token')).then(() => assert.fail('not refused'), (e: unknown) => e);
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.Unauthenticated);
  });

  it("WatchLinks starts with a snapshot of the caller's links, then a link coming online", async () => {
    const alice = store.addUser('alice');
    const bob = store.addUser('bob');
    const laptop = store.addLink(alice.user.id, 'laptop');
    await goOnline(registry, store.addLink(bob.user.id, 'server'));
    const abort = new AbortController();
    const stream = client.watchLinks({}, { ...as(alice.token), signal: abort.signal })[Symbol.asyncIterator]();
    try {
      const first = await stream.next();
      assert.equal(first.value.event.case, 'snapshot');
      assert.deepEqual(first.value.event.value.links.map((l: { name: string; state: LinkState }) => [l.name, l.state]), [['laptop', LinkState.OFFLINE]]);
      await goOnline(registry, laptop);
      const next = await stream.next();
      assert.equal(next.value.event.case, 'changed');
      assert.equal(next.value.event.value.id, laptop.id);
      assert.equal(next.value.event.value.state, LinkState.ONLINE);
    } finally {
      abort.abort();
      await stream.return?.();
    }
  });
});
