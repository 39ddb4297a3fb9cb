/**
 * An interactive run from the page, in real Chromium, against a real control plane, a real linkd
 * and the real Claude Code CLI on the project's fake model API: the agent asks to run a command,
 * the card appears live, survives a reload and is approved with `y`; the sidebar badge, the
 * header's count and the tab title move with it; with the page hidden behind another tab, a run
 * that asks and then finishes shows browser notifications, and clicking one opens its thread.
 * Screenshots go to $LINK_TEST_SCREENSHOTS.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { InteractionDecision, InteractionState, PermissionMode } from '../gen/link/v1/run_pb.js';
import { closeClients } from './helpers/clients.js';
import { harnessEnvironment } from './helpers/harness-clis.js';
import { launchTabbedChromium, type TabbedChromium } from './helpers/browser-tabs.js';
import { spawnLinkd, type TestProcess } from './helpers/processes.js';
import { sandboxClient, threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';
import { FakeModelServer } from './fake-model/server.js';

/**
 * Records every notification the page shows (the real one is still made): `window.linkShown`
 * holds the title, the body and the Notification, so the test can read and click them.
 */
const RECORD_NOTIFICATIONS = `(() => {
  window.linkShown = [];
  const Real = window.Notification;
  if (!Real) return;
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      window.linkShown.push({ title, body: (options && options.body) || '', notification: this });
    }
  }
  Object.defineProperty(Recorded, 'permission', { get: () => Real.permission });
  Recorded.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recorded;
})();`;

type Shown = { title: string; body: string }[];
/** The notifications the page has shown: title and body. */
const shown = (page: Page) => page.evaluate(() => (window as unknown as { linkShown: Shown }).linkShown.map(({ title, body }) => ({ title, body })));

