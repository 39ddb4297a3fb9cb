import { expect, fixture, html } from '@open-wc/testing';
import { create } from '@bufbuild/protobuf';
import { ModelTier, ThreadMessageSchema, ThreadSchema } from '../../gen/link/v1/run_pb.js';
import { UserSchema } from '../../gen/link/v1/user_service_pb.js';
import { ContextProvider } from '@lit/context';
import type { LinkComposer } from '../src/link-composer.js';
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

  it('says why Enter sent nothing while a run is in progress, keeping the text', async () => {
    const el = await fixture<LinkComposer>(html`<link-composer .links=${[machine()]} busy></link-composer>`, { parentNode: withUser('usr_1') });
    const textarea = el.shadowRoot!.querySelector('textarea')!;
    textarea.value = 'and then?';
    textarea.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', cancelable: true }));
    await el.updateComplete;
    expect(el.shadowRoot!.querySelector('[data-testid=send-notice]')!.textContent).to.contain('a run is in progress');
    expect(textarea.value).to.equal('and then?');
  });
});
