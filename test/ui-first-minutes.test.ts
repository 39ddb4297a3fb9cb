/**
 * A new user's first minutes with the page, in real Chromium against a real control plane and a
 * real linkd that has no coding agent installed, only Shell: the first screen is ready to send with
 * Shell; a run shows what it is doing and for how long before its first output; Enter during a run
 * queues the message (withdrawn, it goes); Stop reads "Stopped by you"; a thread started through the API (as
 * linkctl does) appears live, told apart from its namesake by machine and time; rename, archive,
 * search; the shortcuts overlay; the Connect dialog's loopback note; dark mode; and the 390 px layout
 * without sideways scrolling. Screenshots of each state go to $LINK_TEST_SCREENSHOTS
 * (test-results/screenshots by default).
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { launchChromium } from './helpers/browser.js';
import { repoRoot, spawnLinkd, type TestProcess } from './helpers/processes.js';
import { collect, threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

const SCREENSHOTS = process.env.LINK_TEST_SCREENSHOTS ?? join(repoRoot, 'test-results', 'screenshots');

/** The page's own measure of sideways scrolling: the document is no wider than its window. */
const noSidewaysScroll = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);

/** The luminance (0 dark … 1 light) of an element's computed background, inside the app's shadow root. */
function background(page: Page, selector: string): Promise<number> {
  return page.evaluate((sel) => {
    const root = document.querySelector('link-app')!.shadowRoot!;
    const el = sel === 'body' ? document.body : root.querySelector(sel)!;
    const [r, g, b] = getComputedStyle(el).backgroundColor.match(/\d+/g)!.map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  }, selector);
}

