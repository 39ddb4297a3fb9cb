/**
 * Root hooks: nothing a test starts may outlive it. After each test, the processes and servers it
 * started (in beforeEach, the test or afterEach) must be gone; what a suite starts in `before` must
 * be gone by the end of the run. A leak is stopped and fails the test or the run, naming what leaked.
 */
import { liveProcesses, type TestProcess } from './helpers/processes.js';
import { openServers, type TestServer } from './helpers/server.js';
import { stopPostgres } from './helpers/postgres.js';
import { removeTempDirs } from './helpers/temp.js';

let before = new Set<TestProcess | TestServer>();

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

export const mochaHooks = {
  beforeEach() {
    before = new Set([...liveProcesses(), ...openServers()]);
  },
  async afterEach() {
    const leaks = [...liveProcesses(), ...openServers()].filter((x) => !before.has(x));
    await stopLeaks(leaks);
  },
  async afterAll() {
    try {
      await stopLeaks([...liveProcesses(), ...openServers()]);
    } finally {
      await removeTempDirs();
      await stopPostgres();
    }
  },
};
