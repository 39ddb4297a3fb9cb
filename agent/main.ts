/**
 * `linkd`: the agent that connects this machine to a Link control plane.
 *
 *   linkd login --code CODE   pair: the link token (0600) and the pinned dispatch key (link.json)
 *   linkd start               probe, reap orphaned runs, connect and stay connected, run dispatched runs
 *                             in their sandboxes, re-probe (periodic, SIGHUP), metrics (--metrics-port)
 *   linkd status | doctor     running? connected to what? can it verify dispatches? what can it run?
 *                             (without flags, on the machine where `npm start` runs: its linkd)
 *   linkd service install|uninstall|status, linkd sandboxes list|rm|prune
 *   linkd workspace add|list|rm   the folders linkd may work in (this machine only)
 *
 * Signals: the first drains (running runs get --stop-grace, then AGENT_STOPPED; Goodbye), the second
 * stops the runs, the third exits. An uncaught error stops the runs and exits 70 (last-resort.ts).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { integer } from '../common/cli.js';
import { applyConfigFile } from '../common/config.js';
import { join, resolve } from 'node:path';
import { defaultConfigDir, defaultDataDir } from '../common/paths.js';
import { LINK_VERSION } from '../common/protocol.js';
import { capabilityChecks, connectionChecks, dispatchKeyCheck, formatChecks, needsFixing } from './doctor.js';
import { forTerminal } from '../common/terminal.js';
import { machineId } from './identity.js';
import { probeCapabilities } from './probe.js';
import { readStatus, whichLinkd } from './status.js';
import { login, readSavedLink } from './login.js';
import { checkServerAddress, type ClientTlsOptions } from '../common/tls.js';
import { installService, launchdPlist, serviceStatus, systemdUnit, uninstallService } from './service.js';
import { fileURLToPath } from 'node:url';
import { ConnectError } from '@connectrpc/connect';
import { reasonOf } from '../common/errors.js';
import { activeWorkspaces } from './sandboxes/workspaces.js';
import { addWorkspaceCommands, workspaceCheck, workspaceOption, workspacesLine } from './workspace-command.js';
import { addSandboxCommands } from './sandbox-commands.js';
import { startLinkd } from './start.js';


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
  .action((opts) =>
    startLinkd(opts, async () => {
      const servers = await serversFor(opts);
      return { servers, tls: await tlsFor(opts, servers) };
    }),
  );

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

/** --data-dir and --token-file for `status` and `doctor`: no default here, so {@link whichLinkd} can look for npm start's linkd. */
const foundDataDirOption = () =>
  new Option('--data-dir <dir>', `where linkd keeps its state (default: npm start's linkd on this machine while it runs, else ${defaultDataDir('linkd')})`).env('LINKD_DATA_DIR');
const foundTokenFileOption = () =>
  new Option('--token-file <file>', `the link token (default: npm start's linkd's while it runs, else ${join(defaultConfigDir('linkd'), 'token')})`).env('LINKD_TOKEN_FILE');
const linkdDefaults = () => ({ dataDir: defaultDataDir('linkd'), tokenFile: join(defaultConfigDir('linkd'), 'token') });
const render = (text: string) => forTerminal(text, process.stdout);

program
  .command('status')
  .description("is linkd running, connected to what, since when; its workspaces (on the machine where npm start runs, its linkd's)")
  .addOption(foundDataDirOption())
  .addOption(workspaceOption())
  .option('--json', 'print the status as JSON')
  .action(async (opts) => {
    const which = await whichLinkd({ dataDir: opts.dataDir }, linkdDefaults());
    const found = await readStatus(which.dataDir);
    const whose = which.localStack ? `npm start's linkd (${which.dataDir})` : 'linkd';
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(found ? { running: found.running, dataDir: which.dataDir, localStack: Boolean(which.localStack), ...found.status } : { running: false, dataDir: which.dataDir, localStack: Boolean(which.localStack) }, null, 2)}\n`);
    } else if (!found || !found.running) {
      process.stdout.write(`${whose} is not running${found?.status.stopReason ? ` (last stop: ${found.status.stopReason})` : ''}; data directory ${which.dataDir}\n`);
    } else {
      const s = found.status;
      const since = s.connectedSince ? new Date(s.connectedSince).toISOString() : '';
      const line =
        s.state === 'connected'
          ? `${whose} (pid ${s.pid}) is connected to ${s.server} as link ${s.linkId} since ${since}`
          : s.state === 'waiting'
            ? `${whose} (pid ${s.pid}) is not connected: ${s.lastError}; retrying ${s.server} in ${((s.retryInMs ?? 0) / 1000).toFixed(1)}s`
            : `${whose} (pid ${s.pid}) is connecting to ${s.server}`;
      process.stdout.write(`${line}\n`);
      if (s.lastPower) process.stdout.write(`last power event: ${s.lastPower.asleep ? 'going to sleep' : 'woke up'} at ${new Date(s.lastPower.at).toISOString()} (${s.lastPower.source})\n`);
    }
    const key = found?.running ? found.status.dispatchKey : undefined;
    if (!opts.json && key && key.state !== 'pinned') process.stdout.write(`linkd cannot run anything: ${render(key.message)}\n`);
    if (!opts.json) process.stdout.write(await workspacesLine(which.dataDir, opts.workspace));
    process.exitCode = !found?.running ? 3 : found.status.state === 'connected' && key?.state !== 'missing' && key?.state !== 'mismatch' ? 0 : 1;
  });

program
  .command('doctor')
  .description('check what this machine can run, and say how to fix what is missing; exits 1 when something needs fixing')
  .addOption(serverOption())
  .addOption(caFileOption())
  .addOption(insecureOption())
  .addOption(foundTokenFileOption())
  .addOption(foundDataDirOption())
  .addOption(workspaceOption())
  .option('--json', 'print the checks as JSON')
  .action(async (opts) => {
    const which = await whichLinkd({ dataDir: opts.dataDir, tokenFile: opts.tokenFile, server: opts.server?.[0] }, linkdDefaults());
    const { workspaces } = await activeWorkspaces(which.dataDir, opts.workspace);
    const capabilities = await probeCapabilities({ maxConcurrentRuns: 1, workspaces });
    const server = which.server ?? (await serversFor({ tokenFile: which.tokenFile }))[0];
    const saved = await readSavedLink(which.tokenFile);
    const tls = { caFile: opts.caFile ?? saved?.caFile, insecure: Boolean(opts.insecure) };
    const pairing = await dispatchKeyCheck(which.tokenFile, which.dataDir);
    const checks = [...capabilityChecks(capabilities), ...(await connectionChecks(server, which.tokenFile, tls)), pairing];
    checks.push(workspaceCheck(workspaces, capabilities));
    if (opts.json) process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
    else {
      if (which.localStack) process.stdout.write(`npm start's linkd: data directory ${which.dataDir}\n`);
      process.stdout.write(`${formatChecks(checks, render)}\n`);
    }
    if (needsFixing(checks)) process.exitCode = 1;
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