describe('the page, an interactive run with Claude Code', () => {
  let env: TestServer;
  let fake: FakeModelServer;
  let chrome: TabbedChromium | undefined;
  let agent: TestProcess | undefined;

  before(async () => {
    fake = await FakeModelServer.start();
    env = await startTestServer({ heartbeatIntervalMs: 500 });
  });

  after(async () => {
    closeClients();
    await env?.close();
    await fake?.close();
  });

  afterEach(async () => {
    await chrome?.close();
    chrome = undefined;
    await agent?.stop();
    agent = undefined;
  });

  const shot = async (page: Page, name: string) => {
    if (process.env.LINK_TEST_SCREENSHOTS) await page.screenshot({ path: join(process.env.LINK_TEST_SCREENSHOTS, `${name}.png`), fullPage: true });
  };

  it('the card appears live, survives a reload, is approved with y; badge, count, title and notifications follow', async function () {
    this.timeout(300_000);
    const home = await tempDir('machine-home-');
    agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', join(home, 'linkd')], await harnessEnvironment(fake.url, home));
    const api = threadClient(env.grpcUrl, env.userToken);

    chrome = await launchTabbedChromium();
    // Notifications allowed for the page's origin, as if the user had said yes when asked.
    await chrome.cdp.send('Browser.grantPermissions', { origin: env.httpUrl, permissions: ['notifications'] });
    await chrome.context.addInitScript({ content: RECORD_NOTIFICATIONS });
    const page = chrome.page;
    await page.setViewportSize({ width: 1280, height: 860 });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(env.loginUrl!);
    await page.locator('[data-testid=machine-indicator][data-state=online]').waitFor({ timeout: 30_000 });
    // A directory sandbox named by a branch, so the test knows where the files go.
    const { sandbox } = await sandboxClient(env.grpcUrl, env.userToken).ensureSandbox({ linkId: env.link.id, provider: 'directory', branch: 'ui-asks' });

    // A new thread with Claude Code. Edits is the default mode; "ask for everything" asks even for
    // what Claude Code's edits mode lets through (writing a file from the shell).
    await page.getByRole('link', { name: 'New thread' }).click();
    await page.getByLabel('Branch').fill('ui-asks');
    const permissions = page.getByLabel('Permissions');
    assert.equal(await permissions.locator('option:checked').innerText(), 'Allow edits', 'edits is the default');
    await permissions.selectOption({ label: 'Ask for everything' });
    const message = page.getByRole('textbox', { name: 'Message' });
    await message.fill('Create the marker file.\nRUN echo approved > approved.txt');
    await message.press('Enter');

    // The card appears live, with the command and where it runs.
    const pending = page.locator('link-interaction-card section[data-state=pending]');
    await pending.waitFor({ timeout: 60_000 });
    assert.equal(await pending.locator('[data-testid=command]').innerText(), '$ echo approved > approved.txt');
    assert.match(await pending.innerText(), new RegExp(`in ${sandbox!.path}`), 'the directory it runs in');
    await page.waitForURL(/#\/threads\/thr_/);
    const threadId = /#\/threads\/(\S+)$/.exec(page.url())![1];
    await page.locator('link-run-view [data-testid=run-waiting]').waitFor();
    await page.locator(`link-thread-list [data-thread-id=${threadId}] [data-testid=needs-you]`).waitFor({ timeout: 10_000 });
    assert.equal(await page.getByTestId('needs-you-count').innerText(), '1 needs you');
    await page.waitForFunction(() => document.title === '(1) Link · 1 running', undefined, { timeout: 10_000, polling: 100 });
    await shot(page, 'run-asks');

    // It survives a reload; then y approves it (nothing has the focus: the newest pending card takes the key).
    await page.reload();
    await pending.waitFor({ timeout: 30_000 });
    await page.getByTestId('needs-you-count').waitFor();
    await page.keyboard.press('y');
    const answered = page.locator('link-interaction-card section[data-state=answered]');
    await answered.waitFor({ timeout: 20_000 });
    assert.match(await answered.locator('[data-testid=outcome]').innerText(), new RegExp(`Approved\\s+by ${env.user.name}`));
    await page.locator('link-interaction-card section[data-state=answered][data-delivered=true]').waitFor({ timeout: 30_000 });
    await page.locator('link-run-view [data-kind=done]').filter({ hasText: 'Done' }).waitFor({ timeout: 60_000 });
    assert.equal(await readFile(join(sandbox!.path, 'approved.txt'), 'utf8'), 'approved\n');
    await page.waitForFunction(() => document.title === 'Link', undefined, { timeout: 10_000, polling: 100 });
    assert.equal(await page.getByTestId('needs-you-count').count(), 0);
    assert.equal(await page.locator('link-thread-list [data-testid=needs-you]').count(), 0);
    assert.deepEqual(await shown(page), [], 'no notification while the page is visible');
    await shot(page, 'run-approved');

    // Elsewhere on the page, then hidden behind another tab: the next run asks. (waitForFunction
    // polls on animation frames by default, and a hidden page has none: every wait polls by time.)
    await page.getByRole('link', { name: 'Machines' }).click();
    const other = await chrome.context.newPage();
    await page.waitForFunction(() => document.visibilityState === 'hidden', undefined, { timeout: 10_000, polling: 100 });
    await api.sendMessage({ threadId, text: 'And a second one.\nRUN echo second > second.txt', permissionMode: PermissionMode.ASK });
    await page.waitForFunction(() => (window as unknown as { linkShown: Shown }).linkShown.length === 1, undefined, { timeout: 60_000, polling: 100 });
    const [asked] = await shown(page);
    assert.match(asked.title, /needs you$/);
    await page.waitForFunction(() => document.title.startsWith('(1) Link'), undefined, { timeout: 10_000, polling: 100 });

    // Clicking the notification opens the thread.
    await page.evaluate(() => (window as unknown as { linkShown: { notification: Notification }[] }).linkShown[0].notification.dispatchEvent(new Event('click')));
    await page.waitForURL(new RegExp(`#/threads/${threadId}$`), { timeout: 10_000 });
    await page.bringToFront();
    await page.waitForFunction(() => document.visibilityState === 'visible', undefined, { timeout: 10_000, polling: 100 });
    await pending.waitFor({ timeout: 30_000 });

    // Hidden again, it is answered elsewhere (linkctl, another browser): the run finishes, and says so.
    await other.bringToFront();
    await page.waitForFunction(() => document.visibilityState === 'hidden', undefined, { timeout: 10_000, polling: 100 });
    const { interactions } = await api.listInteractions({ threadId });
    assert.equal(interactions.length, 1);
    assert.equal(interactions[0].state, InteractionState.PENDING);
    await api.answerInteraction({ runId: interactions[0].runId, interactionId: interactions[0].interaction!.id, decision: InteractionDecision.ALLOW });
    await page.waitForFunction(() => (window as unknown as { linkShown: Shown }).linkShown.length === 2, undefined, { timeout: 60_000, polling: 100 });
    assert.match((await shown(page))[1].title, /: done$/);
    assert.equal(await readFile(join(sandbox!.path, 'second.txt'), 'utf8'), 'second\n');

    await page.bringToFront();
    await page.waitForFunction(() => document.title === 'Link', undefined, { timeout: 10_000, polling: 100 });
    assert.equal(await page.locator('link-interaction-card section[data-state=answered]').count(), 2);
    assert.equal(await page.locator('link-interaction-card section[data-state=pending]').count(), 0);
    await shot(page, 'run-answered-elsewhere');
    await other.close();
    assert.deepEqual(errors, [], 'the page threw no errors');
  });
});
