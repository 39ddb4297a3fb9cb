import { expect, fixture, html } from '@open-wc/testing';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { RunState, ThreadSchema, type Thread } from '../../gen/link/v1/run_pb.js';
import { ThreadService, type WatchThreadsResponse } from '../../gen/link/v1/thread_service_pb.js';
import { Channel } from '../../common/channel.js';
import type { LinkThreadList } from '../src/link-thread-list.js';
import { ThreadDirectory } from '../src/thread-directory.js';
import '../src/link-thread-list.js';
import { FakeDirectory, inMemoryClients, providerFor } from './helpers.js';

const thread = (id: string, title: string, extra: Omit<Partial<Thread>, '$typeName'> = {}) =>
  create(ThreadSchema, { id, title, updatedAt: timestampFromDate(new Date()), ...extra });

/** A server whose WatchThreads sends a snapshot and then what the test pushes; UpdateThread and DeleteThread as the real one answers. */
function server(initial: Thread[]) {
  const changes = new Channel<WatchThreadsResponse['change']>();
  const stored = new Map(initial.map((t) => [t.id, t]));
  const deleted: string[] = [];
  const clients = inMemoryClients((router) =>
    router.service(ThreadService, {
      async *watchThreads() {
        yield { change: { case: 'snapshot', value: { threads: [...stored.values()] } } };
        for await (const change of changes) yield { change };
      },
      async updateThread(request: { threadId: string; title?: string; archived?: boolean }) {
        const found = stored.get(request.threadId)!;
        const next = create(ThreadSchema, { ...found, title: request.title ?? found.title, archived: request.archived ?? found.archived });
        stored.set(next.id, next);
        return { thread: next };
      },
      async deleteThread(request: { threadId: string }) {
        deleted.push(request.threadId);
        stored.delete(request.threadId);
        return {};
      },
    } as never),
  );
  return { clients, changes, deleted };
}

async function mount(initial: Thread[]) {
  const api = server(initial);
  const threads = new ThreadDirectory(api.clients);
  threads.start();
  const el = await fixture<LinkThreadList>(html`<link-thread-list></link-thread-list>`, { parentNode: providerFor(api.clients, new FakeDirectory([]), threads) });
  const titles = () => [...el.shadowRoot!.querySelectorAll('.title')].map((t) => t.textContent);
  return { ...api, el, threads, titles, stop: () => threads.stop() };
}

async function waitFor(condition: () => unknown, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the thread list', () => {
  it('shows threads as the server streams them: a new one on top, with its machine, time and state, and drops a deleted one', async () => {
    const list = await mount([thread('thr_a', 'ls -la', { harness: 'shell', linkName: 'laptop' })]);
    await waitFor(() => list.titles().join() === 'ls -la');
    list.changes.push({ case: 'changed', value: thread('thr_b', 'ls -la', { harness: 'shell', linkName: 'desk', lastRunState: RunState.RUNNING }) });
    await waitFor(() => list.titles().length === 2);
    const root = list.el.shadowRoot!;
    expect([...root.querySelectorAll('[data-testid=thread-machine]')].map((m) => m.textContent)).to.deep.equal(['on desk', 'on laptop']);
    expect(root.querySelectorAll('[data-testid=thread-time]').length).to.equal(2);
    expect(root.querySelector('[data-testid=thread-state]')!.textContent).to.equal('running');
    list.changes.push({ case: 'removedThreadId', value: 'thr_a' });
    await waitFor(() => list.titles().length === 1);
    expect(root.querySelector('[data-testid=thread-machine]')!.textContent).to.equal('on desk');
    list.stop();
  });

  it('searches titles, and shows archived threads apart', async () => {
    const list = await mount([thread('thr_a', 'Fix the build'), thread('thr_b', 'deploy'), thread('thr_c', 'old build', { archived: true })]);
    await waitFor(() => list.titles().length === 2);
    const search = list.el.shadowRoot!.querySelector<HTMLInputElement>('input[type=search]')!;
    search.value = 'BUILD';
    search.dispatchEvent(new Event('input'));
    await waitFor(() => list.titles().join() === 'Fix the build');
    list.el.shadowRoot!.querySelector<HTMLButtonElement>('button[aria-pressed]')!.click();
    await waitFor(() => list.titles().join() === 'old build');
    list.stop();
  });

  it('renames, archives and deletes a thread from its menu', async () => {
    const list = await mount([thread('thr_a', 'ls -la'), thread('thr_b', 'keep me')]);
    await waitFor(() => list.titles().length === 2);
    const root = list.el.shadowRoot!;
    const menu = (title: string) => root.querySelector<HTMLButtonElement>(`button[aria-label="Actions for ${title}"]`)!;
    const item = (name: string) => [...root.querySelectorAll<HTMLButtonElement>('[role=menuitem]')].find((b) => b.textContent!.startsWith(name))!;

    menu('ls -la').click();
    await list.el.updateComplete;
    item('Rename').click();
    await list.el.updateComplete;
    const input = root.querySelector<HTMLInputElement>('input.rename')!;
    input.value = 'list the files';
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }));
    await waitFor(() => list.titles().includes('list the files'));

    menu('list the files').click();
    await list.el.updateComplete;
    item('Archive').click();
    await waitFor(() => list.titles().join() === 'keep me');

    menu('keep me').click();
    await list.el.updateComplete;
    item('Delete').click();
    await list.el.updateComplete;
    root.querySelector<HTMLElement>('[role=group][aria-label="Confirm delete"]')!.querySelector<HTMLButtonElement>('button.danger')!.click();
    await waitFor(() => list.titles().length === 0);
    expect(list.deleted).to.deep.equal(['thr_b']);
    list.stop();
  });
});
