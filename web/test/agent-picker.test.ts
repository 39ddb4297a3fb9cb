import { expect, fixture, html, oneEvent } from '@open-wc/testing';
import { ModelTier } from '../../gen/link/v1/run_pb.js';
import type { LinkAgentPicker, AgentChoice } from '../src/link-agent-picker.js';
import '../src/link-agent-picker.js';
import { machine } from './helpers.js';

async function openPicker(el: LinkAgentPicker): Promise<ShadowRoot> {
  el.shadowRoot!.querySelector<HTMLButtonElement>('button.trigger')!.click();
  await el.updateComplete;
  return el.shadowRoot!;
}

const section = (root: ShadowRoot, harness: string) => root.querySelector<HTMLElement>(`section[data-harness='${harness}']`)!;

describe('the agent and model picker', () => {
  it('has a section per harness with the tiers, on the machine, and picks one', async () => {
    const el = await fixture<LinkAgentPicker>(html`<link-agent-picker .link=${machine({ hostname: 'studio' })}></link-agent-picker>`);
    const root = await openPicker(el);
    const sections = [...root.querySelectorAll('section')].map((s) => s.getAttribute('aria-label'));
    expect(sections).to.deep.equal(['Claude Code', 'Codex', 'Gemini CLI', 'Shell']);
    expect(section(root, 'codex').textContent).to.contain('on studio');
    const tiers = [...section(root, 'codex').querySelectorAll('[role=radio]')].map((b) => b.textContent!.trim());
    expect(tiers).to.deep.equal(['Fast', 'Smart', 'Thinking']);
    const picked = oneEvent(el, 'link-pick');
    section(root, 'codex').querySelectorAll<HTMLButtonElement>('[role=radio]')[2].click();
    const { detail } = (await picked) as CustomEvent<AgentChoice>;
    expect(detail).to.deep.equal({ harness: 'codex', tier: ModelTier.THINKING, model: '' });
    await el.updateComplete;
    expect(root.querySelector('[role=dialog]')).to.equal(null, 'it closed');
    expect(root.querySelector('button.trigger')!.textContent).to.contain('Codex · Thinking');
  });

  it('shows a CLI that is missing as disabled with the reason and the fix, not hidden', async () => {
    const el = await fixture<LinkAgentPicker>(html`<link-agent-picker .link=${machine({ missing: ['gemini'], loggedOut: ['codex'] })}></link-agent-picker>`);
    const root = await openPicker(el);
    const gemini = section(root, 'gemini');
    expect(gemini.getAttribute('aria-disabled')).to.equal('true');
    expect(gemini.querySelector('[data-testid=disabled-reason]')!.textContent).to.contain('Gemini CLI is not installed on studio');
    expect(gemini.textContent).to.contain('npm install -g @google/gemini-cli');
    expect([...gemini.querySelectorAll('button')].every((b) => b.disabled)).to.equal(true);
    expect(section(root, 'codex').getAttribute('aria-disabled')).to.equal('false');
    expect(section(root, 'codex').textContent).to.contain('Not logged in');
    expect(section(root, 'codex').textContent).to.contain('OPENAI_API_KEY', 'the API-key way in, as linkd doctor says');
    expect(section(root, 'codex').querySelector('.warn code')!.textContent).to.equal('codex login', 'commands shown as code, not backticks');
  });

  it('disables every section of an offline machine, saying how to bring it back', async () => {
    const el = await fixture<LinkAgentPicker>(html`<link-agent-picker .link=${machine({ online: false })}></link-agent-picker>`);
    const root = await openPicker(el);
    for (const s of root.querySelectorAll('section')) {
      expect(s.getAttribute('aria-disabled')).to.equal('true');
      expect(s.textContent).to.contain('studio is offline');
      expect(s.querySelector('.fix code')!.textContent).to.equal('linkd start');
      expect(s.textContent).to.not.contain('`');
      expect(s.textContent).to.contain('or pick another machine');
    }
  });

  it('for a thread pinned to an offline machine, does not suggest another machine', async () => {
    const value = { harness: 'claude-code', tier: ModelTier.SMART, model: '' };
    const el = await fixture<LinkAgentPicker>(html`<link-agent-picker locked .value=${value} .link=${machine({ online: false })}></link-agent-picker>`);
    const root = await openPicker(el);
    const own = section(root, 'claude-code');
    expect(own.textContent).to.contain('this thread runs only there');
    expect(own.textContent).to.not.contain('pick another machine');
  });

  it('when locked, shows the lock and keeps only the thread\'s harness; its tiers and the model stay changeable', async () => {
    const value = { harness: 'claude-code', tier: ModelTier.SMART, model: '' };
    const el = await fixture<LinkAgentPicker>(html`<link-agent-picker locked .value=${value} .link=${machine()}></link-agent-picker>`);
    expect(el.shadowRoot!.querySelector('button.trigger [data-testid=lock-icon] svg')).to.not.equal(null);
    const root = await openPicker(el);
    expect(section(root, 'claude-code').getAttribute('aria-disabled')).to.equal('false');
    for (const other of ['codex', 'gemini', 'shell']) {
      expect(section(root, other).getAttribute('aria-disabled')).to.equal('true');
      expect(section(root, other).textContent).to.contain('Start a new thread');
    }
    const input = root.querySelector<HTMLInputElement>('input[aria-label="Explicit model name"]')!;
    input.value = 'claude-opus-4-8';
    const picked = oneEvent(el, 'link-pick');
    input.dispatchEvent(new Event('change'));
    expect(((await picked) as CustomEvent<AgentChoice>).detail.model).to.equal('claude-opus-4-8');
  });

  it('works with the keyboard: arrows move between choices, Escape closes and returns focus', async () => {
    const el = await fixture<LinkAgentPicker>(html`<link-agent-picker .link=${machine()}></link-agent-picker>`);
    const root = await openPicker(el);
    await new Promise((r) => setTimeout(r, 0));
    const first = root.activeElement as HTMLElement;
    expect(first?.getAttribute('role')).to.equal('radio');
    first.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown', bubbles: true, composed: true }));
    expect(root.activeElement).to.not.equal(first);
    (root.activeElement as HTMLElement).dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true, composed: true }));
    await el.updateComplete;
    expect(root.querySelector('[role=dialog]')).to.equal(null);
    expect(root.activeElement?.classList.contains('trigger')).to.equal(true);
  });
});
