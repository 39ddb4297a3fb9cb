/**
 * In real Chromium against a real control plane and a real linkd: a machine that reported suspend
 * (its power monitor, LINKD_POWER_EVENTS_COMMAND, says PrepareForSleep) and then lost its connection
 * reads "Asleep since HH:MM" on the machines page, in the header and in its thread, with the number
 * of messages waiting for it; `linkctl links list` says ASLEEP and the count too. Screenshots go to $LINK_TEST_SCREENSHOTS (test-results/screenshots).
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from './helpers/browser.js';
import { closeClients, linkClient, LinkWatch } from './helpers/clients.js';
import { repoRoot, spawnLinkd, spawnTracked, type TestProcess } from './helpers/processes.js';
import { threadClient } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { tempDir } from './helpers/temp.js';

const SCREENSHOTS = process.env.LINK_TEST_SCREENSHOTS ?? join(repoRoot, 'test-results', 'screenshots');

describe('the page: a machine that went to sleep', () => {
  let env: TestServer;
  let proxy: TcpProxy;
  let agent: TestProcess | undefined;
  let browser: Browser | undefined;
  let watch: LinkWatch | undefined;

  before(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    env = await startTestServer({ heartbeatIntervalMs: 500 });
    proxy = await TcpProxy.start(Number(new URL(env.grpcUrl).port));
  });

  afterEach(async () => {
    // What the test starts, it stops (the root hook checks right after).
    await browser?.close();
    browser = undefined;
    await agent?.stop();
    agent = undefined;
  });

  after(async () => {
    await watch?.close();
    await proxy?.close();
    closeClients();
    await env?.close();
  });

  it('shows "Asleep since" and the queue count on the machines page, in the header and in its thread', async () => {
    const events = await tempDir('power-events-');
    // Like `gdbus monitor`: one line per signal; here when the test drops the file.
    const script = join(events, 'monitor.sh');
    await writeFile(script, `while [ ! -e "${events}/sleep" ]; do sleep 0.05; done; cat "${events}/sleep"; exec sleep 3600\n`);
    agent = spawnLinkd(['start', '--server', proxy.url, '--token-file', env.linkTokenFile, '--data-dir', await tempDir('linkd-'), '--max-concurrent-runs', '1'], {
      LINKD_POWER_EVENTS_COMMAND: `sh ${script}`,
    });
    watch = new LinkWatch(linkClient(env.grpcUrl, env.userToken));
    await watch.online(env.link.id);

    // The machine runs one thing at a time: a long run holds it, a second thread's message waits.
    const threads = threadClient(env.grpcUrl, env.userToken);
    const busy = (await threads.createThread({})).thread!.id;
    const waiting = (await threads.createThread({})).thread!.id;
    const long = await threads.sendMessage({ threadId: busy, text: 'echo started; sleep 60', harness: 'shell', linkId: env.link.id });
    for await (const _ of threads.watchRun({ runId: long.runId, afterSeq: 0n }, { timeoutMs: 20_000 })) break;
    await threads.sendMessage({ threadId: waiting, text: 'echo later', harness: 'shell', linkId: env.link.id });
    await watch.until(env.link.id, (l) => l.queuedMessages === 1, 'one queued');

    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(env.loginUrl!);
    await page.locator('[data-testid=machine-indicator][data-state=online]').waitFor({ timeout: 20_000 });
    await page.evaluate(() => (location.hash = '#/machines'));
    const card = page.locator(`link-machine-card [data-link-id=${env.link.id}]`);
    await card.and(page.locator('[data-state=online]')).waitFor({ timeout: 10_000 });
    assert.equal((await card.getByTestId('link-queued').innerText()).trim(), '1 queued');

    // The OS says it is going to sleep; then the machine is gone (its connection dies).
    await writeFile(join(events, 'sleep'), '/org/freedesktop/login1: org.freedesktop.login1.Manager.PrepareForSleep (true,)\n');
    await watch.until(env.link.id, (l) => l.asleepSince !== undefined, 'told it goes to sleep');
    proxy.block();

    await card.and(page.locator('[data-state=asleep]')).waitFor({ timeout: 15_000 });
    const status = (await card.getByTestId('link-status').innerText()).trim();
    assert.match(status, /^Asleep since \d{1,2}:\d{2}/);
    assert.equal((await card.getByTestId('link-queued').innerText()).trim(), '1 queued', 'the message still waits for it');
    const header = page.locator('[data-testid=machine-indicator][data-state=asleep]');
    await header.waitFor({ timeout: 10_000 });
    assert.match(await header.innerText(), /1 queued/);
    await page.screenshot({ path: join(SCREENSHOTS, 'machine-asleep.png'), fullPage: true });

    // The waiting thread says where its message is.
    await page.evaluate((id) => (location.hash = `#/threads/${id}`), waiting);
    const banner = page.getByTestId('offline-banner');
    await banner.waitFor({ timeout: 10_000 });
    assert.match(await banner.innerText(), /is asleep since \d{1,2}:\d{2}.*Messages wait for it and run when it wakes up \(1 queued\)/s);
    assert.deepEqual(errors, []);

    // linkctl says the same.
    const linkctl = spawnTracked('linkctl', process.execPath, [join(repoRoot, 'bin', 'linkctl.js'), '--server', env.grpcUrl, '--token', env.userToken, 'links', 'list']);
    const { code } = await linkctl.waitForExit(20_000);
    assert.equal(code, 0, linkctl.output);
    assert.match(linkctl.output, /^LINK +NAME +STATE +HOST +SEEN +QUEUED\n/);
    assert.match(linkctl.output, new RegExp(`${env.link.id} +test-machine +asleep +\\S+ +asleep since .+ +1\\n`));
  });
});
