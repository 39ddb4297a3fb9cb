/**
 * The last resort of link-server and linkd: an error nobody caught is logged as fatal, the process
 * drains within a bounded time and exits non-zero, instead of dying silently or staying half alive.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { repoRoot, spawnTracked } from './helpers/processes.js';

async function runChild(how: string): Promise<{ code: number | null; stdout: string; fatal: { msg: string; err?: { message: string } }[] }> {
  const child = spawnTracked(`last-resort ${how}`, process.execPath, ['--import', 'tsx', join(repoRoot, 'test', 'fixtures', 'last-resort-child.ts'), how], {
    cwd: repoRoot,
  });
  const { code } = await child.waitForExit(20_000);
  const fatal = child.output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
    .filter((line) => line.level === 60);
  return { code, stdout: child.output, fatal };
}

describe('the last resort', () => {
  for (const [how, kind, message] of [
    ['exception', 'uncaught exception', 'nobody caught this'],
    ['rejection', 'unhandled rejection', 'nobody handled this'],
  ] as const) {
    it(`an ${kind} is logged as fatal with its error, the process drains and exits non-zero`, async () => {
      const { code, stdout, fatal } = await runChild(how);
      assert.equal(code, 70, 'exit status EX_SOFTWARE, for the supervisor to restart it');
      assert.ok(fatal.some((line) => line.msg.startsWith(kind) && line.err?.message === message), `a fatal line names the error: ${JSON.stringify(fatal)}`);
      assert.match(stdout, /drained/);
    });
  }

  it('a drain that hangs does not keep the process alive: it exits at the deadline', async () => {
    const { code, stdout, fatal } = await runChild('hanging-drain');
    assert.equal(code, 70);
    assert.doesNotMatch(stdout, /drained/);
    assert.ok(fatal.some((line) => line.msg.includes('did not finish in time')), JSON.stringify(fatal));
  });
});
