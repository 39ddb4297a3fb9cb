import { expect, fixture, html } from '@open-wc/testing';
import { setViewport } from '@web/test-runner-commands';
import { create } from '@bufbuild/protobuf';
import { createRouterTransport } from '@connectrpc/connect';
import { FileDiffStatus, RunChangesSchema, RunEventSchema, RunSchema, RunState, RunStatus, ThreadSchema, type RunChanges } from '../../gen/link/v1/run_pb.js';
import { SandboxService } from '../../gen/link/v1/sandbox_service_pb.js';
import { clientsFor } from '../src/api.js';
import type { LinkChanges } from '../src/link-changes.js';
import type { LinkThreadChanges } from '../src/link-thread-changes.js';
import type { LinkRunView } from '../src/link-run-view.js';
import '../src/link-run-view.js';
import '../src/link-changes.js';
import '../src/link-thread-changes.js';
import { FakeDirectory, inMemoryClients, providerFor } from './helpers.js';

const LONG = `export const message = "${'a very long line that would push the page sideways on a phone '.repeat(6)}";`;

const CHANGES: RunChanges = create(RunChangesSchema, {
  baseCommit: 'a'.repeat(40),
  files: [
    {
      path: 'src/app.ts',
      status: FileDiffStatus.MODIFIED,
      additions: 2,
      deletions: 1,
      patch: `diff --git a/src/app.ts b/src/app.ts\nindex 1..2 100644\n--- a/src/app.ts\n+++ b/src/app.ts\n@@ -1,2 +1,3 @@\n import { x } from './x';\n-const answer = 41;\n+const answer = 42; // the answer\n+${LONG}\n`,
    },
    { path: 'notes.md', status: FileDiffStatus.ADDED, additions: 1, patch: 'diff --git a/notes.md b/notes.md\nnew file mode 100644\n--- /dev/null\n+++ b/notes.md\n@@ -0,0 +1 @@\n+# Notes\n' },
    { path: 'gone.txt', status: FileDiffStatus.DELETED, deletions: 1, patch: 'diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-soon deleted\n\\ No newline at end of file\n' },
    { path: 'docs/new-name.txt', oldPath: 'docs/old-name.txt', status: FileDiffStatus.RENAMED, patch: 'diff --git a/docs/old-name.txt b/docs/new-name.txt\nsimilarity index 100%\nrename from docs/old-name.txt\nrename to docs/new-name.txt\n' },
    { path: 'logo.png', status: FileDiffStatus.ADDED, binary: true },
    { path: 'page.html', status: FileDiffStatus.ADDED, additions: 1, patch: 'diff --git a/page.html b/page.html\n@@ -0,0 +1 @@\n+<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>\n' },
    { path: 'big.txt', status: FileDiffStatus.ADDED, additions: 64000, patch: 'diff --git a/big.txt b/big.txt\n@@ -0,0 +1,64000 @@\n+line\n', patchTruncated: true },
  ],
  truncated: true,
  note: 'diff truncated: 7 files, 5.3 MiB of patches; 7 files and 300 KiB shown',
});

async function renderChanges(changes: RunChanges, width?: string): Promise<ShadowRoot> {
  const host = document.createElement('div');
  if (width) host.style.width = width;
  document.body.append(host);
  const el = await fixture<LinkChanges>(html`<link-changes .changes=${changes}></link-changes>`, { parentNode: host });
  return el.shadowRoot!;
}

