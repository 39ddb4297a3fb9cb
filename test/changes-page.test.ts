/**
 * What a run changed, on a phone, end to end: a real control plane, a real linkd, a real git
 * repository (over file://) and the real page in Chromium at 390 px. The run's diff is shown
 * highlighted without the page scrolling sideways, and Commit on the page commits on the machine
 * with the thread's first message. (Build the page first: `node web/build.js`.)
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { launchChromium } from './helpers/browser.js';
import { git, makeRepository } from './helpers/git.js';
import { spawnLinkd, type TestProcess } from './helpers/processes.js';
import { collect, sandboxClient, threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/temp.js';

describe('the Changes panel, end to end on a phone', () => {
  let env: TestServer;
  let agent: TestProcess | undefined;
  let browser: Browser | undefined;

  afterEach(async () => {
    await browser?.close();
    browser = undefined;
    await agent?.stop();
    agent = undefined;
    closeClients();
    await env?.close();
  });

  it('shows a run\'s highlighted diff at 390 px without sideways scrolling, and commits it from the page', async () => {
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    const home = await tempDir('home-');
    await writeFile(join(home, '.gitconfig'), '[user]\n\tname = Machine Owner\n\temail = owner@example.com\n');
    agent = spawnLinkd(
      ['start', '--server', env.grpcUrl, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-'), '--repository-schemes', 'https,ssh,file'],
      { HOME: home },
    );
    const watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    try {
      await watch.online(env.link.id);
    } finally {
      await watch.close();
    }
    const repo = await makeRepository();
    const threads = threadClient(env.grpcUrl, env.userToken);
    const { thread } = await threads.createThread({});
    const long = 'a line long enough to need sideways scrolling on any phone '.repeat(4);
    const script = `printf 'export const answer = 42; // ${long}\\n' > answer.ts && echo more >> README`;
    const { runId } = await threads.sendMessage({ threadId: thread!.id, text: script, harness: 'shell', linkId: env.link.id, repository: repo.url, branch: 'phone' });
    await collect(threads, runId, 0n, 60_000);
    const { thread: pinned } = await threads.getThread({ threadId: thread!.id });
    const { sandbox } = await sandboxClient(env.grpcUrl, env.userToken).getSandbox({ sandboxId: pinned!.sandboxId });

    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    // Logged in as the local user through the login URL, as a user opens it.
    await page.goto(`${env.loginUrl}#/threads/${thread!.id}`);

    const runChanges = page.locator('link-run-view link-changes [data-testid=changes]');
    await runChanges.waitFor({ timeout: 20_000 });
    assert.match(await runChanges.locator('.head').innerText(), /2 files/);
    const file = runChanges.locator('details[data-path="answer.ts"]');
    assert.equal(await file.locator('.hljs-keyword').first().innerText(), 'export', 'highlighted');
    const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, viewport: window.innerWidth }));
    assert.ok(widths.page <= widths.viewport, `the page does not scroll sideways (${widths.page} > ${widths.viewport})`);
    const diff = file.locator('.diff');
    const box = await diff.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth, right: el.getBoundingClientRect().right }));
    assert.ok(box.scroll > box.client, 'the long line scrolls inside the diff');
    assert.ok(box.right <= 390);
    if (process.env.LINK_TEST_SCREENSHOTS) await page.screenshot({ path: join(process.env.LINK_TEST_SCREENSHOTS, 'changes-phone.png'), fullPage: true });

    const panel = page.locator('link-thread-changes');
    await panel.locator('link-changes [data-testid=changes]').waitFor({ timeout: 20_000 });
    assert.equal(await panel.locator('textarea').inputValue(), script, 'the commit message starts as the thread\'s first message');
    await panel.locator('button[data-action=commit]').click();
    await panel.locator('[data-testid=action-done]').waitFor({ timeout: 20_000 });
    assert.equal(git(sandbox!.path, 'log', '-1', '--format=%s'), script);
    assert.equal(git(sandbox!.path, 'status', '--porcelain'), '');
    assert.deepEqual(errors, [], 'the page threw no errors');
  });
});
