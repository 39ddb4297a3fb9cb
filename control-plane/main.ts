/**
 * `link-server`: the control plane. Every flag can also come from the environment
 * (LINK_SERVER_<FLAG>); `link-server --help` lists them.
 *
 *   link-server [serve]            run the control plane (the default)
 *   link-server migrate            apply pending database migrations and exit
 *   link-server create-user NAME   create a user and print its token once (bootstrap an admin)
 *   link-server rotate-dispatch-key  make a new dispatch signing key, endorsed by the current one
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { duration, integer } from '../common/cli.js';
import { installLastResort } from '../common/last-resort.js';
import { applyConfigFile } from '../common/config.js';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, type Logger } from '../common/log.js';
import { defaultDataDir } from '../common/paths.js';
import { LINK_VERSION } from '../common/protocol.js';
import { EtcdRegistry } from './registry/etcd.js';
import { MemoryRegistry } from './registry/memory.js';
import { writeFileAtomically } from '../common/files.js';
import { isLoopbackHost } from './auth.js';
import { LinkServer } from './server.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './store/embedded.js';
import { MigrationError } from './store/migrate.js';
import { PostgresStore } from './store/postgres.js';
import { DEFAULT_USER_TOKEN_TTL_MS } from './store/store.js';
import { keepLocalUserTokenFresh } from './local-user-token.js';
import { createKeyFile, KeyFileMismatchError, readKeyFile } from './store/dispatch-keys.js';

const repoRoot = resolve(fileURLToPath(import.meta.url), '..', '..');
/**
 * With local login, the file in the data dir that holds this run's login URL
 * (`http://127.0.0.1:8080/?login=<secret>`), 0600. Opening it logs a browser in as the local user.
 */
const LOGIN_URL_FILE = 'login-url';


const dataDirOption = () =>
  new Option('--data-dir <dir>', 'state: the embedded database, the local user\'s token').env('LINK_SERVER_DATA_DIR').default(defaultDataDir('link-server'));
const databaseOption = () =>
  new Option('--database-url <url>', 'an existing Postgres (postgres://user:pass@host:5432/db); without it, an embedded one in --data-dir').env(
    'LINK_SERVER_DATABASE_URL',
  );
const keyFileOption = () =>
  new Option('--key-file <file>', 'the secret that seals the dispatch signing key in the database (default: <data-dir>/signing.secret, made on first start)').env(
    'LINK_SERVER_KEY_FILE',
  );

/**
 * Unlocks the dispatch signing key with the key file. A missing file is made (0600) only while the
 * database holds no sealed key; a file that does not open the stored key stops the server: a new
 * key would silently cut off every paired machine.
 */
async function unlockDispatchKeys(store: PostgresStore, opts: { keyFile?: string; dataDir: string }, log: Logger): Promise<void> {
  const file = resolve(opts.keyFile ?? join(resolve(opts.dataDir), 'signing.secret'));
  let secret = await readKeyFile(file);
  if (!secret) {
    if (await store.hasSealedDispatchKey()) {
      throw new Error(
        `the dispatch signing key in the database is sealed, and there is no key file at ${file}: restore the key file it was sealed with (from your backup) or pass it with --key-file`,
      );
    }
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    secret = await createKeyFile(file);
    log.info({ keyFile: file }, 'made a new key file for the dispatch signing key: back it up with the database');
  }
  try {
    await store.unlockDispatchKeys(secret);
  } catch (error) {
    if (error instanceof KeyFileMismatchError) {
      throw new Error(`the key file ${file} does not open the dispatch signing key in the database (${error.message}); start with the key file it was sealed with`);
    }
    throw error;
  }
}

/** The embedded database has one owner: a command that opens it must not run beside a live server. */
async function refuseWhileServing(dataDir: string): Promise<void> {
  const pid = Number((JSON.parse(await readFile(join(dataDir, 'server.json'), 'utf8').catch(() => '{}')) as { pid?: number }).pid);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 0);
  } catch {
    return;
  }
  throw new Error(`link-server (pid ${pid}) is running on ${dataDir}: stop it, run this again, then start it`);
}

const logOptions = (command: Command) =>
  command
    .addOption(new Option('--log-level <level>', 'trace, debug, info, warn or error').env('LINK_SERVER_LOG_LEVEL').default('info').choices(['trace', 'debug', 'info', 'warn', 'error']))
    .addOption(new Option('--log-pretty', 'human-readable logs instead of JSON').env('LINK_SERVER_LOG_PRETTY'));

const userTokenTtlOption = () =>
  new Option('--user-token-ttl <duration>', 'how long a new user token or API token lasts unless its creator says (e.g. 90d, 12h)')
    .env('LINK_SERVER_USER_TOKEN_TTL')
    .default(DEFAULT_USER_TOKEN_TTL_MS, '90d')
    .argParser(duration(60_000, 3650 * 86_400_000));

