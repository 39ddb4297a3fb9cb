import { expect, fixture, html, waitUntil } from '@open-wc/testing';
import { create } from '@bufbuild/protobuf';
import { MessageDelivery, ModelTier, ThreadMessageSchema, ThreadSchema } from '../../gen/link/v1/run_pb.js';
import { LinkSchema } from '../../gen/link/v1/types_pb.js';
import { UserSchema } from '../../gen/link/v1/user_service_pb.js';
import { ContextProvider } from '@lit/context';
import type { LinkComposer, SendDetail } from '../src/link-composer.js';
import { rememberChoice, userContext } from '../src/last-choice.js';
import '../src/link-composer.js';
import { machine } from './helpers.js';

function withUser(id: string): HTMLElement {
  const host = document.createElement('div');
  document.body.append(host);
  new ContextProvider(host, { context: userContext, initialValue: create(UserSchema, { id, name: id }) });
  return host;
}

const pickerLabel = (el: LinkComposer) => el.shadowRoot!.querySelector('link-agent-picker')!.shadowRoot!.querySelector('button.trigger')!.textContent!.replace(/\s+/g, ' ').trim();
const send = (el: LinkComposer) => el.shadowRoot!.querySelector<HTMLButtonElement>('button.send')!;

describe('the composer\'s choice of agent', () => {
  beforeEach(() => localStorage.clear());

  it('starts with Shell, and Send enabled, on a machine where only Shell is installed', async () => {
    const link = machine({ hostname: 'vm', missing: ['claude-code', 'codex', 'gemini'] });
    const el = await fixture<LinkComposer>(html`<link-composer .links=${[link]}></link-composer>`, { parentNode: withUser('usr_1') });
    await el.updateComplete;
    expect(pickerLabel(el)).to.equal('Shell ▾');
    expect(el.shadowRoot!.querySelector('[data-testid=send-blocked]')).to.equal(null);
    expect(send(el).disabled).to.equal(false);
  });

  it('starts a new thread with the user\'s last choice of agent, tier and machine', async () => {
    const links = [machine({ id: 'lnk_a', hostname: 'laptop' }), machine({ id: 'lnk_b', hostname: 'desk' })];
    rememberChoice('usr_1', { harness: 'codex', tier: ModelTier.FAST, model: '', linkId: 'lnk_b' });
    const el = await fixture<LinkComposer>(html`<link-composer .links=${links}></link-composer>`, { parentNode: withUser('usr_1') });
    await el.updateComplete;
    expect(pickerLabel(el)).to.contain('Codex · Fast');
    expect(el.shadowRoot!.querySelector<HTMLSelectElement>('select[aria-label=Machine]')!.value).to.equal('lnk_b');
    const other = await fixture<LinkComposer>(html`<link-composer .links=${links}></link-composer>`, { parentNode: withUser('usr_2') });
    expect(pickerLabel(other)).to.contain('Claude Code · Smart', 'another user\'s choice is their own');
  });

  it('keeps an opened thread\'s last model and tier', async () => {
    const link = machine({ id: 'lnk_a' });
    const thread = create(ThreadSchema, { id: 'thr_1', harness: 'claude-code', linkId: 'lnk_a' });
    const last = create(ThreadMessageSchema, { id: 'msg_2', threadId: 'thr_1', tier: ModelTier.THINKING });
    const el = await fixture<LinkComposer>(html`<link-composer .links=${[link]} .thread=${thread} .lastMessage=${last}></link-composer>`, { parentNode: withUser('usr_1') });
    expect(pickerLabel(el)).to.contain('Claude Code · Thinking');
  });

  it('Enter during a run queues the message (it is sent, to run after the run); a steerable harness offers "Send now"', async () => {
    const link = machine();
    const el = await fixture<LinkComposer>(html`<link-composer .links=${[link]} running></link-composer>`, { parentNode: withUser('usr_1') });
    const sent: SendDetail[] = [];
    el.addEventListener('link-send', (e) => sent.push((e as CustomEvent<SendDetail>).detail));
    expect(el.shadowRoot!.querySelector('[data-testid=send-notice]')!.textContent).to.contain('runs after it');
    expect(el.shadowRoot!.querySelector('[data-testid=delivery]')).to.equal(null, 'no choice for a harness that cannot take input mid-turn');
    const textarea = el.shadowRoot!.querySelector('textarea')!;
    textarea.value = 'and then?';
    textarea.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', cancelable: true }));
    await waitUntil(() => sent.length === 1);
    expect(sent[0].text).to.equal('and then?');
    expect(sent[0].delivery).to.equal(MessageDelivery.AFTER_TURN);

    const steerable = create(LinkSchema, { ...link, capabilities: { ...link.capabilities!, harnesses: link.capabilities!.harnesses.map((h) => ({ ...h, steerable: true })) } });
    el.links = [steerable];
    await el.updateComplete;
    const when = el.shadowRoot!.querySelector<HTMLSelectElement>('[data-testid=delivery]')!;
    expect(when.selectedOptions[0].textContent).to.equal('After this turn', 'after the turn by default');
    when.value = String(MessageDelivery.NOW);
    when.dispatchEvent(new Event('change'));
    textarea.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', cancelable: true }));
    await waitUntil(() => sent.length === 2);
    expect(sent[1].delivery).to.equal(MessageDelivery.NOW);
  });

  it('a machine that is offline but known takes the message: "Runs when … is back", with an expiry (24 hours by default)', async () => {
    const away = machine({ hostname: 'laptop', online: false });
    const el = await fixture<LinkComposer>(html`<link-composer .links=${[away]}></link-composer>`, { parentNode: withUser('usr_1') });
    const sent: SendDetail[] = [];
    el.addEventListener('link-send', (e) => sent.push((e as CustomEvent<SendDetail>).detail));
    expect(el.shadowRoot!.querySelector('[data-testid=send-blocked]')).to.equal(null);
    expect(el.shadowRoot!.querySelector('[data-testid=send-waits]')!.textContent).to.contain('Runs when laptop is back');
    const expiry = el.shadowRoot!.querySelector<HTMLSelectElement>('select[aria-label="Expires after"]')!;
    expect([...expiry.options].map((o) => o.textContent)).to.deep.equal(['1 hour', '8 hours', '24 hours', '3 days']);
    expect(expiry.selectedOptions[0].textContent).to.equal('24 hours');
    expiry.value = String(3600);
    expiry.dispatchEvent(new Event('change'));
    const textarea = el.shadowRoot!.querySelector('textarea')!;
    textarea.value = 'when you are back';
    send(el).click();
    await waitUntil(() => sent.length === 1);
    expect(sent[0].expiresInSeconds).to.equal(3600);

    const never = create(LinkSchema, { ...away, capabilities: undefined });
    el.links = [never];
    await el.updateComplete;
    expect(el.shadowRoot!.querySelector('[data-testid=send-blocked]')!.textContent).to.contain('offline', 'a machine never seen cannot be sent to');
  });
});
