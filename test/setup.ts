/**
 * Root hooks: nothing a test starts may outlive it. After each test, the processes and servers it
 * started (in beforeEach, the test or afterEach) must be gone; what a suite starts in `before` must
 * be gone by the end of the run (in a parallel run: by the end of its file). A leak is stopped and
 * fails the test or the run, naming what leaked.
 *
 * A parallel run (`--parallel`, what `npm test` runs) runs each file in one of mocha's worker
 * processes; root `beforeAll`/`afterAll` then run once per file. Its main process starts the one
 * Postgres of the run before the workers (the global setup) and stops it after them (and removes
 * Codex's folder in /tmp when the run made it, see tidyCodexDaemonDir), and with
 * LINK_TEST_FILE_TIMES set (by the reporter, for LINK_TEST_TIMING) each file's wall time is
 * appended there, since the reporter hears of a file only once it has ended.
 */
import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';
import { liveProcesses, repoRoot, type TestProcess } from './helpers/processes.js';
import { openServers, type TestServer } from './helpers/server.js';
import { shareTestPostgres, stopPostgres } from './helpers/postgres.js';
import { tidyCodexDaemonDir } from './helpers/harness-clis.js';
import { removeTempDirs } from './helpers/temp.js';

let before = new Set<TestProcess | TestServer>();
/** When this worker's current file began (a parallel run's root beforeAll). */
let fileStarted = 0;

async function stopLeaks(leaks: (TestProcess | TestServer)[]): Promise<void> {
  if (leaks.length === 0) return;
  const names: string[] = [];
  for (const leak of leaks) {
    if ('child' in leak) {
      names.push(`process ${leak.name} (pid ${leak.child.pid})`);
      await leak.stop('SIGKILL');
    } else {
      names.push(`server ${leak.grpcUrl}`);
      await leak.close().catch(() => undefined);
    }
  }
  throw new Error(`left running: ${names.join(', ')}`);
}

interface HookContext {
  test?: { parent?: { suites: { file?: string }[] } };
}

/** The global setup's `this`: mocha's runner, which says whether the files run in workers. */
interface RunnerContext {
  isParallelMode?: () => boolean;
}

/** What the global teardown of a parallel run tidies (the workers leave Codex's folder to it). */
let tidyCodex: (() => Promise<void>) | undefined;

export async function mochaGlobalSetup(this: RunnerContext): Promise<void> {
  if (!this.isParallelMode?.()) return;
  tidyCodex = tidyCodexDaemonDir();
  await shareTestPostgres();
}

export async function mochaGlobalTeardown(): Promise<void> {
  if (!tidyCodex) return;
  await stopPostgres();
  await tidyCodex();
}

export const mochaHooks = {
  beforeAll() {
    fileStarted = Date.now();
  },
  beforeEach() {
    before = new Set([...liveProcesses(), ...openServers()]);
  },
  async afterEach() {
    const leaks = [...liveProcesses(), ...openServers()].filter((x) => !before.has(x));
    await stopLeaks(leaks);
  },
  async afterAll(this: HookContext) {
    try {
      await stopLeaks([...liveProcesses(), ...openServers()]);
    } finally {
      await removeTempDirs();
      await stopPostgres();
      const times = process.env.LINK_TEST_FILE_TIMES;
      const file = this.test?.parent?.suites.find((s) => s.file)?.file;
      if (times && process.env.MOCHA_WORKER_ID !== undefined && file) {
        appendFileSync(times, `${JSON.stringify({ file: relative(repoRoot, file), ms: Date.now() - fileStarted })}\n`);
      }
    }
  },
};
