import { expect, fixture, html } from '@open-wc/testing';
import { create } from '@bufbuild/protobuf';
import { ContextProvider } from '@lit/context';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  InteractionDecision,
  InteractionKind,
  InteractionState,
  PermissionMode,
  RunEventSchema,
  RunSchema,
  RunState,
  ThreadSchema,
  type RunEvent,
} from '../../gen/link/v1/run_pb.js';
import { InteractionRecordSchema, ThreadService, type SendMessageRequest } from '../../gen/link/v1/thread_service_pb.js';
import { InteractionStore, interactionsContext } from '../src/interactions.js';
import { ThreadDirectory } from '../src/thread-directory.js';
import type { LinkRunView } from '../src/link-run-view.js';
import type { LinkThreadList } from '../src/link-thread-list.js';
import type { LinkThreadView } from '../src/link-thread-view.js';
import type { ApiClients } from '../src/api.js';
import '../src/link-run-view.js';
import '../src/link-thread-list.js';
import '../src/link-thread-view.js';
import { FakeDirectory, inMemoryClients, machine, providerFor } from './helpers.js';

function withStore(clients: ApiClients, links = [machine()], threads?: ThreadDirectory) {
  const store = new InteractionStore(clients);
  const host = providerFor(clients, new FakeDirectory(links), threads);
  new ContextProvider(host, { context: interactionsContext, initialValue: store });
  return { host, store };
}

const run = create(RunSchema, { id: 'run_1', threadId: 'thr_1', harness: 'claude-code', state: RunState.WAITING });
const asks: RunEvent = create(RunEventSchema, {
  seq: 2n,
  event: { case: 'interaction', value: { id: 'i1', kind: InteractionKind.PERMISSION, tool: 'Bash', title: 'Run `npm test`', command: 'npm test', cwd: '/w' } as never },
});
const started = create(RunEventSchema, { seq: 1n, event: { case: 'started', value: { model: 'claude-sonnet-5' } as never } });
const resolved = create(RunEventSchema, {
  seq: 3n,
  event: { case: 'interactionResolved', value: { interactionId: 'i1', state: InteractionState.ANSWERED, answer: { decision: InteractionDecision.ALLOW, answeredBy: 'ada' } } as never },
});