describe('the Changes panel', () => {
  afterEach(async () => {
    await setViewport({ width: 800, height: 600 });
  });

  it('lists each file with its status and counts, a highlighted unified diff, binary and truncated files marked', async () => {
    const root = await renderChanges(CHANGES);
    const head = root.querySelector('.head')!.textContent!.replace(/\s+/g, ' ');
    expect(head).to.contain('7 files').and.contain('+64004').and.contain('−2');
    expect(root.querySelector('[data-testid=changes-note]')!.textContent).to.contain('diff truncated');
    const files = [...root.querySelectorAll<HTMLDetailsElement>('details')];
    expect(files.map((d) => [d.dataset.path, d.dataset.status])).to.deep.equal([
      ['src/app.ts', 'modified'], ['notes.md', 'added'], ['gone.txt', 'deleted'], ['docs/new-name.txt', 'renamed'],
      ['logo.png', 'added'], ['page.html', 'added'], ['big.txt', 'added'],
    ]);
    expect(files.every((d) => !d.open), 'past five files, each starts collapsed').to.equal(true);
    const ts = files[0];
    ts.open = true;
    expect(ts.querySelector('summary')!.textContent!.replace(/\s+/g, ' ')).to.contain('+2 −1');
    const lines = [...ts.querySelectorAll('.line')];
    expect(lines.map((l) => l.className.replace('line ', ''))).to.deep.equal(['hunk', 'ctx', 'del', 'add', 'add']);
    expect(lines[3].textContent).to.contain('const answer = 42; // the answer');
    expect(lines[3].querySelector('.hljs-keyword')!.textContent, 'highlighted by highlight.js').to.equal('const');
    expect(lines[3].querySelector('.hljs-comment')!.textContent).to.equal('// the answer');
    expect(ts.textContent).not.to.contain('index 1..2', 'the git header lines are left out');
    expect(files[2].querySelector('.line.meta')!.textContent).to.contain('No newline at end of file');
    expect(files[3].querySelector('summary')!.textContent).to.contain('docs/old-name.txt → docs/new-name.txt');
    expect(files[3].textContent).to.contain('Renamed, content unchanged.');
    expect(files[4].textContent).to.contain('Binary file, not shown.');
    expect(files[4].querySelector('.line')).to.equal(null);
    expect(files[6].querySelector('[data-testid=file-truncated]')).not.to.equal(null);
  });

  it('highlights each side as one text: a comment over several lines is a comment on each', async () => {
    const patch = 'diff --git a/lib.js b/lib.js\n@@ -1,2 +1,4 @@\n-const old = `a\n-b`;\n+/* a comment\n+   that goes on */\n+const x = 1;\n keep();\n';
    const root = await renderChanges(create(RunChangesSchema, { files: [{ path: 'lib.js', status: FileDiffStatus.MODIFIED, additions: 3, deletions: 2, patch }] }));
    const lines = [...root.querySelectorAll('.line')];
    expect(lines.map((l) => l.className.replace('line ', ''))).to.deep.equal(['hunk', 'del', 'del', 'add', 'add', 'add', 'ctx']);
    expect(lines[2].querySelector('.hljs-string')!.textContent, 'the old side\'s template string goes on').to.equal('b`');
    expect(lines[4].querySelector('.hljs-comment')!.textContent).to.equal('   that goes on */');
    expect(lines[5].querySelector('.hljs-keyword')!.textContent).to.equal('const');
    expect(lines[6].textContent).to.contain('keep();');
  });

  it('shows hostile file content as text', async () => {
    const w = window as unknown as { pwned?: number };
    const root = await renderChanges(CHANGES);
    const html = root.querySelector<HTMLDetailsElement>('details[data-path="page.html"]')!;
    html.open = true;
    await new Promise((r) => setTimeout(r, 50));
    expect(w.pwned).to.equal(undefined);
    expect(root.querySelector('img')).to.equal(null);
    expect(root.querySelector('script')).to.equal(null);
    expect(html.querySelector('.line.add')!.textContent).to.contain('<img src=x onerror="window.pwned=1">');
    expect(html.querySelector('.line.add .hljs-tag'), 'highlighted as HTML').not.to.equal(null);
  });

  it('reads on a phone: 390 px wide, no page scroll; long lines scroll inside the diff', async () => {
    await setViewport({ width: 390, height: 800 });
    const root = await renderChanges(create(RunChangesSchema, { ...CHANGES, files: CHANGES.files.slice(0, 3), truncated: false, note: '' }), '100%');
    const files = [...root.querySelectorAll<HTMLDetailsElement>('details')];
    expect(files.every((d) => d.open), 'a few files start open').to.equal(true);
    await new Promise((r) => requestAnimationFrame(r));
    expect(document.documentElement.scrollWidth).to.be.at.most(390);
    const diff = files[0].querySelector<HTMLElement>('.diff')!;
    expect(diff.getBoundingClientRect().right).to.be.at.most(390);
    expect(diff.scrollWidth).to.be.greaterThan(diff.clientWidth, 'the long line scrolls inside the diff block');
  });
});

describe('the run view', () => {
  it('shows the run\'s change, before its end', async () => {
    const run = create(RunSchema, { id: 'run_1', threadId: 'thr_1', harness: 'shell', state: RunState.COMPLETED });
    const events = [
      create(RunEventSchema, { seq: 1n, event: { case: 'changes', value: CHANGES } }),
      create(RunEventSchema, { seq: 2n, event: { case: 'done', value: { status: RunStatus.COMPLETED } } }),
    ];
    const host = providerFor(inMemoryClients(), new FakeDirectory([]));
    const el = await fixture<LinkRunView>(html`<link-run-view .run=${run} .events=${events}></link-run-view>`, { parentNode: host });
    const panel = el.shadowRoot!.querySelector('link-changes[data-kind=changes]')!;
    expect(panel.shadowRoot!.querySelector('.head')!.textContent).to.contain('What this run changed');
    expect(panel.nextElementSibling?.getAttribute('data-kind')).to.equal('done');
  });
});

