import { expect, fixture, html } from '@open-wc/testing';
import type { LinkMachineIndicator } from '../src/link-machine-indicator.js';
import '../src/link-machine-indicator.js';
import { FakeDirectory, inMemoryClients, machine, providerFor } from './helpers.js';

describe('the machine indicator', () => {
  it('shows each machine with a green dot when online, and its capabilities in a popover', async () => {
    const directory = new FakeDirectory([machine({ id: 'lnk_a', hostname: 'laptop', loggedOut: ['codex'], missing: ['gemini'] }), machine({ id: 'lnk_b', hostname: 'desk', online: false })]);
    const el = await fixture<LinkMachineIndicator>(html`<link-machine-indicator></link-machine-indicator>`, { parentNode: providerFor(inMemoryClients(), directory) });
    const root = el.shadowRoot!;
    const machines = [...root.querySelectorAll<HTMLElement>('[data-testid=machine-indicator]')];
    expect(machines.map((m) => [m.textContent!.trim(), m.dataset.state])).to.deep.equal([
      ['laptop', 'online'],
      ['desk', 'offline'],
    ]);
    expect(getComputedStyle(machines[0].querySelector('.dot')!).backgroundColor).to.equal('rgb(18, 183, 106)');
    machines[0].querySelector('button')!.click();
    await el.updateComplete;
    const popover = root.querySelector('[role=dialog]')!;
    expect(popover.textContent).to.contain('Claude Code');
    expect(popover.textContent).to.contain('1.2.3 · logged in');
    expect(popover.textContent).to.contain('Codex');
    expect(popover.textContent).to.contain('not logged in');
    expect(popover.textContent).to.match(/Gemini CLI:\s*not installed/);
    expect(popover.textContent).to.contain('online · 0 running');
    expect(root.querySelector('[data-testid=none-online]')).to.equal(null);
  });

  it('follows changes, and says when no machine is online', async () => {
    const directory = new FakeDirectory([machine({ hostname: 'laptop' })]);
    const el = await fixture<LinkMachineIndicator>(html`<link-machine-indicator></link-machine-indicator>`, { parentNode: providerFor(inMemoryClients(), directory) });
    directory.set([machine({ hostname: 'laptop', online: false })]);
    await el.updateComplete;
    expect(el.shadowRoot!.querySelector<HTMLElement>('[data-testid=machine-indicator]')!.dataset.state).to.equal('offline');
    expect(el.shadowRoot!.querySelector('[data-testid=none-online]')!.textContent).to.contain('No machine online');
  });
});
