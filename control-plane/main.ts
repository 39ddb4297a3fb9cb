/**
 * `link-server`: the control plane. Every flag can also come from the environment
 * (LINK_SERVER_<FLAG>); `link-server --help` lists them.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFile } from 'node:fs/promises';
import { createLogger } from '../common/log.js';
import { LINK_VERSION } from '../common/protocol.js';
import { FileAccountStore } from './accounts/file-store.js';
import { ensureLocalSetup } from './local-setup.js';
import { MemoryRegistry } from './registry/memory.js';
import { LinkServer } from './server.js';
import { defaultDataDir } from '../common/paths.js';

const repoRoot = resolve(fileURLToPath(import.meta.url), '..', '..');

function integer(min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

const program = new Command('link-server')
  .description('The Link control plane: the registry of links, the API on gRPC and HTTP, and the web UI.')
  .version(LINK_VERSION)
  .addOption(new Option('--host <address>', 'address both ports listen on').env('LINK_SERVER_HOST').default('127.0.0.1'))
  .addOption(new Option('--grpc-port <port>', 'gRPC port (agents, grpcurl, SDKs); 0 picks one').env('LINK_SERVER_GRPC_PORT').default(9090).argParser(integer(0, 65535)))
  .addOption(new Option('--http-port <port>', 'HTTP port (web UI, Connect, gRPC-Web, health); 0 picks one').env('LINK_SERVER_HTTP_PORT').default(8080).argParser(integer(0, 65535)))
  .addOption(new Option('--data-dir <dir>', 'where the control plane keeps its state').env('LINK_SERVER_DATA_DIR').default(defaultDataDir('link-server')))
  .addOption(new Option('--replica-id <id>', 'this replica\'s name in the registry').env('LINK_SERVER_REPLICA_ID').default(`${hostname()}-${process.pid}`))
  .addOption(new Option('--heartbeat-interval <ms>', 'how often agents heartbeat; 3 missed end a session').env('LINK_SERVER_HEARTBEAT_INTERVAL').default(5000).argParser(integer(50, 600_000)))
  .addOption(new Option('--hello-timeout <ms>', 'how long a new session has to send Hello').env('LINK_SERVER_HELLO_TIMEOUT').default(5000).argParser(integer(50, 600_000)))
  .addOption(new Option('--drain-grace <ms>', 'how long shutdown waits for agents to leave').env('LINK_SERVER_DRAIN_GRACE').default(10_000).argParser(integer(0, 600_000)))
  .addOption(new Option('--web-dir <dir>', 'the built web UI').env('LINK_SERVER_WEB_DIR').default(join(repoRoot, 'web', 'dist')))
  .addOption(new Option('--no-local-login', 'do not log loopback browsers in as the local user').env('LINK_SERVER_NO_LOCAL_LOGIN'))
  .addOption(new Option('--log-level <level>', 'trace, debug, info, warn or error').env('LINK_SERVER_LOG_LEVEL').default('info').choices(['trace', 'debug', 'info', 'warn', 'error']))
  .addOption(new Option('--log-pretty', 'human-readable logs instead of JSON').env('LINK_SERVER_LOG_PRETTY'))
  .action(async (opts) => {
    const log = createLogger({ name: 'link-server', level: opts.logLevel, pretty: opts.logPretty });
    const dataDir = resolve(opts.dataDir);
    const accounts = await FileAccountStore.open(dataDir);
    const local = await ensureLocalSetup(accounts, dataDir);
    const registry = new MemoryRegistry(opts.replicaId);
    const server = await LinkServer.start({
      host: opts.host,
      grpcPort: opts.grpcPort,
      httpPort: opts.httpPort,
      heartbeatIntervalMs: opts.heartbeatInterval,
      helloTimeoutMs: opts.helloTimeout,
      drainGraceMs: opts.drainGrace,
      webDir: opts.webDir,
      localLogin: opts.localLogin,
      accounts,
      registry,
      log,
    });
    const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${server.httpPort}`;
    await writeFile(
      join(dataDir, 'server.json'),
      JSON.stringify({ pid: process.pid, grpcPort: server.grpcPort, httpPort: server.httpPort, url, linkTokenFile: local.linkTokenFile, userTokenFile: local.userTokenFile }),
      { mode: 0o600 },
    );
    log.info({ url, grpc: `${opts.host}:${server.grpcPort}` }, `Link is running at ${url}`);

    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      log.info({ signal }, 'shutting down: draining agents');
      server.close().then(
        () => process.exit(0),
        (error) => {
          log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });

program.parseAsync().catch((error) => {
  console.error(`link-server: ${(error as Error).message}`);
  process.exit(1);
});
