/**
 * The LISTEN connection comes back however often it drops, also while its consumers are still
 * catching up on an earlier drop (real Postgres; the listening backend is terminated).
 */
import assert from 'node:assert/strict';
import postgres from 'postgres';
import { createLogger } from '../common/log.js';
import { Notifications } from '../control-plane/notifications.js';
import { freshDatabase } from './helpers/postgres.js';

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('the LISTEN connection', () => {
  it('listens again after a drop that comes while the consumers catch up on the previous one', async () => {
    const url = await freshDatabase();
    const admin = postgres(url, { max: 1, onnotice: () => undefined });
    const name = `link-test-relisten-${process.pid}`;
    const notifications = await Notifications.open(url, createLogger({ name: 'test', level: 'silent' }), { applicationName: name });
    const kill = () => admin`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${name}`;
    try {
      let catchUps = 0;
      notifications.onReconnect(async () => {
        catchUps++;
        // The first catch-up is slow, and the connection drops again before it is done.
        if (catchUps === 1) {
          await kill();
          await until(() => !notifications.isListening(), 'the second drop is noticed');
        }
      });
      await kill();
      await until(() => catchUps >= 2 && notifications.isListening(), 'listening again after the second drop, with a second catch-up');
      const heard = new Promise<unknown>((resolve) => notifications.on('run_queued', resolve));
      await admin`select pg_notify('run_queued', ${JSON.stringify({ linkId: 'lnk_x', at: Date.now() })})`;
      assert.equal(((await heard) as { linkId: string }).linkId, 'lnk_x', 'notifications are heard again');
    } finally {
      await notifications.close();
      await admin.end();
    }
  });
});
