/**
 * An in-process control plane on 127.0.0.1, ports chosen by the OS, on a fresh Postgres database
 * with the schema in place (or a given one, to play a second replica or a restart) holding one user and one link. Like the
 * embedded default it has local login on: a browser logs in as the local user by opening `loginUrl`. `close()`
 * fails if a session or HTTP connection is still open after shutdown; the root hook fails a test
 * that does not close it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createLogger } from '../../common/log.js';
import { MemoryRegistry } from '../../control-plane/registry/memory.js';
import type { Registry } from '../../control-plane/registry/registry.js';
import { writeFileAtomically } from '../../common/files.js';
import { LinkServer, type LinkServerOptions } from '../../control-plane/server.js';
import { PostgresStore } from '../../control-plane/store/postgres.js';
import type { LinkRecord, UserRecord } from '../../control-plane/store/store.js';
import { migratedDatabase } from './postgres.js';
import { repoRoot, spawnTracked, type TestProcess } from './processes.js';
import { tempDir } from './temp.js';

const open = new Set<TestServer>();

/** The key-file secret every test server seals its dispatch key with (so replicas on one database agree). */
export const TEST_KEY_SECRET = Buffer.alloc(32, 7);

export interface TestServer {
  server: LinkServer;
  store: PostgresStore;
  registry: Registry;
  databaseUrl: string;
  grpcUrl: string;
  httpUrl: string;
  user: UserRecord;
  userToken: string;
  link: LinkRecord;
  linkToken: string;
  /** The link token written to a 0600 file, for linkd's --token-file, with link.json (the pinned key) beside it. */
  linkTokenFile: string;
  /** With local login (the default): this server's login secret, and the URL a user opens with it. */
  loginSecret: string | undefined;
  loginUrl: string | undefined;
  close(): Promise<void>;
}

export type TestServerOptions = Partial<Omit<LinkServerOptions, 'store' | 'registry' | 'log'>> & {
  /** Share a database with another test server (a second replica, a restart). */
  databaseUrl?: string;
  /** The LISTEN connection goes here instead (through a proxy a test can cut). */
  listenDatabaseUrl?: string;
  /** The links belong to another user, so the local user has none (the page's empty state). */
  userWithoutLinks?: boolean;
  /** A registry other than a fresh in-memory one (etcd). */
  registry?: Registry;
  /** Receives every log line of the server at trace level (to check what is logged). */
  logTo?: { write(line: string): void };
  /** Local login, as the embedded default has it: a login secret for the local user (default on). */
  localLogin?: boolean;
};

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { userWithoutLinks, databaseUrl: given, listenDatabaseUrl, registry: givenRegistry, logTo, localLogin = true, ...serverOverrides } = options;
  const loginSecret = localLogin ? randomBytes(32).toString('base64url') : undefined;
  const databaseUrl = given ?? (await migratedDatabase());
  const log = logTo
    ? createLogger({ name: 'test-server', level: 'trace', destination: logTo })
    : createLogger({ name: 'test-server', level: process.env.LINK_TEST_VERBOSE ? 'debug' : 'silent' });
  const store = await PostgresStore.open({ url: databaseUrl, listenUrl: listenDatabaseUrl, migrationsDir: resolve(repoRoot, 'sql'), log, max: 4 });
  const { publicKey } = await store.unlockDispatchKeys(TEST_KEY_SECRET);
  const user = await store.localUser();
  const userToken = await store.addUserToken(user.id, 'api');
  const owner = userWithoutLinks ? (await store.createUser(`other-${Math.random().toString(36).slice(2)}`))!.user : user;
  const { link, token: linkToken } = await store.createLink(owner.id, 'test-machine');
  const linkTokenFile = join(await tempDir('link-token-'), 'token');
  await writeFileAtomically(linkTokenFile, `${linkToken}\n`);
  // Beside the token, what `linkd login` would have saved: linkd trusts only the key pinned there.
  const saved = { server: '', linkId: link.id, linkName: link.name, userName: owner.name, dispatchPublicKey: publicKey.toString('base64'), pairedAt: new Date().toISOString() };
  await writeFileAtomically(join(dirname(linkTokenFile), 'link.json'), `${JSON.stringify(saved)}\n`);
  const registry = givenRegistry ?? new MemoryRegistry(`test-replica-${Math.random().toString(36).slice(2, 8)}`);
  const server = await LinkServer.start({
    host: '127.0.0.1',
    grpcPort: 0,
    httpPort: 0,
    heartbeatIntervalMs: 200,
    helloTimeoutMs: 1_000,
    drainGraceMs: 2_000,
    webDir: join(repoRoot, 'web', 'dist'),
    localLoginSecret: loginSecret,
    store,
    registry,
    log,
    ...serverOverrides,
  });
  const handle: TestServer = {
    server,
    store,
    registry,
    databaseUrl,
    grpcUrl: `http://127.0.0.1:${server.grpcPort}`,
    httpUrl: `http://127.0.0.1:${server.httpPort}`,
    user,
    userToken,
    link,
    linkToken,
    linkTokenFile,
    loginSecret,
    loginUrl: loginSecret ? `http://127.0.0.1:${server.httpPort}/?login=${loginSecret}` : undefined,
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

export interface ServerProcess {
  process: TestProcess;
  dataDir: string;
  httpPort: number;
  grpcPort: number;
  httpUrl: string;
}

/**
 * `link-server` from bin/ as a real process (as an operator starts it), ports chosen by the OS, on a
 * fresh database unless `args` name one; resolves once it listens (it has written server.json).
 * The process is tracked: the test stops it.
 */
export async function startServerProcess(args: string[] = [], name = 'link-server'): Promise<ServerProcess> {
  const dataDir = await tempDir('link-server-');
  const database = args.includes('--database-url') ? [] : ['--database-url', await migratedDatabase()];
  // Every server of the tests seals its signing key with the one test secret, so that a second
  // process on the same database (a restart, another replica) can unseal it.
  const keyFile = join(dataDir, 'test-signing.secret');
  if (!args.includes('--key-file')) await writeFileAtomically(keyFile, `${TEST_KEY_SECRET.toString('base64')}\n`);
  const keyFileArgs = args.includes('--key-file') ? [] : ['--key-file', keyFile];
  const child = spawnTracked(name, process.execPath, [
    join(repoRoot, 'bin', 'link-server.js'),
    'serve', '--grpc-port', '0', '--http-port', '0', '--data-dir', dataDir, ...database, ...keyFileArgs, ...args,
  ]);
  await child.waitForOutput(/"msg":"Link is running/, 60_000);
  const info = JSON.parse(await readFile(join(dataDir, 'server.json'), 'utf8'));
  return { process: child, dataDir, httpPort: info.httpPort, grpcPort: info.grpcPort, httpUrl: `http://127.0.0.1:${info.httpPort}` };
}
