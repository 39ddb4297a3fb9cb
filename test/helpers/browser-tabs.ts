/**
 * Chromium for tests that need a page to be really hidden (`document.visibilityState` 'hidden'),
 * as when the user switches to another tab. Playwright's own launch keeps every page visible (its
 * focus emulation counts as "being captured"), so here the test starts Debian's Chromium itself
 * with a DevTools port on 127.0.0.1 and Playwright connects over CDP without its default overrides
 * (`noDefaults`). Pages of the default context are tabs of one window: opening or bringing forward
 * another tab hides the one that was in front.
 */
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { CHROMIUM_FLAGS, chromiumPath } from './browser.js';
import { spawnTracked, type TestProcess } from './processes.js';
import { tempDir } from './temp.js';

export interface TabbedChromium {
  browser: Browser;
  /** The default context: its pages are tabs of one window. */
  context: BrowserContext;
  /** A browser-level DevTools session (Browser.grantPermissions and the like). */
  cdp: CDPSession;
  /** The tab the browser opened with. */
  page: Page;
  /** Disconnects and stops the browser (idempotent). */
  close(): Promise<void>;
}

export async function launchTabbedChromium(): Promise<TabbedChromium> {
  const profile = await tempDir('chromium-profile-');
  const process: TestProcess = spawnTracked('chromium', chromiumPath, [
    ...CHROMIUM_FLAGS,
    '--no-default-browser-check',
    `--user-data-dir=${profile}`,
    '--remote-debugging-address=127.0.0.1',
    '--remote-debugging-port=0',
    'about:blank',
  ]);
  let browser: Browser | undefined;
  try {
    const [, endpoint] = await process.waitForOutput(/DevTools listening on (ws:\/\/\S+)/, 30_000);
    browser = await chromium.connectOverCDP(endpoint, { noDefaults: true, isLocal: true, timeout: 30_000 });
    const context = browser.contexts()[0];
    const page = context.pages()[0] ?? (await context.waitForEvent('page'));
    const cdp = await browser.newBrowserCDPSession();
    let closed = false;
    return {
      browser,
      context,
      cdp,
      page,
      async close() {
        if (closed) return;
        closed = true;
        await browser!.close().catch(() => undefined);
        await process.stop();
      },
    };
  } catch (error) {
    await browser?.close().catch(() => undefined);
    await process.stop();
    throw error;
  }
}
