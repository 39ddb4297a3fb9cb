import { expect, fixture, html } from '@open-wc/testing';
import type { LinkAgentPicker } from '../src/link-agent-picker.js';
import type { LinkMachineCard } from '../src/link-machine-card.js';
import type { LinkMachineIndicator } from '../src/link-machine-indicator.js';
import '../src/link-agent-picker.js';
import '../src/link-machine-card.js';
import '../src/link-machine-indicator.js';
import { FakeDirectory, inMemoryClients, machine, providerFor } from './helpers.js';

/** An online machine whose linkd has no dispatch key from pairing: it refuses every run. */
function notPaired() {
  const link = machine({ hostname: 'laptop' });
  link.dispatchKeyMissing = true;
  return link;
}

describe('a machine that is not paired properly', () => {
  it('its card says it cannot run and how to pair it again', async () => {
    const el = await fixture<LinkMachineCard>(html`<link-machine-card .link=${notPaired()}></link-machine-card>`, {
      parentNode: providerFor(inMemoryClients(), new FakeDirectory([])),
    });
    const note = el.shadowRoot!.querySelector('[data-testid=not-paired]');
    expect(note?.textContent).to.contain('Cannot run: not paired properly — pair again');
    expect(note?.textContent).to.contain('linkd login --code');
  });

  it('the indicator says so, and every section of the picker is disabled with the fix', async () => {
    const directory = new FakeDirectory([notPaired()]);
    const indicator = await fixture<LinkMachineIndicator>(html`<link-machine-indicator></link-machine-indicator>`, { parentNode: providerFor(inMemoryClients(), directory) });
    const button = indicator.shadowRoot!.querySelector<HTMLButtonElement>('[data-testid=machine-indicator] button')!;
    expect(button.getAttribute('aria-label')).to.equal('laptop, online, cannot run: not paired properly — pair again');
    button.click();
    await indicator.updateComplete;
    expect(indicator.shadowRoot!.querySelector('[data-testid=not-paired]')?.textContent).to.contain('cannot run: not paired properly — pair again');

    const picker = await fixture<LinkAgentPicker>(html`<link-agent-picker .link=${notPaired()}></link-agent-picker>`);
    picker.shadowRoot!.querySelector<HTMLButtonElement>('button.trigger')!.click();
    await picker.updateComplete;
    for (const section of picker.shadowRoot!.querySelectorAll('section')) {
      expect(section.getAttribute('aria-disabled')).to.equal('true');
      expect(section.textContent).to.contain('laptop cannot run: not paired properly');
      expect(section.textContent).to.contain('linkd login --code');
    }
  });
});