describe('the page, a new user\'s first minutes', () => {
  let env: TestServer;
  let browser: Browser | undefined;
  let agent: TestProcess | undefined;

  before(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    env = await startTestServer({ heartbeatIntervalMs: 500 });
  });

  afterEach(async () => {
    // What the test starts, it stops (the root hook checks right after).
    await browser?.close();
    browser = undefined;
    await agent?.stop();
    agent = undefined;
  });

  after(async () => {
    closeClients();
    await env?.close();
  });

  const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  it('walks from the first screen to a stopped run, live threads, dark mode and a phone', async () => {
    // A machine with no coding agent on its PATH: only Shell can run.
    agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-')], {
      PATH: '/usr/local/bin:/usr/bin:/bin',
    });
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    await watch.online(env.link.id).finally(() => watch.close());

    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 820 }, colorScheme: 'light' });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(env.loginUrl!);
    await page.locator('[data-testid=machine-indicator][data-state=online]').waitFor({ timeout: 20_000 });

    // The first screen: Shell, ready to send.
    const picker = page.getByTestId('agent-picker');
    assert.equal((await picker.innerText()).replace(/\s*▾\s*/, '').trim(), 'Shell');
    assert.equal(await page.getByTestId('send-blocked').count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Send' }).isDisabled(), false);
    await shot(page, 'first-screen');

    // Before its first output the run says what it is doing, and for how long.
    const message = page.getByRole('textbox', { name: 'Message' });
    await message.fill('sleep 8; echo slept');
    await message.press('Enter');
    await page.waitForURL(/#\/threads\/thr_/);
    const progress = page.getByTestId('run-progress');
    await progress.waitFor({ timeout: 20_000 });
    await page.getByTestId('run-elapsed').filter({ hasText: /[1-9] s/ }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('link-run-view [data-kind=log]').count(), 0, 'no output yet');
    assert.match(await page.getByTestId('run-phase').innerText(), /Running the command|Starting the CLI|Waiting for the machine/);
    await shot(page, 'run-progress');
    const spinner = page.locator('link-run-view .spinner').first();
    assert.equal(await spinner.evaluate((el) => getComputedStyle(el).animationName), 'spin');
    await page.emulateMedia({ reducedMotion: 'reduce' });
    assert.equal(await spinner.evaluate((el) => getComputedStyle(el).animationName), 'none', 'still under reduced motion');
    await page.emulateMedia({ reducedMotion: 'no-preference' });
    await page.locator('link-run-view [data-kind=done]').filter({ hasText: 'Done' }).waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('link-thread-view [data-testid=message] .meta').first().innerText().then((t) => /Smart|Fast|Thinking/.test(t)), false, 'no tier on a Shell message');

    // Stop reads "Stopped by you".
    await message.fill('sleep 60');
    await message.press('Enter');
    await page.getByRole('button', { name: 'Stop' }).waitFor({ timeout: 20_000 });
    // Enter during a run queues the message (it would run after the run); withdrawn, it goes.
    await message.fill('and then?');
    await message.press('Enter');
    const queued = page.getByTestId('queued-message');
    await queued.filter({ hasText: 'and then?' }).waitFor({ timeout: 10_000 });
    await queued.getByRole('button', { name: 'Withdraw' }).click();
    await queued.waitFor({ state: 'detached', timeout: 10_000 });
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.locator('link-run-view').nth(1).locator('[data-kind=done]').filter({ hasText: 'Stopped by you' }).waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('link-run-view').nth(1).locator('[data-kind=error]').count(), 0, 'a stop is not an error');
    await shot(page, 'run-stopped');

    // Threads started elsewhere (linkctl calls this API) appear live; two of one title are told apart.
    const api = threadClient(env.grpcUrl, env.userToken);
    for (let i = 0; i < 2; i++) {
      const { thread } = await api.createThread({});
      const { runId } = await api.sendMessage({ threadId: thread!.id, text: 'ls -la', harness: 'shell', linkId: env.link.id });
      await collect(api, runId);
    }
    const items = page.locator('link-thread-list .item', { hasText: 'ls -la' });
    await items.nth(1).waitFor({ timeout: 15_000 });
    await items.nth(0).locator('[data-testid=thread-state]', { hasText: 'done' }).waitFor({ timeout: 15_000 });
    for (const n of [0, 1]) {
      assert.equal(await items.nth(n).getByTestId('thread-machine').innerText(), 'on test-machine');
      assert.match(await items.nth(n).getByTestId('thread-time').innerText(), /\d/);
    }
    await shot(page, 'threads-live');

    // A message sent elsewhere to the thread that is open shows up in it, with its run.
    const list = page.locator('link-thread-list');
    await items.nth(0).locator('a').click();
    const openId = /#\/threads\/(thr_[\w-]+)/.exec(page.url())![1];
    await page.locator('link-run-view [data-kind=done]').first().waitFor({ timeout: 15_000 });
    const { runId: elsewhere } = await api.sendMessage({ threadId: openId, text: 'echo from-elsewhere', harness: 'shell', linkId: env.link.id });
    await collect(api, elsewhere);
    await page.locator('link-run-view [data-kind=log]', { hasText: 'from-elsewhere' }).waitFor({ timeout: 15_000 });
    // Deleted elsewhere: the page leaves it for a new thread.
    const { thread: doomed } = await api.createThread({ title: 'deleted elsewhere' });
    await list.locator('.title', { hasText: 'deleted elsewhere' }).click();
    await page.locator('link-thread-view h2.title', { hasText: 'deleted elsewhere' }).waitFor();
    await api.deleteThread({ threadId: doomed!.id });
    await page.waitForURL(/#\/$/, { timeout: 15_000 });

    // Rename, archive, search.
    await items.nth(0).getByRole('button', { name: /^Actions for/ }).click();
    await list.getByRole('menuitem', { name: 'Rename' }).click();
    await list.getByLabel('New title').fill('list the files');
    await list.getByLabel('New title').press('Enter');
    await list.locator('.title', { hasText: 'list the files' }).waitFor({ timeout: 10_000 });
    await list.locator('.item', { hasText: 'list the files' }).getByRole('button', { name: /^Actions for/ }).click();
    await shot(page, 'thread-menu');
    await list.getByRole('menuitem', { name: 'Archive' }).click();
    await list.locator('.title', { hasText: 'list the files' }).waitFor({ state: 'detached', timeout: 10_000 });
    await list.getByRole('button', { name: 'Archived' }).click();
    await list.locator('.title', { hasText: 'list the files' }).waitFor({ timeout: 10_000 });
    await list.getByRole('button', { name: 'Archived' }).click();
    await list.getByLabel('Search threads').fill('SLEEP');
    await page.waitForFunction(() => {
      const titles = [...document.querySelector('link-app')!.shadowRoot!.querySelector('link-thread-list')!.shadowRoot!.querySelectorAll('.title')];
      return titles.length === 1 && /sleep 8/.test(titles[0].textContent ?? '');
    });
    await shot(page, 'thread-search');
    await list.getByLabel('Search threads').fill('');

    // The shortcuts overlay, then the Connect dialog's note about a loopback address.
    await page.locator('body').click({ position: { x: 640, y: 10 } });
    await page.keyboard.press('?');
    const help = page.locator('link-shortcuts-help dialog');
    await help.waitFor({ state: 'visible' });
    assert.match(await help.innerText(), /New thread[\s\S]*Approve/);
    await shot(page, 'shortcuts');
    await page.keyboard.press('Escape');
    await help.waitFor({ state: 'hidden' });
    // The shortcuts themselves: next thread, new thread (into the message box), search.
    await page.keyboard.press('j');
    await page.waitForURL(/#\/threads\/thr_/);
    await page.locator('body').click({ position: { x: 640, y: 10 } });
    await page.keyboard.press('c');
    await page.waitForURL(/#\/$/);
    await page.waitForFunction(() => {
      const view = document.querySelector('link-app')!.shadowRoot!.querySelector('link-thread-view')!;
      return view.shadowRoot!.querySelector('link-composer')!.shadowRoot!.activeElement?.tagName === 'TEXTAREA';
    });
    await page.locator('body').click({ position: { x: 640, y: 10 } });
    await page.keyboard.press('/');
    assert.equal(await list.getByLabel('Search threads').evaluate((el) => el === (el.getRootNode() as ShadowRoot).activeElement), true, '/ goes to the search box');
    await page.locator('body').click({ position: { x: 640, y: 10 } });
    await page.getByRole('button', { name: 'Connect a machine' }).click();
    await page.getByTestId('loopback-note').waitFor({ timeout: 15_000 });
    assert.match(await page.getByTestId('server-address').innerText(), /127\.0\.0\.1/);
    await shot(page, 'connect-dialog');
    await page.keyboard.press('Escape');

    // Dark mode: the system's preference, and the toggle over it.
    assert.ok((await background(page, 'body')) > 0.8, 'light by default');
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.ok((await background(page, 'body')) < 0.2, 'dark with a dark system preference');
    assert.ok((await background(page, 'header')) < 0.2, 'the header too');
    await shot(page, 'dark');
    await page.getByTestId('theme-toggle').click(); // Auto → Dark
    await page.getByTestId('theme-toggle').click(); // Dark → Light
    assert.ok((await background(page, 'body')) > 0.8, 'the toggle wins over the system');
    await page.getByTestId('theme-toggle').click(); // Light → Auto
    assert.ok((await background(page, 'body')) < 0.2);

    // A phone, 390 px wide: no sideways scrolling, with the picker open too.
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'New thread' }).click();
    await message.waitFor();
    assert.ok(await noSidewaysScroll(page), 'no sideways scroll at 390 px');
    await picker.click();
    const dialog = page.getByRole('dialog', { name: 'Choose the agent and model' });
    await dialog.waitFor();
    const box = await dialog.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `the picker fits: ${JSON.stringify(box)}`);
    assert.ok(await noSidewaysScroll(page), 'no sideways scroll with the picker open');
    await shot(page, 'phone');
    assert.deepEqual(errors, [], 'the page threw no errors');
  });
});
