/**
 * The page as a person sees it, in real Chromium, served by the same code path as `npm start`.
 */
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startLocalStack, type LocalStack } from '../scripts/local-stack.js';
import { launchChromium } from './helpers/browser.js';
import { join } from 'node:path';
import { spawnLinkd, TestProcess } from './helpers/processes.js';
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
    // Opened as `npm start` tells the user to: the login URL.
    await page.goto(`${stack.loginUrl}#/machines`);

    const card = page.locator('link-machine-card [part=card]');
    await card.and(page.locator('[data-state=online]')).waitFor({ timeout: 20_000 });
    const status = await card.locator('[data-testid=link-status]').innerText();
    assert.match(status, /Online since/);
    assert.match(await card.innerText(), /Shell/);

    await stack.stopAgent();
    await card.and(page.locator('[data-state=offline]')).waitFor({ timeout: 10_000 });
    assert.match(await card.locator('[data-testid=link-status]').innerText(), /Offline since/);
    assert.deepEqual(errors, [], 'the page threw no errors');
  });

  it('explains how to connect a machine when the user has none', async () => {
    const env = await startTestServer({ userWithoutLinks: true });
    try {
      browser = await launchChromium();
      const page = await browser.newPage();
      // Opened with the login URL, the page logs in as the local user, who has no links.
      await page.goto(`${env.loginUrl}#/machines`);
      const empty = page.locator('[data-testid=empty-state]');
      await empty.waitFor({ timeout: 20_000 });
      assert.match(await empty.innerText(), /No machine connected yet/);
      await empty.getByRole('button', { name: 'Connect a machine' }).click();
      await page.locator('[data-testid=pairing-command]').waitFor({ timeout: 10_000 });
    } finally {
      await browser?.close();
      browser = undefined;
      await env.close();
    }
  });

  it('the connect dialog shows a command; running it brings the machine online and the dialog closes', async () => {
    stack = await startLocalStack({ dataDir: await tempDir('link-stack-'), grpcPort: 0, httpPort: 0, stdio: 'pipe' });
    new TestProcess('link-server (stack)', stack.server);
    new TestProcess('linkd (stack)', stack.agent!);
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    await page.goto(`${stack.loginUrl}#/machines`);
    await page.locator('link-machine-card [data-state=online]').waitFor({ timeout: 20_000 });

    await page.getByRole('button', { name: 'Connect a machine' }).click();
    const command = page.locator('[data-testid=pairing-command]');
    await command.waitFor({ timeout: 10_000 });
    const text = await command.innerText();
    const match = /^linkd login --server (\S+) --code ([0-9A-Z]{4}-[0-9A-Z]{4})$/.exec(text.trim());
    assert.ok(match, `a runnable command: ${text}`);
    if (process.env.LINK_TEST_SCREENSHOTS) await page.screenshot({ path: `${process.env.LINK_TEST_SCREENSHOTS}/connect-dialog.png` });

    // The person runs it on their other machine.
    const home = await tempDir('other-machine-');
    const login = spawnLinkd(['login', '--server', match[1], '--code', match[2], '--token-file', join(home, 'token'), '--data-dir', home]);
    assert.equal((await login.waitForExit(20_000)).code, 0, login.output);
    const other = spawnLinkd(['start', '--token-file', join(home, 'token'), '--data-dir', home]);
    try {
      await page.waitForFunction(
        () => {
          const dialog = document.querySelector('link-app')?.shadowRoot?.querySelector('link-connect-dialog')?.shadowRoot?.querySelector('dialog');
          return dialog && !dialog.open;
        },
        undefined,
        { timeout: 20_000 },
      );
      await page.locator('link-machine-card [data-state=online]').nth(1).waitFor({ timeout: 20_000 });
      assert.equal(await page.locator('link-machine-card [data-state=online]').count(), 2, 'both machines are online');
      if (process.env.LINK_TEST_SCREENSHOTS) await page.screenshot({ path: `${process.env.LINK_TEST_SCREENSHOTS}/two-machines.png` });
    } finally {
      await other.stop();
    }
  });

  it('without local login the page asks for a token, then shows the machines', async () => {
    const env = await startTestServer({ localLogin: false });
    try {
      browser = await launchChromium();
      const page = await browser.newPage();
      await page.goto(`${env.httpUrl}#/machines`);
      const input = page.getByLabel('User token');
      await input.waitFor({ timeout: 20_000 });
      await input.fill('lu_wrong');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor({ timeout: 10_000 });
      await input.fill(env.userToken);
      await page.getByRole('button', { name: 'Log in' }).click();
      const card = page.locator('link-machine-card [part=card]');
      await card.waitFor({ timeout: 10_000 });
      assert.match(await card.innerText(), /test-machine/);
      const cookies = await page.context().cookies();
      const session = cookies.find((c) => c.name === 'link_session');
      assert.ok(session?.httpOnly, 'the session cookie is HttpOnly');
      assert.equal(session?.sameSite, 'Strict');
    } finally {
      await browser?.close();
      browser = undefined;
      await env.close();
    }
  });
});
