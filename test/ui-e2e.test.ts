/**
 * The whole product from the page, in real Chromium, against a real control plane, a real linkd
 * and the real Claude Code CLI on the project's fake model API: pair a machine from the dialog,
 * start a thread with Claude Code · Smart, watch a tool call and text stream in, reload mid-run and
 * see it continue, see the lock on the follow-up, stop a run, take the machine offline and see the
 * banner. Screenshots of each state go to $LINK_TEST_SCREENSHOTS.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { closeClients } from './helpers/clients.js';
import { harnessEnvironment } from './helpers/harness-clis.js';
import { launchChromium } from './helpers/browser.js';
import { spawnLinkd, type TestProcess } from './helpers/processes.js';
import { sandboxClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';
import { FakeModelServer } from './fake-model/server.js';

describe('the page, end to end with Claude Code', () => {
  let env: TestServer;
  let fake: FakeModelServer;
  let browser: Browser | undefined;
  let agent: TestProcess | undefined;

  before(async () => {
    fake = await FakeModelServer.start();
    env = await startTestServer({ userWithoutLinks: true, heartbeatIntervalMs: 500 });
  });

  after(async () => {
    closeClients();
    await env?.close();
    await fake?.close();
  });

  const shot = async (page: Page, name: string) => {
    if (process.env.LINK_TEST_SCREENSHOTS) await page.screenshot({ path: join(process.env.LINK_TEST_SCREENSHOTS, `${name}.png`), fullPage: true });
  };

  afterEach(async () => {
    // What a test starts, it stops (the root hook checks right after).
    await browser?.close();
    browser = undefined;
    await agent?.stop();
    agent = undefined;
  });

  it('pair, send, watch it stream, reload mid-run, lock, stop, offline', async () => {
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    // Logged in as a user of the embedded default is: by opening the login URL link-server printed.
    await page.goto(env.loginUrl!);

    // Pair this machine from the dialog.
    await page.getByRole('button', { name: 'Connect a machine' }).first().click();
    const command = (await page.locator('[data-testid=pairing-command]').innerText({ timeout: 15_000 })).trim();
    const [, server, code] = /^linkd login --server (\S+) --code (\S+)$/.exec(command) ?? [];
    assert.ok(code, command);
    const home = await tempDir('machine-home-');
    const agentDir = join(home, 'linkd');
    const machineEnv = await harnessEnvironment(fake.url, home);
    const login = spawnLinkd(['login', '--server', server, '--code', code, '--token-file', join(home, 'token'), '--data-dir', agentDir], machineEnv);
    assert.equal((await login.waitForExit(20_000)).code, 0, login.output);
    agent = spawnLinkd(['start', '--token-file', join(home, 'token'), '--data-dir', agentDir], machineEnv);
    await page.locator('[data-testid=machine-indicator][data-state=online]').waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => !document.querySelector('link-app')?.shadowRoot?.querySelector('link-connect-dialog')?.shadowRoot?.querySelector('dialog')?.open, undefined, {
      timeout: 20_000,
    });

    // A directory sandbox named by a branch, so the test knows where the file goes.
    const links = await env.store.listLinks(env.user.id);
    const { sandbox } = await sandboxClient(env.grpcUrl, env.userToken).ensureSandbox({ linkId: links[0].id, provider: 'directory', branch: 'ui-tour' });
    const file = join(sandbox!.path, 'tour.txt');

    // New thread: Claude Code · Smart, on this machine, branch ui-tour.
    await page.getByRole('link', { name: 'New thread' }).click();
    await page.getByTestId('agent-picker').click();
    const claude = page.locator('section[data-harness=claude-code]');
    await claude.getByRole('radio', { name: 'Smart' }).click();
    assert.match(await page.getByTestId('agent-picker').innerText(), /Claude Code · Smart/);
    await page.getByLabel('Branch').fill('ui-tour');
    const message = page.getByRole('textbox', { name: 'Message' });
    await message.fill(`WRITE ${file} from-the-page PAUSE 6000`);
    await message.press('Enter');

    // The tool call streams in; the answer is still on its way.
    const tool = page.locator('link-run-view details[data-kind=tool]');
    await tool.waitFor({ timeout: 60_000 });
    assert.match(await tool.locator('summary').innerText(), /Write/);
    await page.waitForURL(/#\/threads\/thr_/);
    await page.getByRole('button', { name: 'Stop' }).waitFor();
    await shot(page, 'run-in-progress');

    // Reload mid-run: the stream picks up again, nothing lost or repeated.
    await page.reload();
    await page.locator('link-run-view [data-kind=done]').waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('link-run-view details[data-kind=tool]').count(), 1, 'the tool call once');
    const text = await page.locator('link-run-view [data-kind=text]').allInnerTexts();
    assert.equal(text.join('\n').match(/hello from the fake model/g)?.length, 1, `the answer once: ${text.join(' | ')}`);
    assert.match(await page.locator('link-run-view [data-kind=done]').innerText(), /Done/);
    assert.match(await page.locator('link-run-view [data-kind=file]').innerText(), /tour\.txt/);
    assert.equal(await readFile(file, 'utf8'), 'from-the-page\n');
    await page.locator('link-thread-list [data-testid=thread-state]').filter({ hasText: 'done' }).waitFor({ timeout: 10_000 });
    await shot(page, 'run-done');

    // The follow-up: harness, machine and branch are locked; the model can change.
    await page.getByTestId('pins-locked').waitFor();
    assert.match((await page.getByTestId('pins-locked').getAttribute('title')) ?? '', /new thread/);
    await page.getByTestId('agent-picker').click();
    assert.match(await page.locator('section[data-harness=codex]').innerText(), /Start a new thread/);
    await shot(page, 'picker-locked');
    await page.keyboard.press('Escape');

    // The machines page: the machine, its sandboxes, rename.
    await page.getByRole('link', { name: 'Machines' }).click();
    const card = page.locator('link-machine-card');
    await card.locator('tr', { hasText: 'ui-tour' }).waitFor({ timeout: 10_000 });
    await card.getByRole('button', { name: 'Rename' }).click();
    await card.getByLabel('New name').fill('studio');
    await card.getByRole('button', { name: 'Save' }).click();
    await card.locator('.name', { hasText: 'studio' }).waitFor({ timeout: 10_000 });
    await card.getByRole('button', { name: 'Revoke…' }).click();
    assert.match(await card.getByRole('group', { name: 'Confirm Revoke' }).innerText(), /stops working for good/);
    await card.getByRole('button', { name: 'Cancel' }).click();
    await shot(page, 'machines');
    await page.goBack();
    await page.getByTestId('pins-locked').waitFor();

    // Stop a run.
    await message.fill('SLOW and hold');
    await message.press('Enter');
    await page.locator('link-run-view').nth(1).getByRole('button', { name: 'Stop' }).click({ timeout: 60_000 });
    await page.locator('link-run-view').nth(1).locator('[data-kind=done]').filter({ hasText: 'Stopped' }).waitFor({ timeout: 30_000 });

    // The machine goes offline: the banner, and a message would wait for it, with an expiry.
    await agent.stop();
    agent = undefined;
    await page.getByTestId('offline-banner').waitFor({ timeout: 20_000 });
    assert.match(await page.getByTestId('send-waits').innerText(), /Runs when .+ is back/);
    assert.equal(await page.getByRole('button', { name: 'Send' }).isDisabled(), false);
    await shot(page, 'machine-offline');
    // A narrow window: everything still reachable, nothing wider than the screen.
    await page.setViewportSize({ width: 400, height: 800 });
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no horizontal scrolling');
    await page.getByRole('textbox', { name: 'Message' }).waitFor();
    await shot(page, 'narrow');
    assert.deepEqual(errors, [], 'the page threw no errors');
  });
});