/** Opens the store: the given database, or the embedded one (started here, stopped by `stop`). */
async function openStore(opts: { databaseUrl?: string; dataDir: string; userTokenTtl?: number }, log: Logger) {
  let embedded: EmbeddedDatabase | undefined;
  const url = opts.databaseUrl ?? (embedded = await startEmbeddedPostgres(resolve(opts.dataDir), log.child({ module: 'embedded-postgres' }))).url;
  try {
    const store = await PostgresStore.open({ url, migrationsDir: join(repoRoot, 'sql'), log: log.child({ module: 'store' }) });
    if (opts.userTokenTtl !== undefined) store.userTokenTtlMs = opts.userTokenTtl;
    return { store, embedded, stop: async () => (await store.close(), await embedded?.stop()) };
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

const program = new Command('link-server')
  .description('The Link control plane: the registry of links, the API on gRPC and HTTP, and the web UI.')
  .version(LINK_VERSION);

logOptions(
  program
    .command('serve', { isDefault: true })
    .description('run the control plane')
    .addOption(new Option('--config <file>', 'a JSON file of settings (keys are the option names); flags and environment win over it').env('LINK_SERVER_CONFIG'))
    .hook('preAction', (command) => applyConfigFile(command, command.opts().config))
    .addOption(new Option('--host <address>', 'address both ports listen on').env('LINK_SERVER_HOST').default('127.0.0.1'))
    .addOption(new Option('--grpc-port <port>', 'gRPC port (agents, grpcurl, SDKs); 0 picks one').env('LINK_SERVER_GRPC_PORT').default(9090).argParser(integer(0, 65535)))
    .addOption(new Option('--http-port <port>', 'HTTP port (web UI, Connect, gRPC-Web, health); 0 picks one').env('LINK_SERVER_HTTP_PORT').default(8080).argParser(integer(0, 65535)))
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .addOption(userTokenTtlOption())
    .addOption(keyFileOption())
    .addOption(new Option('--tls-cert <pem>', 'serve both ports over TLS with this certificate (with its chain); needs --tls-key').env('LINK_SERVER_TLS_CERT'))
    .addOption(new Option('--tls-key <pem>', 'the private key of --tls-cert').env('LINK_SERVER_TLS_KEY'))
    .addOption(new Option('--advertise-grpc <url>', 'the gRPC address agents dial, shown in pairing commands').env('LINK_SERVER_ADVERTISE_GRPC'))
    .addOption(new Option('--replica-id <id>', "this replica's name in the registry").env('LINK_SERVER_REPLICA_ID').default(`${hostname()}-${process.pid}`))
    .addOption(new Option('--etcd <urls>', 'etcd endpoints (http://host:2379,…) for the registry of several replicas; without it, in memory').env('LINK_SERVER_ETCD'))
    .addOption(new Option('--lease-ttl <seconds>', "the replica's etcd lease: a crashed replica's links go offline within it").env('LINK_SERVER_LEASE_TTL').default(10).argParser(integer(2, 300)))
    .addOption(new Option('--keepalive-time <ms>', 'gRPC keepalive: ping each agent connection this often').env('LINK_SERVER_KEEPALIVE_TIME').default(5_000).argParser(integer(100, 3_600_000)))
    .addOption(new Option('--keepalive-timeout <ms>', 'gRPC keepalive: drop a connection whose ping is not answered within this').env('LINK_SERVER_KEEPALIVE_TIMEOUT').default(4_000).argParser(integer(100, 600_000)))
    .addOption(new Option('--heartbeat-interval <ms>', 'how often agents heartbeat; 3 missed end a session').env('LINK_SERVER_HEARTBEAT_INTERVAL').default(5000).argParser(integer(50, 600_000)))
    .addOption(new Option('--hello-timeout <ms>', 'how long a new session has to send Hello').env('LINK_SERVER_HELLO_TIMEOUT').default(5000).argParser(integer(50, 600_000)))
    .addOption(new Option('--drain-grace <ms>', 'how long shutdown waits for agents to leave').env('LINK_SERVER_DRAIN_GRACE').default(10_000).argParser(integer(0, 600_000)))
    .addOption(new Option('--link-lost-grace <ms>', "how long a machine may stay away before its runs fail LINK_LOST").env('LINK_SERVER_LINK_LOST_GRACE').default(60_000).argParser(integer(100, 86_400_000)))
    .addOption(
      new Option('--retain-events <duration>', 'delete the events of runs finished longer ago than this (30d, 12h; default: keep them)')
        .env('LINK_SERVER_RETAIN_EVENTS')
        .argParser(duration(3_600_000)),
    )
    .addOption(
      new Option('--approval-timeout <duration>', 'deny what a run asks the user when nobody answers within this (10m, 1h; a thread may set its own; default: wait)')
        .env('LINK_SERVER_APPROVAL_TIMEOUT')
        .argParser(duration(1_000, 7 * 86_400_000)),
    )
    .addOption(
      new Option('--limit-resume-margin <seconds>', 'a run parked at the usage limit continues this long after the reset')
        .env('LINK_SERVER_LIMIT_RESUME_MARGIN')
        .default(60)
        .argParser(integer(0, 86_400)),
    )
    .addOption(
      new Option('--http-request-timeout <ms>', 'close an HTTP connection whose request (head and body) has not arrived within this')
        .env('LINK_SERVER_HTTP_REQUEST_TIMEOUT')
        .default(30_000)
        .argParser(integer(1_000, 600_000)),
    )
    .addOption(new Option('--web-dir <dir>', 'the built web UI').env('LINK_SERVER_WEB_DIR').default(join(repoRoot, 'web', 'dist')))
    .addOption(
      new Option('--local-login <on|off>', 'write a login URL (<data-dir>/login-url) that logs a browser in as the local user; loopback --host only (default: on with the embedded database)')
        .env('LINK_SERVER_LOCAL_LOGIN')
        .choices(['on', 'off']),
    ),
).action(async (opts) => {
  const log = createLogger({ name: 'link-server', level: opts.logLevel, pretty: opts.logPretty });
  // An error nobody caught: drain what can be drained, then exit non-zero to be restarted.
  let drainForExit: () => Promise<unknown> = async () => undefined;
  installLastResort({ log, drain: () => drainForExit(), drainTimeoutMs: opts.drainGrace + 5_000 });
  if (opts.leaseTtl * 1000 <= opts.keepaliveTime + opts.keepaliveTimeout) {
    // A dead agent connection must be noticed (and its link taken over) before the lease could lapse.
    throw new InvalidArgumentError(
      `--lease-ttl (${opts.leaseTtl} s) must be longer than --keepalive-time + --keepalive-timeout (${opts.keepaliveTime + opts.keepaliveTimeout} ms)`,
    );
  }
  if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) throw new InvalidArgumentError('--tls-cert and --tls-key go together');
  const tls = opts.tlsCert ? { cert: await readFile(opts.tlsCert), key: await readFile(opts.tlsKey) } : undefined;
  const scheme = tls ? 'https' : 'http';
  const dataDir = resolve(opts.dataDir);
  const localLogin = opts.localLogin ? opts.localLogin === 'on' : opts.databaseUrl === undefined;
  if (localLogin && !isLoopbackHost(opts.host)) {
    throw new InvalidArgumentError(
      `local login (${opts.localLogin ? '--local-login on' : 'on by default with the embedded database'}) needs a loopback --host (127.0.0.1, ::1 or localhost), ` +
        `not ${opts.host}: its login URL would let anyone who reaches the port in as the local admin. ` +
        `Pass --local-login off and log in with a user token (\`link-server create-user\`; the local user's is in ${join(dataDir, 'local-user.token')}).`,
    );
  }
  // Also with an external database: server.json (ports, URL) goes here.
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const { store, embedded, stop } = await openStore({ databaseUrl: opts.databaseUrl, dataDir, userTokenTtl: opts.userTokenTtl }, log);
  try {
    await unlockDispatchKeys(store, { keyFile: opts.keyFile, dataDir }, log);
  } catch (error) {
    await stop();
    throw error;
  }
  // A new secret at every start: a login URL from an earlier run stops working.
  const localLoginSecret = localLogin ? randomBytes(32).toString('base64url') : undefined;
  let userTokenFile: string | undefined;
  if (embedded) {
    // The embedded default's one local user, and its API token for linkctl and scripts.
    userTokenFile = join(dataDir, 'local-user.token');
    await keepLocalUserTokenFresh(store, userTokenFile, log);
  }
  const advertiseHost = opts.host === '0.0.0.0' || opts.host === '::' ? hostname() : opts.host;
  const registry = opts.etcd
    ? new EtcdRegistry({
        endpoints: String(opts.etcd).split(',').map((e: string) => e.trim()).filter(Boolean),
        replicaId: opts.replicaId,
        leaseTtlSeconds: opts.leaseTtl,
        log: log.child({ module: 'registry' }),
        advertise: { host: advertiseHost, grpcPort: String(opts.grpcPort), httpPort: String(opts.httpPort) },
      })
    : new MemoryRegistry(opts.replicaId, undefined, opts.leaseTtl * 1000);
  let server: LinkServer;
  try {
    server = await LinkServer.start({
      host: opts.host,
      grpcPort: opts.grpcPort,
      httpPort: opts.httpPort,
      heartbeatIntervalMs: opts.heartbeatInterval,
      helloTimeoutMs: opts.helloTimeout,
      drainGraceMs: opts.drainGrace,
      keepaliveTimeMs: opts.keepaliveTime,
      linkLostGraceMs: opts.linkLostGrace,
      retainEventsMs: opts.retainEvents,
      approvalTimeoutMs: opts.approvalTimeout,
      limitResumeMarginSeconds: opts.limitResumeMargin,
      httpRequestTimeoutMs: opts.httpRequestTimeout,
      keepaliveTimeoutMs: opts.keepaliveTimeout,
      webDir: opts.webDir,
      localLoginSecret,
      advertisedGrpcUrl: opts.advertiseGrpc ?? `${scheme}://${advertiseHost.includes(':') ? `[${advertiseHost}]` : advertiseHost}:${opts.grpcPort}`,
      tls,
      store,
      registry,
      log,
    });
  } catch (error) {
    await registry.close().catch(() => undefined);
    await stop();
    throw error;
  }
  drainForExit = () => server.close().then(() => embedded?.stop());
  // With --grpc-port 0 the advertised address can only be known now.
  if (!opts.advertiseGrpc && opts.grpcPort === 0) server.setAdvertisedGrpcUrl(`${scheme}://${advertiseHost}:${server.grpcPort}`);
  const url = `${scheme}://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${server.httpPort}`;
  const loginUrlFile = join(dataDir, LOGIN_URL_FILE);
  if (localLoginSecret) {
    await writeFileAtomically(loginUrlFile, `${url}/?login=${localLoginSecret}\n`);
    // The path, never the secret: logs are kept and shipped; the file is 0600.
    log.info({ loginUrlFile }, `open the login URL in ${loginUrlFile} to log in as the local user`);
  } else {
    await rm(loginUrlFile, { force: true });
  }
  await writeFileAtomically(
    join(dataDir, 'server.json'),
    JSON.stringify({ pid: process.pid, grpcPort: server.grpcPort, httpPort: server.httpPort, url, userTokenFile, loginUrlFile: localLoginSecret ? loginUrlFile : undefined }),
  );
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal }, 'shutting down: draining agents');
    server
      .close()
      .then(() => embedded?.stop())
      .then(
        () => process.exit(0),
        (error) => {
          log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Only now: whoever waits for this line may signal the server at once.
  log.info({ url, grpc: `${opts.host}:${server.grpcPort}` }, `Link is running at ${url}`);
});

logOptions(
  program
    .command('migrate')
    .description('apply pending database migrations and exit')
    .addOption(dataDirOption())
    .addOption(databaseOption()),
).action(async (opts) => {
  const log = createLogger({ name: 'link-server', level: opts.logLevel, pretty: opts.logPretty });
  const { stop } = await openStore(opts, log);
  await stop();
  process.stdout.write('the database is up to date\n');
});

logOptions(
  program
    .command('create-user <name>')
    .description("create a user and print its API token (shown once); use it to bootstrap the first admin")
    .option('--admin', 'the user may create other users')
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .addOption(userTokenTtlOption()),
).action(async (name: string, opts) => {
  const log = createLogger({ name: 'link-server', level: 'warn', pretty: opts.logPretty });
  const { store, stop } = await openStore(opts, log);
  try {
    const created = await store.createUser(name, { admin: opts.admin });
    if (!created) throw new Error(`a user named ${name} already exists`);
    process.stdout.write(`${created.token}\n`);
    process.stderr.write(`created ${opts.admin ? 'admin ' : ''}user ${name} (${created.user.id}); the token above is shown only once\n`);
  } finally {
    await stop();
  }
});

logOptions(
  program
    .command('rotate-dispatch-key')
    .description('make a new dispatch signing key, endorsed by the current one; restart every replica afterwards to sign with it')
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .addOption(keyFileOption()),
).action(async (opts) => {
  const log = createLogger({ name: 'link-server', level: 'warn', pretty: opts.logPretty });
  if (!opts.databaseUrl) await refuseWhileServing(resolve(opts.dataDir));
  const { store, stop } = await openStore(opts, log);
  try {
    await unlockDispatchKeys(store, opts, log);
    const rotated = await store.rotateDispatchKey();
    process.stdout.write(`${rotated.publicKey.toString('base64')}\n`);
    process.stderr.write(
      `the dispatch signing key is now generation ${rotated.chain.length}; restart every replica so they sign with it (machines follow the endorsed chain when they reconnect)\n`,
    );
  } finally {
    await stop();
  }
});

program.parseAsync().catch((error) => {
  const prefix = error instanceof MigrationError ? `database migration (${error.reason})` : 'error';
  process.stderr.write(`link-server: ${prefix}: ${(error as Error).message}\n`);
  process.exit(1);
});
