/**
 * Correcting a running agent from the page, in real Chromium against a real control plane, a real
 * linkd and the real Claude Code CLI on the project's fake model API: while the turn waits on a
 * command, "Send now" puts a message into the running turn (the model's next request in the same
 * conversation has it, and the run's stream shows it as the user's); then Interrupt ends the next
 * turn the CLI's own way, and the run says so (that the session is kept is interrupt.test.ts's).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from './helpers/browser.js';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { harnessEnvironment } from './helpers/harness-clis.js';
import { spawnLinkd, type TestProcess } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';
import { FakeModelServer } from './fake-model/server.js';

describe('the page, steering and interrupting a Claude Code turn', () => {
  let env: TestServer;
  let fake: FakeModelServer;
  let browser: Browser | undefined;
  let agent: TestProcess | undefined;

  before(async () => {
    fake = await FakeModelServer.start();
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    const home = await tempDir('machine-home-');
    agent = spawnLinkd(['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', join(home, 'linkd')], await harnessEnvironment(fake.url, home));
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    await watch.online(env.link.id).finally(() => watch.close());
  });

  after(async () => {
    await browser?.close();
    await agent?.stop();
    closeClients();
    await env?.close();
    await fake?.close();
  });

  it('"Send now" reaches the running turn and shows in its stream; Interrupt ends a turn, which says the next message continues it', async function () {
    this.timeout(240_000);
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(env.loginUrl!);
    await page.locator('[data-testid=machine-indicator][data-state=online]').waitFor({ timeout: 30_000 });

    // The turn asks before its command (a write) runs, so it is surely still going when the message comes.
    await page.getByRole('link', { name: 'New thread' }).click();
    await page.getByLabel('Branch').fill('ui-steer');
    await page.getByLabel('Permissions').selectOption({ label: 'Ask for everything' });
    const message = page.getByRole('textbox', { name: 'Message', exact: true });
    await message.fill('Look around first.\nRUN echo first > first.txt');
    await message.press('Enter');
    const pending = page.locator('link-interaction-card section[data-state=pending]');
    await pending.waitFor({ timeout: 60_000 });

    // Into the running turn: the choice is there because Claude Code takes input mid-turn.
    const steer = 'Also count the files, please.';
    await page.getByTestId('delivery').selectOption({ label: 'Send now' });
    await message.fill(steer);
    await message.press('Enter');
    const steered = page.locator('link-run-view [data-kind=steered]');
    await steered.waitFor({ timeout: 30_000 });
    assert.match(await steered.innerText(), /You · sent during the turn[\s\S]*Also count the files/);
    assert.equal(await page.getByTestId('queued-message').count(), 0, 'it went into the turn, not into the queue');
    assert.equal(await page.locator('link-run-view').count(), 1, 'no run of its own');

    await pending.locator('button.approve').click();
    await page.locator('link-run-view [data-kind=done]').filter({ hasText: 'Done' }).waitFor({ timeout: 60_000 });
    const withSteer = fake.requests.map((r) => JSON.stringify(r.body ?? '')).filter((body) => body.includes(steer));
    assert.ok(withSteer.length > 0, 'the model got the message');
    assert.ok(withSteer.every((body) => body.includes('Look around first.')), 'in the same conversation');

    // The next turn runs a long command; Interrupt ends it the CLI's way.
    await message.fill('Now wait a long time.\nRUN sleep 30 && echo late > late.txt');
    await message.press('Enter');
    await pending.waitFor({ timeout: 60_000 });
    await pending.locator('button.approve').click();
    const second = page.locator('link-run-view').nth(1);
    const interrupt = second.getByRole('button', { name: 'Interrupt' });
    await interrupt.waitFor({ timeout: 30_000 });
    await interrupt.click();
    await second.getByText('Interrupted by you — your next message continues').waitFor({ timeout: 60_000 });
    assert.deepEqual(errors, []);
  });
});
