import { expect, fixture, html } from '@open-wc/testing';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { MessageState, ThreadMessageSchema } from '../../gen/link/v1/run_pb.js';
import type { LinkQueuedMessage, QueuedEditDetail } from '../src/link-queued-message.js';
import '../src/link-queued-message.js';

const queued = (init: { state?: MessageState; text?: string } = {}) =>
  create(ThreadMessageSchema, {
    id: 'msg_1',
    threadId: 'thr_1',
    text: init.text ?? 'then run the tests',
    state: init.state ?? MessageState.QUEUED,
    expiresAt: timestampFromDate(new Date(Date.now() + 3600_000)),
  });

describe('a queued message', () => {
  it('shows as queued after the current run, and Edit saves the new text (Enter), Withdraw asks to withdraw it', async () => {
    const el = await fixture<LinkQueuedMessage>(html`<link-queued-message .message=${queued()}></link-queued-message>`);
    const root = el.shadowRoot!;
    expect(root.querySelector<HTMLElement>('[data-testid=queued-message]')!.dataset.state).to.equal('queued');
    expect(root.textContent).to.contain('Queued');
    expect(root.textContent).to.contain('runs after the current run');
    expect(root.textContent).to.contain('expires');
    const edits: QueuedEditDetail[] = [];
    const withdrawals: string[] = [];
    el.addEventListener('link-queued-edit', (e) => edits.push((e as CustomEvent<QueuedEditDetail>).detail));
    el.addEventListener('link-queued-withdraw', (e) => withdrawals.push((e as CustomEvent<string>).detail));

    const button = (name: string) => [...root.querySelectorAll('button')].find((b) => b.textContent === name)!;
    button('Edit').click();
    await el.updateComplete;
    const box = root.querySelector('textarea')!;
    expect(box.value).to.equal('then run the tests');
    box.value = 'then run the tests twice';
    box.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', cancelable: true }));
    await el.updateComplete;
    expect(edits).to.deep.equal([{ messageId: 'msg_1', text: 'then run the tests twice' }]);
    expect(root.querySelector('textarea')).to.equal(null, 'back to the text once saved');

    button('Withdraw').click();
    expect(withdrawals).to.deep.equal(['msg_1']);
  });

  it('says it waits for an offline machine', async () => {
    const el = await fixture<LinkQueuedMessage>(html`<link-queued-message .message=${queued()} waitingFor="laptop"></link-queued-message>`);
    expect(el.shadowRoot!.textContent).to.contain('runs when laptop is back');
  });

  it('an expired message says plainly that it never ran, with nothing to edit', async () => {
    const el = await fixture<LinkQueuedMessage>(html`<link-queued-message .message=${queued({ state: MessageState.EXPIRED })}></link-queued-message>`);
    const root = el.shadowRoot!;
    expect(root.querySelector<HTMLElement>('[data-testid=queued-message]')!.dataset.state).to.equal('expired');
    expect(root.textContent).to.contain('Expired');
    expect(root.textContent).to.contain('never ran');
    expect(root.querySelectorAll('button').length).to.equal(0);
  });
});
