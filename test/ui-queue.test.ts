/**
 * A message sent from the page while the thread's run is in progress, in real Chromium against a
 * real control plane and a real linkd (Shell): it shows under the run as queued, its text can be
 * edited there, and when the run ends it moves into the thread as the next run's message and runs.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { launchChromium } from './helpers/browser.js';
import { spawnLinkd, type TestProcess } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

describe('the page, a message queued during a run', () => {
  let env: TestServer;
  let browser: Browser | undefined;
  let agent: TestProcess | undefined;

  before(async () => {
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-')], {
      PATH: '/usr/local/bin:/usr/bin:/bin',
    });
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    await watch.online(env.link.id).finally(() => watch.close());
  });

  after(async () => {
    await browser?.close();
    await agent?.stop();
    closeClients();
    await env?.close();
  });

  it('shows as queued under the run, is edited there, and moves into the thread as the next run', async () => {
    const gate = join(await tempDir('ui-queue-'), 'go');
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
    await page.goto(env.loginUrl!);
    await page.locator('[data-testid=machine-indicator][data-state=online]').waitFor({ timeout: 20_000 });

    const message = page.getByRole('textbox', { name: 'Message' });
    await message.fill(`echo waiting; while [ ! -e ${gate} ]; do sleep 0.05; done; echo first-done`);
    await message.press('Enter');
    await page.locator('link-run-view [data-kind=log]').filter({ hasText: 'waiting' }).waitFor({ timeout: 20_000 });

    await message.fill('echo as-sent');
    await message.press('Enter');
    const queued = page.getByTestId('queued-message');
    await queued.filter({ hasText: 'echo as-sent' }).waitFor({ timeout: 10_000 });
    assert.match(await queued.innerText(), /Queued[\s\S]*runs after the current run/);
    // The queued message may show (the live thread list reloads the thread) a moment before the
    // send's answer comes back and clears the box.
    const cleared = Date.now() + 10_000;
    while ((await message.inputValue()) !== '' && Date.now() < cleared) await page.waitForTimeout(50);
    assert.equal(await message.inputValue(), '', 'the message box is cleared: it was accepted');
    assert.equal(await page.getByTestId('message').count(), 1, 'not yet a message of the thread');

    await queued.getByRole('button', { name: 'Edit' }).click();
    await queued.getByRole('textbox', { name: 'Edit the queued message' }).fill('echo as-edited');
    await queued.getByRole('button', { name: 'Save' }).click();
    await queued.filter({ hasText: 'echo as-edited' }).waitFor({ timeout: 10_000 });

    await writeFile(gate, '');
    await page.getByTestId('message').nth(1).filter({ hasText: 'echo as-edited' }).waitFor({ timeout: 20_000 });
    await page.locator('link-run-view').nth(1).locator('[data-kind=log]').filter({ hasText: 'as-edited' }).waitFor({ timeout: 20_000 });
    await page.locator('link-run-view').nth(1).locator('[data-kind=done]').waitFor({ timeout: 20_000 });
    assert.equal(await queued.count(), 0, 'nothing is left queued');
  });
});
