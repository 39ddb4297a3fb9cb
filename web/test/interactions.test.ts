import { expect, fixture, html } from '@open-wc/testing';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { ContextProvider } from '@lit/context';
import { Code, ConnectError } from '@connectrpc/connect';
import { InteractionKind, InteractionState } from '../../gen/link/v1/run_pb.js';
import { InteractionRecordSchema, ThreadService, type InteractionRecord, type WatchInteractionsResponse } from '../../gen/link/v1/thread_service_pb.js';
import { InteractionStore, interactionsContext } from '../src/interactions.js';
import type { LinkNeedsYou } from '../src/link-needs-you.js';
import '../src/link-needs-you.js';
import { inMemoryClients } from './helpers.js';

const record = (runId: string, id: string, threadId: string, state = InteractionState.PENDING, extra: { delivered?: boolean } = {}) =>
  create(InteractionRecordSchema, {
    runId,
    threadId,
    threadTitle: `thread ${threadId}`,
    state,
    askedAt: timestampFromDate(new Date(Date.UTC(2026, 11, 1, 12, Number(id.replace(/\D/g, '')) || 0))),
    interaction: { id, kind: InteractionKind.PERMISSION, tool: 'Bash', title: `Run ${id}` },
    ...extra,
  });

/** A WatchInteractions the test feeds: each `stream()` call is one connection. */
function feed() {
  const queue: (WatchInteractionsResponse['change'] | Error)[] = [];
  let wake: (() => void) | undefined;
  let connections = 0;
  const push = (item: WatchInteractionsResponse['change'] | Error) => {
    queue.push(item);
    wake?.();
  };
  const clients = inMemoryClients((router) =>
    router.service(ThreadService, {
      async *watchInteractions() {
        connections++;
        for (;;) {
          while (queue.length === 0) await new Promise<void>((r) => (wake = r));
          const item = queue.shift()!;
          if (item instanceof Error) throw item;
          yield { change: item };
        }
      },
      async listInteractions(request: { runId: string }) {
        return { interactions: [record(request.runId, 'i9', 'thr_b', InteractionState.ANSWERED, { delivered: true })] };
      },
    } as never),
  );
  return { clients, push, connections: () => connections };
}

describe('the interaction store', () => {
  let store: InteractionStore | undefined;
  afterEach(() => store?.stop());

  it('counts the pending ones from the snapshot, then follows each change; only later ones are "asked"', async () => {
    const server = feed();
    store = new InteractionStore(server.clients);
    const asked: string[] = [];
    store.addEventListener('asked', (e) => asked.push((e as CustomEvent<InteractionRecord>).detail.interaction!.id));
    store.start();
    server.push({ case: 'snapshot', value: { interactions: [record('run_a', 'i1', 'thr_a'), record('run_b', 'i2', 'thr_b')] } as never });
    await waitFor(() => store!.loaded);
    expect(store.pendingCount).to.equal(2);
    expect([...store.pendingByThread()]).to.deep.equal([['thr_a', 1], ['thr_b', 1]]);
    expect(asked).to.deep.equal([], 'what was pending on load is not news');

    server.push({ case: 'changed', value: record('run_a', 'i3', 'thr_a') });
    await waitFor(() => store!.pendingCount === 3);
    expect(store.pendingByThread().get('thr_a')).to.equal(2);
    expect(asked).to.deep.equal(['i3']);

    server.push({ case: 'changed', value: record('run_a', 'i1', 'thr_a', InteractionState.ANSWERED) });
    await waitFor(() => store!.pendingCount === 2);
    expect(store.get('run_a', 'i1')!.delivered).to.equal(false);
    server.push({ case: 'changed', value: record('run_a', 'i1', 'thr_a', InteractionState.ANSWERED, { delivered: true }) });
    await waitFor(() => store!.get('run_a', 'i1')!.delivered);
    // A late, older view of a record never takes it back.
    expect(store.put(record('run_a', 'i1', 'thr_a'))).to.equal(false);
    expect(store.get('run_a', 'i1')!.state).to.equal(InteractionState.ANSWERED);
    expect(store.pending().map((r) => r.interaction!.id)).to.deep.equal(['i2', 'i3'], 'oldest first');
    expect(asked).to.deep.equal(['i3']);
  });

  it('after the stream breaks it reconnects; the new snapshot drops what was resolved meanwhile and tells what was asked', async () => {
    const server = feed();
    store = new InteractionStore(server.clients);
    const asked: string[] = [];
    store.addEventListener('asked', (e) => asked.push((e as CustomEvent<InteractionRecord>).detail.interaction!.id));
    store.start();
    server.push({ case: 'snapshot', value: { interactions: [record('run_a', 'i1', 'thr_a')] } as never });
    await waitFor(() => store!.pendingCount === 1);
    server.push(new ConnectError('replica went away', Code.Unavailable));
    await waitFor(() => store!.streamError);
    server.push({ case: 'snapshot', value: { interactions: [record('run_b', 'i2', 'thr_b')] } as never });
    await waitFor(() => server.connections() === 2 && store!.get('run_b', 'i2'));
    expect(store.streamError).to.equal(undefined);
    expect(store.pending().map((r) => r.interaction!.id)).to.deep.equal(['i2']);
    expect(asked).to.deep.equal(['i2']);
  });

  it('loads a run\'s resolved interactions once, for whether their answers reached the machine', async () => {
    const server = feed();
    store = new InteractionStore(server.clients);
    await store.loadRun('run_b');
    expect(store.get('run_b', 'i9')!.delivered).to.equal(true);
    expect(store.pendingCount).to.equal(0);
  });

  it('the header counts what waits across threads and links to the oldest one\'s thread', async () => {
    const server = feed();
    store = new InteractionStore(server.clients);
    const host = document.createElement('div');
    document.body.append(host);
    new ContextProvider(host, { context: interactionsContext, initialValue: store });
    const el = await fixture<LinkNeedsYou>(html`<link-needs-you></link-needs-you>`, { parentNode: host });
    expect(el.shadowRoot!.querySelector('a')).to.equal(null, 'nothing when nothing waits');
    store.start();
    server.push({ case: 'snapshot', value: { interactions: [record('run_b', 'i2', 'thr_b'), record('run_a', 'i1', 'thr_a')] } as never });
    await waitFor(() => el.shadowRoot!.querySelector('a'));
    const link = el.shadowRoot!.querySelector('a')!;
    expect(link.textContent).to.equal('2 need you');
    expect(link.getAttribute('href')).to.equal('#/threads/thr_a');
    server.push({ case: 'changed', value: record('run_a', 'i1', 'thr_a', InteractionState.ANSWERED) });
    await waitFor(() => el.shadowRoot!.querySelector('a')?.textContent === '1 needs you');
  });
});

async function waitFor(condition: () => unknown, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
