import { expect, fixture, html, oneEvent } from '@open-wc/testing';
import type { LinkComposer, SendDetail } from '../src/link-composer.js';
import '../src/link-composer.js';
import { machine } from './helpers.js';

/** A machine whose linkd was given ~/code with two repositories in it. */
function withRepositories() {
  const link = machine({ hostname: 'laptop' });
  link.capabilities!.workspaces = ['/home/me/code'];
  link.capabilities!.repositories = [
    { path: '/home/me/code/app', name: 'app', currentBranch: 'main', defaultBranch: 'main' },
    { path: '/home/me/code/tools/cli', name: 'cli', currentBranch: 'dev', defaultBranch: 'main' },
  ] as never;
  return link;
}

async function openPicker(el: LinkComposer): Promise<ShadowRoot> {
  const picker = el.shadowRoot!.querySelector('link-repository-picker')!;
  picker.shadowRoot!.querySelector<HTMLButtonElement>('button')!.click();
  await picker.updateComplete;
  return picker.shadowRoot!;
}

async function send(el: LinkComposer): Promise<SendDetail> {
  el.shadowRoot!.querySelector('textarea')!.value = 'fix the tests';
  const sent = oneEvent(el, 'link-send');
  el.shadowRoot!.querySelector<HTMLButtonElement>('button.send')!.click();
  return ((await sent) as CustomEvent<SendDetail>).detail;
}

describe('the repository picker in the composer', () => {
  it('offers the machine\'s repositories, searchable, and sends the one picked', async () => {
    const el = await fixture<LinkComposer>(html`<link-composer .links=${[withRepositories()]}></link-composer>`);
    const root = await openPicker(el);
    expect([...root.querySelectorAll('li button')].map((b) => b.getAttribute('data-path'))).to.deep.equal(['/home/me/code/app', '/home/me/code/tools/cli']);
    const search = root.querySelector<HTMLInputElement>('input[type=search]')!;
    search.value = 'tools';
    search.dispatchEvent(new Event('input'));
    await el.shadowRoot!.querySelector('link-repository-picker')!.updateComplete;
    const options = [...root.querySelectorAll<HTMLButtonElement>('li button')];
    expect(options.map((b) => b.getAttribute('data-path'))).to.deep.equal(['/home/me/code/tools/cli']);
    options[0].click();
    await el.updateComplete;
    expect(el.shadowRoot!.querySelector<HTMLInputElement>('input[aria-label="Repository (optional)"]')!.value).to.equal('/home/me/code/tools/cli');
    const detail = await send(el);
    expect(detail.repository).to.equal('/home/me/code/tools/cli');
    expect(detail.branch).to.match(/^link\/[a-z0-9]+$/, 'a branch of its own is proposed');
    expect(detail.sandboxProvider).to.equal('');
    expect(el.shadowRoot!.querySelector('[data-testid=in-place-badge]')).to.equal(null);
  });

  it('says how to add a workspace when the machine has none', async () => {
    const el = await fixture<LinkComposer>(html`<link-composer .links=${[machine({ hostname: 'laptop' })]}></link-composer>`);
    const root = await openPicker(el);
    const hint = root.querySelector('[data-testid=no-workspaces]')!;
    expect(hint.textContent).to.contain('laptop offers no repositories yet');
    expect(hint.querySelector('code')!.textContent).to.equal('linkd workspace add ~/code');
    expect(root.querySelector('input[type=search]')).to.equal(null);
  });

  it('running in place is an explicit choice, marked with a warning', async () => {
    const el = await fixture<LinkComposer>(html`<link-composer .links=${[withRepositories()]}></link-composer>`);
    const root = await openPicker(el);
    root.querySelector<HTMLButtonElement>('li button')!.click();
    await el.updateComplete;
    const inPlace = el.shadowRoot!.querySelector<HTMLInputElement>('input[aria-label="Run in place"]')!;
    inPlace.click();
    await el.updateComplete;
    expect(el.shadowRoot!.querySelector('[data-testid=in-place-badge]')!.textContent).to.contain('no isolation');
    const detail = await send(el);
    expect(detail).to.include({ repository: '/home/me/code/app', branch: '', sandboxProvider: 'in-place' });
  });
});