describe('an interactive run on the page', () => {
  it('the run shows its permission request as a card and says it waits for the user, until it is resolved', async () => {
    const { host } = withStore(inMemoryClients());
    const el = await fixture<LinkRunView>(html`<link-run-view .run=${run} .events=${[started, asks]}></link-run-view>`, { parentNode: host });
    const root = el.shadowRoot!;
    const card = root.querySelector('link-interaction-card')!;
    await card.updateComplete;
    expect(card.shadowRoot!.querySelector('section')!.dataset.state).to.equal('pending');
    expect(root.querySelector('[data-testid=run-waiting]')!.textContent).to.equal('waiting for you');
    expect(root.querySelector('section.run')!.getAttribute('data-status')).to.equal('waiting');

    el.events = [started, asks, resolved];
    await el.updateComplete;
    await card.updateComplete;
    expect(card.shadowRoot!.querySelector('section')!.dataset.state).to.equal('answered');
    expect(card.shadowRoot!.querySelector('[data-testid=outcome]')!.textContent).to.contain('Approved');
    expect(root.querySelector('[data-testid=run-waiting]')).to.equal(null);
    expect(root.querySelectorAll('link-interaction-card').length).to.equal(1, 'the resolution is the same card');
  });

  it('a pending card says when the approval timeout will deny it, and follows the store when it is answered elsewhere', async () => {
    const { host, store } = withStore(inMemoryClients());
    const deadline = new Date(Date.UTC(2026, 11, 1, 13, 30));
    const record = (state: InteractionState, delivered = false) =>
      create(InteractionRecordSchema, {
        runId: 'run_1',
        threadId: 'thr_1',
        state,
        delivered,
        deadline: timestampFromDate(deadline),
        answer: state === InteractionState.ANSWERED ? { decision: InteractionDecision.DENY, answeredBy: 'grace' } : undefined,
        interaction: asks.event.value as never,
      });
    store.put(record(InteractionState.PENDING));
    const el = await fixture<LinkRunView>(html`<link-run-view .run=${run} .events=${[started, asks]}></link-run-view>`, { parentNode: host });
    const card = el.shadowRoot!.querySelector('link-interaction-card')!;
    await card.updateComplete;
    expect(card.shadowRoot!.querySelector('[data-testid=deadline]')!.textContent).to.contain(deadline.toLocaleTimeString());
    store.put(record(InteractionState.ANSWERED));
    await waitFor(() => card.shadowRoot!.querySelector('section')!.dataset.state === 'answered');
    expect(card.shadowRoot!.querySelector('[data-testid=outcome]')!.textContent).to.contain('Denied');
    expect(card.shadowRoot!.querySelector('[data-testid=delivery]')!.textContent).to.contain('On its way');
    expect(el.shadowRoot!.querySelector('[data-testid=run-waiting]')).to.equal(null, 'answered elsewhere: no longer waiting');
    store.put(record(InteractionState.ANSWERED, true));
    await waitFor(() => card.shadowRoot!.querySelector('[data-testid=delivery]')!.textContent === 'Reached the machine.');
  });

  it('the sidebar says which threads need the user, and names the WAITING state', async () => {
    const clients = inMemoryClients((router) =>
      router.service(ThreadService, {
        async *watchThreads() {
          const threads = [create(ThreadSchema, { id: 'thr_1', title: 'asks', lastRunState: RunState.WAITING }), create(ThreadSchema, { id: 'thr_2', title: 'quiet', lastRunState: RunState.RUNNING })];
          yield { change: { case: 'snapshot', value: { threads } } };
          await new Promise(() => undefined); // then nothing changes
        },
      } as never),
    );
    const threads = new ThreadDirectory(clients);
    threads.start();
    const { host, store } = withStore(clients, [machine()], threads);
    const el = await fixture<LinkThreadList>(html`<link-thread-list></link-thread-list>`, { parentNode: host });
    await waitFor(() => el.shadowRoot!.querySelectorAll('a').length === 2);
    const badge = (id: string) => el.shadowRoot!.querySelector(`[data-thread-id=${id}] link-needs-you-badge`)!.shadowRoot!.querySelector('[data-testid=needs-you]');
    expect(el.shadowRoot!.querySelector('[data-thread-id=thr_1] [data-testid=thread-state]')!.textContent).to.equal('waiting for you');
    expect(badge('thr_1')).to.equal(null);
    for (const id of ['i1', 'i2']) store.put(create(InteractionRecordSchema, { runId: 'run_1', threadId: 'thr_1', state: InteractionState.PENDING, interaction: { id } }));
    await waitFor(() => badge('thr_1'));
    expect(badge('thr_1')!.textContent).to.equal('needs you · 2');
    expect(badge('thr_2')).to.equal(null);
    threads.stop();
  });

  it('the composer sends the permission mode; auto outside bwrap is sent only once confirmed', async () => {
    const sent: SendMessageRequest[] = [];
    const thread = (provider: string, id: string) => create(ThreadSchema, { id, title: 't', harness: 'claude-code', linkId: 'lnk_1', sandboxProvider: provider });
    let provider = 'directory';
    const clients = inMemoryClients((router) =>
      router.service(ThreadService, {
        async getThread(request: { threadId: string }) {
          return { thread: thread(provider, request.threadId), messages: [], runs: [] };
        },
        async sendMessage(request: SendMessageRequest) {
          sent.push(request);
          return { runId: `run_${sent.length}`, messageId: 'm' };
        },
      } as never),
    );
    const { host } = withStore(clients);
    const el = await fixture<LinkThreadView>(html`<link-thread-view threadId="thr_1"></link-thread-view>`, { parentNode: host });
    await waitFor(() => el.shadowRoot!.querySelector('h2.title'));
    const composer = el.shadowRoot!.querySelector('link-composer')!;
    const mode = composer.shadowRoot!.querySelector('link-permission-mode')!;
    const select = mode.shadowRoot!.querySelector('select')!;
    const textarea = composer.shadowRoot!.querySelector('textarea')!;
    const sendText = (text: string) => {
      textarea.value = text;
      textarea.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, composed: true, cancelable: true }));
    };
    expect(select.selectedOptions[0].textContent).to.equal('Allow edits', 'edits is the default');
    sendText('first');
    await waitFor(() => sent.length === 1);
    expect([sent[0].permissionMode, sent[0].confirmAuto]).to.deep.equal([PermissionMode.EDITS, false]);

    select.value = String(PermissionMode.AUTO);
    select.dispatchEvent(new Event('change'));
    const dialog = mode.shadowRoot!.querySelector('dialog')!;
    sendText('cancelled');
    await waitFor(() => dialog.open);
    expect(dialog.textContent).to.contain('does not run in a bwrap sandbox');
    [...dialog.querySelectorAll('button')].find((b) => b.textContent === 'Cancel')!.click();
    await waitFor(() => !dialog.open);
    await new Promise((r) => setTimeout(r, 50));
    expect(sent.length).to.equal(1, 'cancelled: not sent');

    sendText('confirmed');
    await waitFor(() => dialog.open);
    mode.shadowRoot!.querySelector<HTMLButtonElement>('[data-testid=confirm-auto]')!.click();
    await waitFor(() => sent.length === 2);
    expect([sent[1].text, sent[1].permissionMode, sent[1].confirmAuto]).to.deep.equal(['confirmed', PermissionMode.AUTO, true]);

    // A bwrap thread: auto needs no confirmation.
    provider = 'bwrap';
    el.threadId = 'thr_2';
    await waitFor(() => composer.thread?.sandboxProvider === 'bwrap');
    await composer.updateComplete;
    sendText('in bwrap');
    await waitFor(() => sent.length === 3);
    expect(dialog.open).to.equal(false);
    expect([sent[2].permissionMode, sent[2].confirmAuto]).to.deep.equal([PermissionMode.AUTO, false]);
  });
});

async function waitFor(condition: () => unknown, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
