/**
 * `linkctl`: the admin and scripting client, over gRPC like any SDK.
 *
 *   linkctl config set [--server URL] [--token TOKEN]   save defaults (0600) for the commands below
 *   linkctl config show [--json]                         which server and token linkctl uses, and why
 *   linkctl users create|disable|enable NAME             (admins) see accounts.ts
 *   linkctl tokens list|create|revoke                    your tokens (see accounts.ts)
 *   linkctl links list|get|pair|rename|disconnect|revoke|rotate-token   (see links.ts)
 *   linkctl threads create|list|search|rename|archive|unarchive|delete   (see threads.ts)
 *   linkctl send THREAD "message" …, linkctl runs watch|list|cancel|pending|answer   (see runs.ts)
 *   linkctl sandboxes …, linkctl repositories list        (see sandboxes.ts)
 *   linkctl runs diff RUN | sandboxes changes|commit|push|discard SBX   (see git-commands.ts)
 *
 * Every command takes `--json` (see output.ts). The server and the user token come from flags, the
 * environment, the local stack `npm start` runs on this machine, or the config file, in that order
 * (target.ts). As linkd does, linkctl sends the token in plaintext (http://) only to this machine:
 * a remote server needs https:// or `--insecure`.
 */
import { Command, Option } from 'commander';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConnectError } from '@connectrpc/connect';
import { defaultConfigDir } from '../common/paths.js';
import { writeFileAtomically } from '../common/files.js';
import { findLocalStack } from '../common/local-stack.js';
import { isLoopback } from '../common/tls.js';
import { reasonOf } from '../common/errors.js';
import { LINK_VERSION } from '../common/protocol.js';
import { createLinkClient, type LinkClient } from '../sdk/typescript/src/index.js';
import { addAccountCommands } from './accounts.js';
import { addGitCommands } from './git-commands.js';
import { addLinkCommands } from './links.js';
import { forTerminal, printValue } from './output.js';
import { addRunCommands } from './runs.js';
import { addSandboxCommands } from './sandboxes.js';
import { addThreadCommands } from './threads.js';
import { addMessageCommands } from './messages.js';
import { NO_TOKEN_HELP, resolveTarget, type LinkctlConfig, type Target } from './target.js';

interface GlobalOptions {
  server?: string;
  token?: string;
  tokenFile?: string;
  insecure?: boolean;
  caFile?: string;
  config: string;
}

const program = new Command('linkctl')
  .description('Administer and script a Link control plane over gRPC.')
  .version(LINK_VERSION)
  .addOption(new Option('--server <address>', "control-plane gRPC address (default: npm start's on this machine, else the config file's, else http://127.0.0.1:9090)").env('LINKCTL_SERVER'))
  .addOption(new Option('--token <token>', 'user token').env('LINKCTL_TOKEN'))
  .addOption(new Option('--token-file <file>', 'file holding the user token').env('LINKCTL_TOKEN_FILE'))
  .addOption(new Option('--insecure', 'allow http:// (no TLS) to a server that is not on this machine').env('LINKCTL_INSECURE'))
  .addOption(new Option('--ca-file <pem>', "the CA that signed the server's certificate (a private CA)").env('LINKCTL_CA_FILE'))
  .addOption(new Option('--config <file>', 'config file').env('LINKCTL_CONFIG').default(join(defaultConfigDir('linkctl'), 'config.json')));

async function readConfig(file: string): Promise<LinkctlConfig> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LinkctlConfig;
  } catch {
    return {};
  }
}

/** The server and token from the flags, the environment, the local stack or the config file (target.ts). */
async function target(): Promise<Target> {
  const opts = program.opts<GlobalOptions>();
  return resolveTarget(opts, await findLocalStack(), await readConfig(opts.config));
}

let shared: LinkClient | undefined;

/** The one client of this command (the `link-client` SDK), made on first use; closed when the command ends. */
async function linkClient(): Promise<LinkClient> {
  if (shared) return shared;
  const opts = program.opts<GlobalOptions>();
  const { server, token } = await target();
  if (!token) throw new Error(NO_TOKEN_HELP);
  checkPlaintext(server, Boolean(opts.insecure));
  shared = createLinkClient({ server, token, caFile: opts.caFile, insecure: Boolean(opts.insecure) });
  return shared;
}

async function transport() {
  return (await linkClient()).transport;
}

/**
 * linkd's rule, checked before any connection: a user token goes in plaintext (http://) only to
 * this machine, unless `--insecure` says the network is trusted.
 */
function checkPlaintext(server: string, insecure: boolean): void {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new Error(`${server} is not a server address (https://host:port, or http://127.0.0.1:port for this machine)`);
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && (isLoopback(url.hostname) || insecure))) return;
  if (url.protocol !== 'http:') throw new Error(`${server}: the server address must start with https:// (or http:// for this machine)`);
  throw new Error(
    `refusing to send your user token to ${server} without TLS: it would cross the network in plaintext. ` +
      `Use https://${url.host} (the server needs --tls-cert and --tls-key), or pass --insecure if the network is trusted.`,
  );
}

const config = program.command('config').description('saved defaults, and where the server and token come from');
config
  .command('set')
  .description('save the server and token to the config file (0600)')
  .option('--server <address>')
  .option('--token <token>')
  .option('--json', 'print JSON: {"file"}')
  .action(async (opts: LinkctlConfig & { json?: boolean }) => {
    const file = program.opts<GlobalOptions>().config;
    // `--server` and `--token` are also linkctl's own options, which take them wherever they stand:
    // save what was typed on this command line (not what came from the environment).
    const typed: LinkctlConfig = {};
    for (const key of ['server', 'token'] as const) {
      const value = opts[key] ?? (program.getOptionValueSource(key) === 'cli' ? program.opts<LinkctlConfig>()[key] : undefined);
      if (value) typed[key] = value;
    }
    const saved = { ...(await readConfig(file)), ...typed };
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFileAtomically(file, `${JSON.stringify(saved, null, 2)}\n`);
    if (opts.json) return printValue({ file });
    process.stdout.write(`saved to ${file}\n`);
  });
config
  .command('show')
  .description('the server and token linkctl would use, and where each comes from (never the token itself)')
  .option('--json', 'print JSON: {"server", "serverFrom", "tokenFrom"}')
  .action(async (opts) => {
    const found = await target();
    const shown = { server: found.server, serverFrom: found.serverFrom, tokenFrom: found.tokenFrom ?? '' };
    if (opts.json) return printValue(shown);
    process.stdout.write(`server  ${shown.server}  (${shown.serverFrom})\ntoken   ${found.tokenFrom ? `from ${found.tokenFrom}` : 'none'}\n`);
    if (!found.token) process.stdout.write(`${forTerminal(NO_TOKEN_HELP, process.stdout)}\n`);
  });

addAccountCommands(program, transport);
addLinkCommands(program, transport);
addThreadCommands(program, transport);
addMessageCommands(program, transport);
const runs = program.command('runs').description('runs of your threads');
addRunCommands(program, runs, transport);
const sandboxes = addSandboxCommands(program, transport);
addGitCommands(runs, sandboxes, transport);

program
  .parseAsync()
  .finally(() => shared?.close())
  .catch((error) => {
    const reason = reasonOf(error) ?? reasonOf((error as Error).cause);
    const message = error instanceof ConnectError ? error.rawMessage : (error as Error).message;
    process.stderr.write(`linkctl: ${forTerminal(message)}${reason ? ` (${reason})` : ''}\n`);
    process.exit(1);
  });
