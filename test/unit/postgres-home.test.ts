/**
 * When the embedded Postgres's binaries or cluster have to move: only as root, and only when the
 * `postgres` user cannot traverse to them.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { planPostgresHome, type OsUser } from '../../control-plane/store/postgres-home.js';
import { tempDir } from '../helpers/temp.js';

describe('where the embedded Postgres lives', () => {
  /** An account that owns none of the test's directories, like `postgres`. */
  const other: OsUser = { name: 'postgres', uid: 54_321, gid: 54_321 };

  /** A checkout with the package's `native/bin` and a data directory, under a parent of `mode`. */
  async function checkout(mode: number) {
    const parent = await tempDir('link-home-');
    const nativeDir = join(parent, 'native');
    const dataDir = join(parent, 'data');
    await mkdir(join(nativeDir, 'bin'), { recursive: true });
    await mkdir(dataDir);
    await chmod(parent, mode);
    return { nativeDir, dataDir, parent };
  }

  it('as a normal user nothing moves, even under a private directory', async () => {
    const { nativeDir, dataDir } = await checkout(0o700);
    assert.deepEqual(await planPostgresHome({ uid: 1000, user: other, nativeDir, dataDir }), { relocateBinaries: false, relocateCluster: false });
  });

  it('as root, nothing moves when the postgres user can reach the binaries and the data directory', async () => {
    const { nativeDir, dataDir } = await checkout(0o755);
    assert.deepEqual(await planPostgresHome({ uid: 0, user: other, nativeDir, dataDir }), { relocateBinaries: false, relocateCluster: false });
  });

  it('as root, the binaries and the cluster move when a mode-700 parent keeps the postgres user out', async () => {
    const { nativeDir, dataDir, parent } = await checkout(0o700);
    assert.deepEqual(await planPostgresHome({ uid: 0, user: other, nativeDir, dataDir }), {
      relocateBinaries: true,
      relocateCluster: true,
      blocked: parent,
    });
  });
});
