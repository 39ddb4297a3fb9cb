/**
 * `linkd`: the agent that connects this machine to a Link control plane.
 *
 *   linkd login --code CODE   pair: the link token (0600) and the pinned dispatch key (link.json)
 *   linkd start               probe, reap orphaned runs, connect and stay connected, run dispatched runs
 *                             in their sandboxes, re-probe (periodic, SIGHUP), metrics (--metrics-port)
 *   linkd status | doctor     running? connected to what? can it verify dispatches? what can it run?
 *   linkd service install|uninstall|status, linkd sandboxes list|rm|prune
 *   linkd workspace add|list|rm   the folders linkd may work in (this machine only)
 *
 * Signals: the first drains (running runs get --stop-grace, then AGENT_STOPPED; Goodbye), the second
 * stops the runs, the third exits. An uncaught error stops the runs and exits 70 (last-resort.ts).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { integer } from '../common/cli.js';
import { installLastResort } from '../common/last-resort.js';
import { applyConfigFile } from '../common/config.js';
import { join, resolve } from 'node:path';
import { createLogger } from '../common/log.js';
import { defaultConfigDir, defaultDataDir } from '../common/paths.js';
import { LINK_VERSION } from '../common/protocol.js';
import { LinkConnection, type StopReason } from './connection.js';
import { capabilityChecks, connectionChecks, dispatchKeyCheck, formatChecks } from './doctor.js';
import { instanceId, machineId } from './identity.js';
import { probeCapabilities, sameCapabilities } from './probe.js';
import { readStatus, StatusWriter } from './status.js';
import { login, readSavedLink, savedLinkFile, savePinnedKey } from './login.js';
import { RunSupervisor } from './runs/run-supervisor.js';
import { NO_KEY_MESSAGE } from './runs/dispatch-trust.js';
import { HARNESS_ADAPTERS } from './harnesses/index.js';
import { checkServerAddress, type ClientTlsOptions } from '../common/tls.js';
import { SandboxKeeper } from './sandboxes/sandboxes.js';
import { AgentMetrics } from './metrics.js';
import { installService, launchdPlist, serviceStatus, systemdUnit, uninstallService } from './service.js';
import { fileURLToPath } from 'node:url';
import { readdir } from 'node:fs/promises';
import { ConnectError } from '@connectrpc/connect';
import { reasonOf } from '../common/errors.js';
import { RunFailure } from '../common/reasons.js';
import { activeWorkspaces, sandboxRootFor } from './sandboxes/workspaces.js';
import { addWorkspaceCommands, workspaceCheck, workspaceOption, workspacesLine } from './workspace-command.js';
import { addSandboxCommands } from './sandbox-commands.js';


/** "host:port" → "http://host:port"; a comma-separated list → several. */
function servers(value: string): string[] {
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new InvalidArgumentError('at least one server address is needed');
  return list.map((s) => {
    const url = /^[a-z]+:\/\//i.test(s) ? s : `http://${s}`;
    try {
      new URL(url);
    } catch {
      throw new InvalidArgumentError(`"${s}" is not a server address (http://host:port)`);
    }
    return url.replace(/\/+$/, '');
  });
}

/** "https,ssh[,file]" → the schemes; anything else is refused. */
function schemes(value: string): string[] {
  const list = value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const unknown = list.filter((s) => !['https', 'ssh', 'file'].includes(s));
  if (list.length === 0 || unknown.length > 0) throw new InvalidArgumentError('repository schemes are a comma-separated list of https, ssh and file');
  return list;
}

const serverOption = () =>
  new Option('--server <addresses>', 'control-plane gRPC address(es), comma-separated (default: the one `linkd login` used, else http://127.0.0.1:9090)')
    .env('LINKD_SERVER')
    .argParser(servers);

/** --server, else the server `linkd login` saved, else the local default. */
async function serversFor(opts: { server?: string[]; tokenFile: string }): Promise<string[]> {
  if (opts.server) return opts.server;
  const saved = await readSavedLink(resolve(opts.tokenFile));
  return servers(saved?.server ?? 'http://127.0.0.1:9090');
}
const caFileOption = () => new Option('--ca-file <pem>', 'the CA that signed the server\'s certificate, for a private CA (default: the system roots)').env('LINKD_CA_FILE');
const insecureOption = () => new Option('--insecure', 'allow http:// (no TLS) to a server that is not on this machine').env('LINKD_INSECURE');

