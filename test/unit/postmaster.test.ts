import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../../common/log.js';
import { isPostmasterOf, startEmbeddedPostgres } from '../../control-plane/store/embedded.js';
import { tempDir } from '../helpers/temp.js';

describe('which process a stale postmaster.pid may name', () => {
  it("is signalled only when it is this cluster's own Postgres, never another process or pid 1", async function () {
    this.timeout(60_000);
    const database = await startEmbeddedPostgres(await tempDir('link-postmaster-'), createLogger({ name: 'test', level: 'silent' }));
    try {
      const pid = Number((await readFile(join(database.clusterDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
      assert.equal(await isPostmasterOf(pid, database.clusterDir), true, 'the cluster\'s own postmaster');
      assert.equal(await isPostmasterOf(pid, await tempDir('link-other-cluster-')), false, 'a Postgres of another directory');
      assert.equal(await isPostmasterOf(1, database.clusterDir), false, 'pid 1');
      assert.equal(await isPostmasterOf(process.pid, database.clusterDir), false, 'a process that is not Postgres');
    } finally {
      await database.stop();
    }
  });
});
