import { expect, fixture, html } from '@open-wc/testing';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { LinkSchema, LinkState, type Link } from '../../gen/link/v1/types_pb.js';
import type { LinkMachineCard } from '../src/link-machine-card.js';
import type { LinkMachineIndicator } from '../src/link-machine-indicator.js';
import '../src/link-machine-card.js';
import '../src/link-machine-indicator.js';
import { clockTime } from '../src/presence.js';
import { FakeDirectory, inMemoryClients, machine, providerFor } from './helpers.js';

function asleep(sinceMs: number, queued = 0): Link {
  return create(LinkSchema, { ...machine({ hostname: 'laptop', online: false }), state: LinkState.ASLEEP, asleepSince: timestampFromMs(sinceMs), queuedMessages: queued });
}

describe('presence: asleep, offline, queued', () => {
  it('clock times are the local time today, with the date on another day', () => {
    const now = new Date(2026, 11, 1, 15, 0);
    expect(clockTime(new Date(2026, 11, 1, 9, 12), now)).to.equal(new Date(2026, 11, 1, 9, 12).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
    expect(clockTime(new Date(2026, 10, 28, 9, 12), now)).to.match(/28/);
    expect(clockTime(new Date(2025, 10, 28, 9, 12), now)).to.match(/2025/);
  });

  it('the card of a machine that reported suspend says "Asleep since" and how many messages wait for it', async () => {
    const since = Date.now() - 60_000;
    const link = asleep(since, 2);
    const el = await fixture<LinkMachineCard>(html`<link-machine-card .link=${link}></link-machine-card>`, { parentNode: providerFor(inMemoryClients(), new FakeDirectory([link])) });
    const root = el.shadowRoot!;
    expect(root.querySelector<HTMLElement>('[part=card]')!.dataset.state).to.equal('asleep');
    expect(root.querySelector('[data-testid=link-status]')!.textContent!.trim()).to.equal(`Asleep since ${clockTime(new Date(since))}`);
    expect(root.querySelector('[data-testid=link-queued]')!.textContent!.trim()).to.equal('2 queued');
  });

  it('an offline machine says "Offline since", and nothing is queued when nothing waits', async () => {
    const seen = Date.now() - 3 * 86_400_000;
    const link = create(LinkSchema, { ...machine({ hostname: 'desk', online: false }), lastSeenAt: timestampFromMs(seen) });
    const el = await fixture<LinkMachineCard>(html`<link-machine-card .link=${link}></link-machine-card>`, { parentNode: providerFor(inMemoryClients(), new FakeDirectory([link])) });
    const root = el.shadowRoot!;
    expect(root.querySelector<HTMLElement>('[part=card]')!.dataset.state).to.equal('offline');
    expect(root.querySelector('[data-testid=link-status]')!.textContent!.trim()).to.equal(`Offline since ${clockTime(new Date(seen))}`);
    expect(root.querySelector('[data-testid=link-queued]')).to.equal(null);
  });

  it("the header's machine says asleep, with its queue, in its label and its popover", async () => {
    const since = Date.now() - 60_000;
    const directory = new FakeDirectory([asleep(since, 3)]);
    const el = await fixture<LinkMachineIndicator>(html`<link-machine-indicator></link-machine-indicator>`, { parentNode: providerFor(inMemoryClients(), directory) });
    const root = el.shadowRoot!;
    const indicator = root.querySelector<HTMLElement>('[data-testid=machine-indicator]')!;
    expect(indicator.dataset.state).to.equal('asleep');
    expect(indicator.querySelector('[data-testid=machine-queued]')!.textContent).to.equal('3 queued');
    expect(indicator.querySelector('button')!.getAttribute('aria-label')).to.equal(`laptop, asleep since ${clockTime(new Date(since))}, 3 queued`);
    indicator.querySelector('button')!.click();
    await el.updateComplete;
    expect(root.querySelector('[data-testid=machine-presence]')!.textContent).to.equal(`Asleep since ${clockTime(new Date(since))} · 3 queued`);
  });
});