/** The TLS settings: the flags, else the CA `linkd login` used; and the address check (fails fast, saying why). */
async function tlsFor(opts: { caFile?: string; insecure?: boolean; tokenFile: string }, servers: string[]): Promise<ClientTlsOptions> {
  const saved = await readSavedLink(resolve(opts.tokenFile));
  const tls = { caFile: opts.caFile ?? saved?.caFile, insecure: Boolean(opts.insecure) };
  for (const server of servers) checkServerAddress(server, tls);
  return tls;
}

const dataDirOption = () => new Option('--data-dir <dir>', 'where linkd keeps its state').env('LINKD_DATA_DIR').default(defaultDataDir('linkd'));
const tokenFileOption = () => new Option('--token-file <file>', 'the link token (written by `linkd login`)').env('LINKD_TOKEN_FILE').default(join(defaultConfigDir('linkd'), 'token'));

const program = new Command('linkd').description('Connects this machine to a Link control plane and runs what it is sent.').version(LINK_VERSION);

program
  .command('start')
  .description('connect to the control plane and stay connected')
  .addOption(new Option('--config <file>', 'a JSON file of settings (keys are the option names); flags and environment win over it').env('LINKD_CONFIG'))
  .hook('preAction', (command) => applyConfigFile(command, command.opts().config))
  .addOption(serverOption())
  .addOption(caFileOption())
  .addOption(insecureOption())
  .addOption(tokenFileOption())
  .addOption(dataDirOption())
  .addOption(workspaceOption())
  .addOption(new Option('--max-concurrent-runs <n>', 'runs executed at once').env('LINKD_MAX_CONCURRENT_RUNS').default(2).argParser(integer(1, 64)))
  .addOption(new Option('--idle-timeout <ms>', 'a run with no output for this long is stopped').env('LINKD_IDLE_TIMEOUT').default(30 * 60_000).argParser(integer(1_000, 86_400_000)))
  .addOption(
    new Option('--repository-schemes <list>', 'repository URL schemes sandboxes may clone from (file is for tests)')
      .env('LINKD_REPOSITORY_SCHEMES')
      .default(['https', 'ssh'], 'https,ssh')
      .argParser(schemes),
  )
  .addOption(new Option('--stop-grace <ms>', 'on a stop signal, how long running runs may take to finish before they are cancelled').env('LINKD_STOP_GRACE').default(300_000).argParser(integer(0, 86_400_000)))
  .addOption(new Option('--metrics-port <port>', 'serve Prometheus metrics on 127.0.0.1:<port>/metrics').env('LINKD_METRICS_PORT').argParser(integer(1, 65535)))
  .addOption(new Option('--max-sandboxes <n>', 'past this many sandboxes, the least recently used idle one is evicted').env('LINKD_MAX_SANDBOXES').default(50).argParser(integer(1, 100_000)))
  .addOption(new Option('--probe-interval <ms>', 'how often to re-probe capabilities (also on SIGHUP)').env('LINKD_PROBE_INTERVAL').default(300_000).argParser(integer(1_000, 86_400_000)))
  .addOption(new Option('--log-level <level>').env('LINKD_LOG_LEVEL').default('info').choices(['trace', 'debug', 'info', 'warn', 'error']))
  .addOption(new Option('--log-pretty', 'human-readable logs instead of JSON').env('LINKD_LOG_PRETTY'))
  .action(async (opts) => {
    const log = createLogger({ name: 'linkd', level: opts.logLevel, pretty: opts.logPretty });
    // An error nobody caught: stop the runs (they never outlive linkd) and exit non-zero to be restarted.
    let drainForExit: () => Promise<unknown> = async () => undefined;
    installLastResort({ log, drain: () => drainForExit(), drainTimeoutMs: 10_000 });
    const dataDir = resolve(opts.dataDir);
    opts.server = await serversFor(opts);
    const tls = await tlsFor(opts, opts.server);
    const workspaceAddCommand = `linkd workspace add${dataDir === resolve(defaultDataDir('linkd')) ? '' : ` --data-dir ${dataDir}`} DIR`;
    // The workspaces are read again at every probe, so `linkd workspace add` needs no restart.
    let workspaces: string[] = [];
    const probe = async () => {
      const active = await activeWorkspaces(dataDir, opts.workspace);
      if (active.missing.length > 0) log.warn({ missing: active.missing }, 'some workspaces do not exist; skipped');
      workspaces = active.workspaces;
      return probeCapabilities({ maxConcurrentRuns: opts.maxConcurrentRuns, workspaces, workspaceAddCommand, repositorySchemes: opts.repositorySchemes });
    };
    let capabilities = await probe();
    const sandboxRoot = await sandboxRootFor(dataDir);
    if (sandboxRoot !== join(dataDir, 'sandboxes')) {
      const unused = (await readdir(join(dataDir, 'sandboxes')).catch(() => [])).length > 0 ? join(dataDir, 'sandboxes') : undefined;
      log.warn({ sandboxRoot, unused }, 'the data directory is inside a git work tree: sandboxes live outside it (any under `unused` are no longer used)');
    }
    const saved = await readSavedLink(resolve(opts.tokenFile));
    const sandboxes = new SandboxKeeper({
      dataDir,
      log: log.child({ module: 'sandboxes' }),
      allowedSchemes: opts.repositorySchemes,
      maxSandboxes: opts.maxSandboxes,
      busy: (handle) => runs.usesSandbox(handle),
      sandboxRoot,
      workspaces: () => workspaces,
    });
    let connected = false;
    const metrics = new AgentMetrics({ connected: () => connected, outboxBytes: () => runs.outboxBytes, running: () => runs.runningCount });
    if (opts.metricsPort) await metrics.serve(opts.metricsPort);
    const runs: RunSupervisor = new RunSupervisor({
      metrics,
      dataDir,
      log: log.child({ module: 'runs' }),
      adapters: new Map(HARNESS_ADAPTERS.map((a) => [a.name, a])),
      sandboxes,
      installed: () => new Set(capabilities.harnesses.filter((h) => h.installed).map((h) => h.name)),
      maxConcurrentRuns: opts.maxConcurrentRuns,
      trustedKey: saved?.dispatchPublicKey ? Buffer.from(saved.dispatchPublicKey, 'base64') : undefined,
      onKeyMoved: async (key) => {
        await savePinnedKey(resolve(opts.tokenFile), key);
        log.info({ file: savedLinkFile(resolve(opts.tokenFile)) }, 'saved the new dispatch key');
      },
      idleTimeoutMs: opts.idleTimeout,
    });
    if (runs.dispatchKey.state !== 'pinned') {
      // Loud, at once: the machine connects but will run nothing until it is paired again.
      log.error({ linkFile: savedLinkFile(resolve(opts.tokenFile)) }, NO_KEY_MESSAGE);
    }
    await runs.reapOrphans();
    const connection = new LinkConnection({
      runs,
      sandboxes,
      tls,
      servers: opts.server,
      tokenFile: resolve(opts.tokenFile),
      machineId: await machineId(dataDir),
      instanceId: instanceId(),
      capabilities: () => capabilities,
      log: log.child({ module: 'connection' }),
    });
    const status = new StatusWriter(dataDir, { pid: process.pid, version: LINK_VERSION, startedAt: Date.now(), servers: opts.server });
    connection.on('state', (state) => {
      if (state.state === 'connected') metrics.sessions.inc({ outcome: 'connected' });
      if (state.state === 'waiting') metrics.sessions.inc({ outcome: 'failed_or_ended' });
      connected = state.state === 'connected';
      void status.update(state, runs.dispatchKey).catch((error) => log.warn({ err: error }, 'cannot write the status file'));
    });

    let probing = false;
    const reprobe = async (why: string) => {
      if (probing) return;
      probing = true;
      try {
        const next = await probe();
        if (!sameCapabilities(next, capabilities)) {
          log.info({ why }, 'capabilities changed');
          capabilities = next;
          connection.sendCapabilities(next);
        }
      } finally {
        probing = false;
      }
    };
    const probeTimer = setInterval(() => void reprobe('periodic probe'), opts.probeInterval);
    process.on('SIGHUP', () => void reprobe('SIGHUP'));

    // Staged: the first signal drains (no new runs; running ones may finish within --stop-grace),
    // the second cancels the running runs, the third exits at once.
    let signals = 0;
    const goodbye = (why: string) => void connection.close(why);
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals >= 3) process.exit(130);
      if (signals === 2) {
        log.warn({ signal }, 'stopping now: cancelling the running runs');
        void runs.stopAll(RunFailure.AgentStopped).then(() => goodbye(`linkd received ${signal} twice`));
        return;
      }
      runs.drain();
      if (runs.runningCount === 0) {
        log.info({ signal }, 'stopping: saying goodbye to the server');
        return goodbye(`linkd received ${signal}`);
      }
      log.info({ signal, running: runs.runningCount, graceMs: opts.stopGrace }, 'draining: no new runs; waiting for the running ones (signal again to cancel them)');
      void runs.idle(opts.stopGrace).then(async (idle) => {
        if (signals > 1) return;
        if (!idle) {
          log.warn('the stop grace period ended: cancelling the running runs');
          await runs.stopAll(RunFailure.AgentStopped);
        }
        goodbye(`linkd received ${signal}`);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    drainForExit = () => runs.stopAll(RunFailure.AgentStopped).then(() => connection.close('linkd hit an internal error and restarts'));

    const reason: StopReason = await connection.run();
    clearInterval(probeTimer);
    // Runs do not outlive linkd: their process groups are stopped before it exits.
    await runs.stopAll(RunFailure.AgentStopped);
    await status.update({ state: 'stopped', reason });
    if (reason.kind === 'stopped') {
      log.info('stopped');
      process.exit(0);
    }
    const message = `linkd: stopped for good (${reason.kind}): ${reason.message}`;
    log.error({ reason: reason.kind }, message);
    process.stderr.write(`${message}\n`);
    process.exit(reason.kind === 'shutdown' ? 0 : 1);
  });

program
  .command('login')
  .description('pair this machine with your Link account, using the code the web page shows')
  .requiredOption('--code <code>', 'the one-time pairing code (XXXX-XXXX)')
  .addOption(serverOption())
  .addOption(caFileOption())
  .addOption(insecureOption())
  .addOption(tokenFileOption())
  .addOption(dataDirOption())
  .action(async (opts) => {
    const server = (await serversFor(opts))[0];
    const tokenFile = resolve(opts.tokenFile);
    try {
      const tls = { caFile: opts.caFile, insecure: Boolean(opts.insecure) };
      const saved = await login({ server, code: opts.code, tokenFile, machineId: await machineId(resolve(opts.dataDir)), tls });
      process.stdout.write(
        `This machine is now linked to Link as "${saved.linkName}" for ${saved.userName} (${saved.linkId}).\n` +
          `Its token is in ${tokenFile}. Start it with: linkd start\n`,
      );
    } catch (error) {
      const reason = reasonOf(error);
      const message = error instanceof ConnectError ? error.rawMessage : (error as Error).message;
      process.stderr.write(`linkd login: ${message}${reason ? ` (${reason})` : ''}\n`);
      process.exit(1);
    }
  });

program
  .command('status')
  .description('is linkd running, connected to what, since when; its workspaces')
  .addOption(dataDirOption())
  .addOption(workspaceOption())
  .option('--json', 'print the status as JSON')
  .action(async (opts) => {
    const found = await readStatus(resolve(opts.dataDir));
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(found ? { running: found.running, ...found.status } : { running: false }, null, 2)}\n`);
    } else if (!found || !found.running) {
      process.stdout.write(`linkd is not running${found?.status.stopReason ? ` (last stop: ${found.status.stopReason})` : ''}\n`);
    } else {
      const s = found.status;
      const since = s.connectedSince ? new Date(s.connectedSince).toISOString() : '';
      const line =
        s.state === 'connected'
          ? `linkd (pid ${s.pid}) is connected to ${s.server} as link ${s.linkId} since ${since}`
          : s.state === 'waiting'
            ? `linkd (pid ${s.pid}) is not connected: ${s.lastError}; retrying ${s.server} in ${((s.retryInMs ?? 0) / 1000).toFixed(1)}s`
            : `linkd (pid ${s.pid}) is connecting to ${s.server}`;
      process.stdout.write(`${line}\n`);
    }
    const key = found?.running ? found.status.dispatchKey : undefined;
    if (!opts.json && key && key.state !== 'pinned') process.stdout.write(`linkd cannot run anything: ${key.message}\n`);
    if (!opts.json) process.stdout.write(await workspacesLine(resolve(opts.dataDir), opts.workspace));
    process.exitCode = !found?.running ? 3 : found.status.state === 'connected' && key?.state !== 'missing' && key?.state !== 'mismatch' ? 0 : 1;
  });

program
  .command('doctor')
  .description('check what this machine can run, and say how to fix what is missing')
  .addOption(serverOption())
  .addOption(caFileOption())
  .addOption(insecureOption())
  .addOption(tokenFileOption())
  .addOption(dataDirOption())
  .addOption(workspaceOption())
  .option('--json', 'print the checks as JSON')
  .action(async (opts) => {
    const { workspaces } = await activeWorkspaces(resolve(opts.dataDir), opts.workspace);
    const capabilities = await probeCapabilities({ maxConcurrentRuns: 1, workspaces });
    const server = (await serversFor(opts))[0];
    const saved = await readSavedLink(resolve(opts.tokenFile));
    const tls = { caFile: opts.caFile ?? saved?.caFile, insecure: Boolean(opts.insecure) };
    const pairing = await dispatchKeyCheck(resolve(opts.tokenFile), resolve(opts.dataDir));
    const checks = [...capabilityChecks(capabilities), ...(await connectionChecks(server, resolve(opts.tokenFile), tls)), pairing];
    checks.push(workspaceCheck(workspaces, capabilities));
    process.stdout.write(opts.json ? `${JSON.stringify(checks, null, 2)}\n` : `${formatChecks(checks)}\n`);
    // A machine that refuses every run is broken, whatever else works.
    if (!pairing.ok) process.exitCode = 1;
  });

const service = program.command('service').description('run linkd in the background at login (systemd user unit on Linux, launchd agent on macOS)');
service
  .command('install')
  .description('write the service and start it; it runs `linkd start` with these settings and restarts on failure')
  .addOption(serverOption())
  .addOption(caFileOption())
  .addOption(tokenFileOption())
  .addOption(dataDirOption())
  .option('--print', 'print the unit (or plist) instead of installing it')
  .addOption(new Option('--platform <platform>', 'the service manager to write for').choices(['linux', 'darwin']).default(process.platform))
  .action(async (opts) => {
    const command = [process.execPath, fileURLToPath(new URL('../bin/linkd.js', import.meta.url)), 'start', '--token-file', resolve(opts.tokenFile), '--data-dir', resolve(opts.dataDir)];
    if (opts.server) command.push('--server', opts.server.join(','));
    if (opts.caFile) command.push('--ca-file', resolve(opts.caFile));
    const spec = { command, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, logFile: join(resolve(opts.dataDir), 'linkd.log') };
    if (opts.print) return void process.stdout.write(opts.platform === 'darwin' ? launchdPlist(spec) : systemdUnit(spec));
    const file = await installService(spec, opts.platform);
    process.stdout.write(`installed and started: ${file}\n`);
  });
service.command('uninstall').description('stop the service and remove it').action(async () => void process.stdout.write(`removed ${await uninstallService()}\n`));
service.command('status').description('is the service installed and running').action(async () => {
  const status = await serviceStatus();
  process.stdout.write(`${status.detail}\n`);
  process.exitCode = status.running ? 0 : 3;
});

addSandboxCommands(program, dataDirOption);
addWorkspaceCommands(program, dataDirOption);

program.parseAsync().catch((error) => {
  process.stderr.write(`linkd: ${(error as Error).message}\n`);
  process.exit(1);
});
