import { expect, fixture, html, waitUntil } from '@open-wc/testing';
import { create } from '@bufbuild/protobuf';
import { SandboxSchema, SandboxState } from '../../gen/link/v1/sandbox_pb.js';
import { SandboxService } from '../../gen/link/v1/sandbox_service_pb.js';
import type { LinkMachineCard } from '../src/link-machine-card.js';
import '../src/link-machine-card.js';
import '../src/link-machine-list.js';
import { FakeDirectory, inMemoryClients, machine, providerFor } from './helpers.js';

describe('the machine card', () => {
  it('lists each sandbox with its repository, thread, state and measured size; failed ones as failed', async () => {
    const asked: { linkId: string; measure: boolean }[] = [];
    const clients = inMemoryClients((router) =>
      router.service(SandboxService, {
        listSandboxes: (request) => {
          asked.push({ linkId: request.linkId, measure: request.measure });
          return {
            sandboxes: [
              create(SandboxSchema, { id: 'sbx_a', repository: '/home/me/code/app', branch: 'topic', provider: 'worktree', state: SandboxState.READY, sizeBytes: 3n * 1024n * 1024n, lastThreadId: 'thr_1', lastThreadTitle: 'Fix the tests', threadCount: 2 }),
              create(SandboxSchema, { id: 'sbx_b', repository: 'git@github.com:me/site.git', branch: 'main', provider: 'worktree', state: SandboxState.FAILED, error: 'cannot prepare the sandbox: main is already checked out' }),
              create(SandboxSchema, { id: 'sbx_c', repository: '/home/me/code/app', provider: 'in-place', state: SandboxState.READY }),
            ],
          };
        },
      }),
    );
    const link = machine({ hostname: 'laptop' });
    const el = await fixture<LinkMachineCard>(html`<link-machine-card .link=${link}></link-machine-card>`, { parentNode: providerFor(clients, new FakeDirectory([link])) });
    await waitUntil(() => el.shadowRoot!.querySelectorAll('tbody tr').length === 3, 'the sandboxes are listed');
    expect(asked).to.deep.equal([{ linkId: link.id, measure: true }], 'sizes are measured on the online machine');
    const cells = [...el.shadowRoot!.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].slice(0, 6).map((td) => td.textContent!.replace(/\s+/g, ' ').trim()));
    expect(cells).to.deep.equal([
      ['app', 'topic', 'Fix the tests +1', 'worktree', 'ready', '3.0 MB'],
      ['site', 'main', '-', 'worktree', 'failed: cannot prepare the sandbox: main is already checked out', 'not measured'],
      ['app', '(its checkout)', '-', 'in place', 'ready', 'not measured'],
    ]);
    expect(el.shadowRoot!.querySelector('tr[data-sandbox-id=sbx_b]')!.getAttribute('data-state')).to.equal('failed');
    expect(el.shadowRoot!.querySelector<HTMLAnchorElement>('tbody a')!.getAttribute('href')).to.equal('#/threads/thr_1');
  });

  it('says how to add a workspace when the machine has none, and lists them when it has', async () => {
    const link = machine({ hostname: 'laptop' });
    const el = await fixture<LinkMachineCard>(html`<link-machine-card .link=${link}></link-machine-card>`, { parentNode: providerFor(inMemoryClients(), new FakeDirectory([link])) });
    expect(el.shadowRoot!.querySelector('[data-testid=no-workspaces] code')!.textContent).to.equal('linkd workspace add ~/code');
    const given = machine({ hostname: 'laptop' });
    given.capabilities!.workspaces = ['/home/me/code'];
    given.capabilities!.repositories = [{ path: '/home/me/code/app', name: 'app', currentBranch: 'main', defaultBranch: 'main' }] as never;
    el.link = given;
    await el.updateComplete;
    expect(el.shadowRoot!.querySelector('[data-testid=workspaces]')!.textContent!.replace(/\s+/g, ' ').trim()).to.equal('Workspaces: /home/me/code · 1 git repository');
  });
});

describe('the machines page', () => {
  it('a card being renamed stays with its machine when another one comes online ahead of it', async () => {
    const directory = new FakeDirectory([machine({ id: 'lnk_b', hostname: 'beta' }), machine({ id: 'lnk_a', hostname: 'alpha', online: false })]);
    const el = await fixture<HTMLElement>(html`<link-machine-list></link-machine-list>`, { parentNode: providerFor(inMemoryClients(), directory) });
    const cards = () => [...el.shadowRoot!.querySelectorAll<LinkMachineCard>('link-machine-card')];
    await waitUntil(() => cards().length === 2, 'both machines are listed');
    const beta = cards()[0];
    expect(beta.link.name).to.equal('beta');
    [...beta.shadowRoot!.querySelectorAll('button')].find((b) => b.textContent === 'Rename')!.click();
    await beta.updateComplete;

    directory.set([machine({ id: 'lnk_b', hostname: 'beta' }), machine({ id: 'lnk_a', hostname: 'alpha' })]);
    await waitUntil(() => cards()[0].link.name === 'alpha', 'alpha, online now, comes first');
    const renaming = cards().filter((card) => card.shadowRoot!.querySelector('input[name=name]'));
    expect(renaming.map((card) => card.link.name)).to.deep.equal(['beta']);
    expect(renaming[0].shadowRoot!.querySelector<HTMLInputElement>('input[name=name]')!.value).to.equal('beta');
  });
});
