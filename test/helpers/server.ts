/**
 * An in-process control plane on 127.0.0.1, ports chosen by the OS, with a file account store in a
 * temporary directory holding one user and one link. `close()` fails if a session or HTTP
 * connection is still open after shutdown; the root hook fails a test that does not close it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createLogger } from '../../common/log.js';
import { FileAccountStore } from '../../control-plane/accounts/file-store.js';
import type { LinkRecord, UserRecord } from '../../control-plane/accounts/account-store.js';
import { writeSecret } from '../../control-plane/local-setup.js';
import { MemoryRegistry } from '../../control-plane/registry/memory.js';
import { LinkServer, type LinkServerOptions } from '../../control-plane/server.js';
import { repoRoot } from './processes.js';
import { tempDir } from './temp.js';

const open = new Set<TestServer>();

export interface TestServer {
  server: LinkServer;
  accounts: FileAccountStore;
  registry: MemoryRegistry;
  dataDir: string;
  grpcUrl: string;
  httpUrl: string;
  user: UserRecord;
  userToken: string;
  link: LinkRecord;
  linkToken: string;
  /** The link token written to a 0600 file, for linkd's --token-file. */
  linkTokenFile: string;
  close(): Promise<void>;
}

export async function startTestServer(
  overrides: Partial<Omit<LinkServerOptions, 'accounts' | 'registry' | 'log'>> & { dataDir?: string; userWithoutLinks?: boolean } = {},
): Promise<TestServer> {
  const { userWithoutLinks, ...serverOverrides } = overrides;
  const dataDir = overrides.dataDir ?? (await tempDir('link-server-'));
  const accounts = await FileAccountStore.open(dataDir);
  const existing = await accounts.localUser();
  const user = existing;
  const userToken = await accounts.addUserToken(user.id);
  // The links belong to another user when the local user must have none (the page's empty state).
  const owner = userWithoutLinks ? (await accounts.createUser('other')).user : user;
  const { link, token: linkToken } = await accounts.createLink(owner.id, 'test-machine');
  const linkTokenFile = join(dataDir, `${link.id}.token`);
  await writeSecret(linkTokenFile, linkToken);
  const registry = new MemoryRegistry(`test-replica-${process.pid}`);
  const server = await LinkServer.start({
    host: '127.0.0.1',
    grpcPort: 0,
    httpPort: 0,
    heartbeatIntervalMs: 200,
    helloTimeoutMs: 1_000,
    drainGraceMs: 2_000,
    webDir: join(repoRoot, 'web', 'dist'),
    localLogin: true,
    accounts,
    registry,
    log: createLogger({ name: 'test-server', level: process.env.LINK_TEST_VERBOSE ? 'debug' : 'silent' }),
    ...serverOverrides,
  });
  const handle: TestServer = {
    server,
    accounts,
    registry,
    dataDir,
    grpcUrl: `http://127.0.0.1:${server.grpcPort}`,
    httpUrl: `http://127.0.0.1:${server.httpPort}`,
    user,
    userToken,
    link,
    linkToken,
    linkTokenFile,
    async close() {
      open.delete(handle);
      await server.close();
      assert.equal(server.sessionCount, 0, 'link sessions still open after the server closed');
      assert.equal(server.httpConnectionCount, 0, 'HTTP connections still open after the server closed');
    },
  };
  open.add(handle);
  return handle;
}

/** Servers a test started and did not close; the root hook closes them and fails the test. */
export function openServers(): TestServer[] {
  return [...open];
}
