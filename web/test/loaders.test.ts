import { expect, fixture, html } from '@open-wc/testing';
import { create } from '@bufbuild/protobuf';
import { ThreadSchema } from '../../gen/link/v1/run_pb.js';
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

async function waitFor(condition: () => unknown, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
