import { expect, fixture, html } from '@open-wc/testing';
import { create } from '@bufbuild/protobuf';
import { LinkSchema } from '../../gen/link/v1/types_pb.js';
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

describe('the header\'s machines, by name', () => {
  it('shows the given name, with the hostname in the popover, and tells two machines on one host apart', async () => {
    const one = machine({ id: 'lnk_aaaa', hostname: 'vm' });
    const two = machine({ id: 'lnk_bbbb', hostname: 'vm' });
    const renamed = create(LinkSchema, { ...machine({ id: 'lnk_cccc', hostname: 'vm' }), name: 'build box' });
    const directory = new FakeDirectory([one, two, renamed]);
    const el = await fixture<LinkMachineIndicator>(html`<link-machine-indicator></link-machine-indicator>`, { parentNode: providerFor(inMemoryClients(), directory) });
    const labels = [...el.shadowRoot!.querySelectorAll('[data-testid=machine-indicator] button')].map((b) => b.textContent!.trim());
    expect(labels).to.have.members(['vm (aaaa)', 'vm (bbbb)', 'build box']);
    const button = [...el.shadowRoot!.querySelectorAll<HTMLButtonElement>('[data-testid=machine-indicator] button')].find((b) => b.textContent!.includes('build box'))!;
    button.click();
    await el.updateComplete;
    expect(el.shadowRoot!.querySelector('[data-testid=machine-hostname]')!.textContent).to.equal('vm');
  });

  it('closes the popover on a click outside and on Escape', async () => {
    const directory = new FakeDirectory([machine({ hostname: 'laptop' })]);
    const el = await fixture<LinkMachineIndicator>(html`<link-machine-indicator></link-machine-indicator>`, { parentNode: providerFor(inMemoryClients(), directory) });
    const button = el.shadowRoot!.querySelector<HTMLButtonElement>('[data-testid=machine-indicator] button')!;
    button.click();
    await el.updateComplete;
    expect(el.shadowRoot!.querySelector('[role=dialog]')).not.to.equal(null);
    document.body.click();
    await el.updateComplete;
    expect(el.shadowRoot!.querySelector('[role=dialog]')).to.equal(null, 'closed by a click outside');
    button.click();
    await el.updateComplete;
    document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }));
    await el.updateComplete;
    expect(el.shadowRoot!.querySelector('[role=dialog]')).to.equal(null, 'closed by Escape');
  });
});