describe('the thread\'s changes, with commit, push, discard and delete', () => {
  const thread = create(ThreadSchema, { id: 'thr_1', sandboxId: 'sbx_aaaaaaaaaaaaaaaaaaaa', repository: 'git@github.com:acme/app.git', branch: 'work' });

  function clientsRecording(calls: string[]) {
    return clientsFor(
      createRouterTransport((router) =>
        router.service(SandboxService, {
          getSandboxChanges: () => ({ changes: CHANGES }),
          commitSandbox: (r) => (calls.push(`commit:${r.message}`), { commit: 'c'.repeat(40), summary: r.message.split('\n')[0] }),
          pushSandbox: () => (calls.push('push'), { remoteUrl: 'git@github.com:acme/app.git', branch: 'work', pullRequestUrl: 'https://github.com/acme/app/compare/work?expand=1' }),
          discardSandboxChanges: () => (calls.push('discard'), {}),
          deleteSandbox: () => (calls.push('delete'), {}),
        }),
      ),
    );
  }

  async function render(calls: string[], busy = false): Promise<LinkThreadChanges> {
    const host = providerFor(clientsRecording(calls), new FakeDirectory([]));
    const el = await fixture<LinkThreadChanges>(html`<link-thread-changes .thread=${thread} firstMessage="Add the notes file" ?busy=${busy}></link-thread-changes>`, { parentNode: host });
    await waitFor(() => el.shadowRoot!.querySelector('link-changes'));
    return el;
  }

  const waitFor = async <T>(find: () => T | null | undefined): Promise<T> => {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const found = find();
      if (found) return found;
      if (Date.now() > deadline) throw new Error('not rendered in time');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const button = (el: LinkThreadChanges, action: string) => el.shadowRoot!.querySelector<HTMLButtonElement>(`button[data-action=${action}]`)!;

  it('commits with the thread\'s first message (editable), pushes and links to the pull request', async () => {
    const calls: string[] = [];
    const el = await render(calls);
    const root = el.shadowRoot!;
    expect(root.querySelector('link-changes')!.changes!.files.map((f) => f.path)).to.deep.equal(CHANGES.files.map((f) => f.path));
    const textarea = root.querySelector('textarea')!;
    expect(textarea.value).to.equal('Add the notes file');
    textarea.value = 'Add notes\n\nfrom the page';
    textarea.dispatchEvent(new Event('input'));
    button(el, 'commit').click();
    await waitFor(() => root.querySelector('[data-testid=action-done]'));
    expect(calls).to.deep.equal(['commit:Add notes\n\nfrom the page']);
    expect(root.querySelector('[data-testid=action-done]')!.textContent).to.contain('Committed cccccccccccc: Add notes');
    button(el, 'push').click();
    const link = await waitFor(() => root.querySelector<HTMLAnchorElement>('[data-testid=pull-request]'));
    expect(link.href).to.equal('https://github.com/acme/app/compare/work?expand=1');
    expect(link.rel).to.contain('noopener');
  });

  it('discard and delete ask first; nothing happens on Keep', async () => {
    const calls: string[] = [];
    const el = await render(calls);
    const root = el.shadowRoot!;
    button(el, 'discard').click();
    await el.updateComplete;
    expect(root.querySelector('[data-testid=confirm]')!.textContent).to.contain('Throw away every uncommitted change');
    button(el, 'cancel').click();
    await el.updateComplete;
    expect(root.querySelector('[data-testid=confirm]')).to.equal(null);
    expect(calls).to.deep.equal([]);
    button(el, 'discard').click();
    await el.updateComplete;
    button(el, 'confirm').click();
    await waitFor(() => calls.includes('discard'));
    button(el, 'delete').click();
    await el.updateComplete;
    expect(root.querySelector('[data-testid=confirm]')!.textContent).to.contain('Delete this worktree');
    button(el, 'confirm').click();
    await waitFor(() => calls.includes('delete'));
    expect(calls).to.deep.equal(['discard', 'delete']);
  });

  it('every action is disabled while a run is in progress', async () => {
    const el = await render([], true);
    for (const action of ['commit', 'push', 'discard', 'delete']) expect(button(el, action).disabled, action).to.equal(true);
    expect(el.shadowRoot!.textContent).to.contain('A run is in progress');
  });
});
