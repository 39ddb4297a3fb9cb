import { expect, fixture, html } from '@open-wc/testing';
import { create } from '@bufbuild/protobuf';
import { MessageState, RunEventSchema, RunSchema, RunState, RunStatus, ThreadMessageSchema, ThreadSchema } from '../../gen/link/v1/run_pb.js';
import { ThreadService } from '../../gen/link/v1/thread_service_pb.js';
import type { LinkThreadView } from '../src/link-thread-view.js';
import '../src/link-thread-view.js';
import { FakeDirectory, inMemoryClients, providerFor } from './helpers.js';

/** A response the test holds back until it calls `release`; `answered` settles once the server has sent it. */
function heldBack() {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let answered!: () => void;
  const sent = new Promise<void>((resolve) => (answered = resolve));
  return { gate, release, sent, answered };
}

/** Lets every answer already sent reach the element and its render (one task, then the update). */
async function settle(el: { updateComplete: Promise<unknown> }): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  await el.updateComplete;
}

describe('loaders: a late response never overwrites a newer one', () => {
  it('the thread view shows the thread switched to, even when the one switched away from answers last', async () => {
    const old = heldBack();
    const clients = inMemoryClients((router) =>
      router.service(ThreadService, {
        async getThread(request: { threadId: string }) {
          if (request.threadId === 'thr_old') {
            await old.gate;
            old.answered();
          }
          return { thread: create(ThreadSchema, { id: request.threadId, title: `title of ${request.threadId}` }), messages: [], runs: [] };
        },
      } as never),
    );
    const host = providerFor(clients, new FakeDirectory([]));
    const el = await fixture<LinkThreadView>(html`<link-thread-view threadId="thr_old"></link-thread-view>`, { parentNode: host });
    el.threadId = 'thr_new';
    const title = () => el.shadowRoot!.querySelector('h2.title')?.textContent;
    await waitFor(() => title() === 'title of thr_new');

    old.release();
    await old.sent;
    await settle(el);
    expect(title()).to.equal('title of thr_new');
  });
});

describe('switching threads', () => {
  it('each run view shows its own run\'s events, never those of the run that stood in its place', async () => {
    const watched: string[] = [];
    const clients = inMemoryClients((router) =>
      router.service(ThreadService, {
        async getThread(request: { threadId: string }) {
          const id = request.threadId;
          const messages = [1, 2].map((n) => create(ThreadMessageSchema, { id: `msg_${id}_${n}`, threadId: id, text: `message ${n}`, state: MessageState.SENT, runId: `run_${id}_${n}` }));
          const runs = [1, 2].map((n) => create(RunSchema, { id: `run_${id}_${n}`, threadId: id, harness: 'shell', state: RunState.COMPLETED }));
          return { thread: create(ThreadSchema, { id, title: `title of ${id}`, harness: 'shell' }), messages, runs };
        },
        async *watchRun(request: { runId: string }) {
          watched.push(request.runId);
          yield {
            events: [
              create(RunEventSchema, { seq: 1n, event: { case: 'log', value: { text: `output of ${request.runId}` } as never } }),
              create(RunEventSchema, { seq: 2n, event: { case: 'done', value: { status: RunStatus.COMPLETED } as never } }),
            ],
          };
        },
      } as never),
    );
    const host = providerFor(clients, new FakeDirectory([]));
    const el = await fixture<LinkThreadView>(html`<link-thread-view threadId="thr_a"></link-thread-view>`, { parentNode: host });
    const logs = () => [...el.shadowRoot!.querySelectorAll('link-run-view')].map((view) => view.shadowRoot?.querySelector('[data-kind=log]')?.textContent?.trim() ?? '');
    await waitFor(() => logs().join() === 'output of run_thr_a_1,output of run_thr_a_2');

    el.threadId = 'thr_b';
    await waitFor(() => el.shadowRoot!.querySelector('h2.title')?.textContent === 'title of thr_b');
    await waitFor(() => logs().every((log) => log !== ''));
    expect(logs()).to.deep.equal(['output of run_thr_b_1', 'output of run_thr_b_2']);
    expect(watched).to.include.members(['run_thr_b_1', 'run_thr_b_2']);
  });
});

async function waitFor(condition: () => unknown, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
