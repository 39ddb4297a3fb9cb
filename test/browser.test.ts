/**
 * The page as a person sees it, in real Chromium, served by the same code path as `npm start`.
 */
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startLocalStack, type LocalStack } from '../scripts/local-stack.js';
import { launchChromium } from './helpers/browser.js';
import { TestProcess } from './helpers/processes.js';
import { startTestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

describe('the web page', () => {
  let stack: LocalStack | undefined;
  let browser: Browser | undefined;

  afterEach(async () => {
    await browser?.close();
    await stack?.stop();
    stack = undefined;
  });

  it('shows the local machine online, then offline when linkd stops', async () => {
    stack = await startLocalStack({
      dataDir: await tempDir('link-stack-'),
      grpcPort: 0,
      httpPort: 0,
      serverArgs: ['--heartbeat-interval', '500'],
      stdio: 'pipe',
    });
    // Track both processes so a leak fails the test.
    new TestProcess('link-server (stack)', stack.server);
    new TestProcess('linkd (stack)', stack.agent!);
    browser = await launchChromium();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(stack.url);

    const card = page.locator('link-machine-card [part=card]');
    await card.and(page.locator('[data-state=online]')).waitFor({ timeout: 20_000 });
    const status = await card.locator('[data-testid=link-status]').innerText();
    assert.match(status, /Online since/);
    assert.match(await card.innerText(), /Shell/);

    await stack.stopAgent();
    await card.and(page.locator('[data-state=offline]')).waitFor({ timeout: 10_000 });
    assert.match(await card.locator('[data-testid=link-status]').innerText(), /Offline · last seen/);
    assert.deepEqual(errors, [], 'the page threw no errors');
  });

  it('explains how to connect a machine when the user has none', async () => {
    const env = await startTestServer({ userWithoutLinks: true });
    try {
      browser = await launchChromium();
      const page = await browser.newPage();
      // The page is served on 127.0.0.1 and opens logged in as the local user, who has no links.
      await page.goto(env.httpUrl);
      const empty = page.locator('[data-testid=empty-state]');
      await empty.waitFor({ timeout: 20_000 });
      assert.match(await empty.innerText(), /No machine connected yet/);
      assert.match(await empty.innerText(), /linkd start --server/);
    } finally {
      await browser?.close();
      browser = undefined;
      await env.close();
    }
  });
});
