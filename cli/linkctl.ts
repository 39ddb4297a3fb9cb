/**
 * `linkctl`: the admin and scripting client, over gRPC like any SDK.
 *
 *   linkctl config set [--server URL] [--token TOKEN]   save defaults (0600) for the commands below
 *   linkctl users create|disable|enable NAME             (admins) see accounts.ts
 *   linkctl tokens list|create|revoke                    your tokens (see accounts.ts)
 *   linkctl links list|get|rename|disconnect|revoke|rotate-token
 *   linkctl threads create|list
 *   linkctl send THREAD "message" [--harness H --link L --model M --tier fast|smart|thinking]
 *   linkctl runs watch RUN [--after SEQ] | cancel RUN | list [--thread T]
 *   linkctl sandboxes list [--link L] | ensure --link L [--repository R --branch B --provider P]
 *                     | get SBX | exec SBX "command" | rm SBX
 *   linkctl repositories list --link L [--json]          the repositories a machine offers
 *   linkctl runs diff RUN | sandboxes changes|commit|push|discard SBX   (see git-commands.ts)
 *
 * The user token comes from --token, LINKCTL_TOKEN, --token-file / LINKCTL_TOKEN_FILE, or the
 * config file ($XDG_CONFIG_HOME/linkctl/config.json), in that order. As linkd does, linkctl sends it
 * in plaintext (http://) only to this machine: a remote server needs https:// or `--insecure`.
 */
import { Command, Option } from 'commander';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { defaultConfigDir } from '../common/paths.js';
import { writeFileAtomically } from '../common/files.js';
import { isLoopback } from '../common/tls.js';
import { createLinkClient, type LinkClient } from '../sdk/typescript/src/index.js';
import { addAccountCommands } from './accounts.js';
import { toJson, toJsonString } from '@bufbuild/protobuf';
import { ThreadService } from '../gen/link/v1/thread_service_pb.js';
import { LogLine_Stream, ModelTier, RunEventSchema, RunState, RunStatus, ThreadSchema, type RunEvent } from '../gen/link/v1/run_pb.js';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { ConnectError, createClient } from '@connectrpc/connect';
import { reasonOf } from '../common/errors.js';
import { LINK_VERSION } from '../common/protocol.js';
import { LinkService } from '../gen/link/v1/link_service_pb.js';
import { SandboxSchema, SandboxState, type Sandbox } from '../gen/link/v1/sandbox_pb.js';
import { ExecOutput_Stream, ListRepositoriesResponseSchema, SandboxService } from '../gen/link/v1/sandbox_service_pb.js';
import { LinkSchema, LinkState, type Link } from '../gen/link/v1/types_pb.js';
import { addGitCommands } from './git-commands.js';

interface GlobalOptions {
  server: string;
  token?: string;
  tokenFile?: string;
  insecure?: boolean;
  caFile?: string;
}

const program = new Command('linkctl')
  .description('Administer and script a Link control plane over gRPC.')
  .version(LINK_VERSION)
  .addOption(new Option('--server <address>', 'control-plane gRPC address (default: config file, else http://127.0.0.1:9090)').env('LINKCTL_SERVER'))
  .addOption(new Option('--token <token>', 'user token').env('LINKCTL_TOKEN'))
  .addOption(new Option('--token-file <file>', 'file holding the user token').env('LINKCTL_TOKEN_FILE'))
  .addOption(new Option('--insecure', 'allow http:// (no TLS) to a server that is not on this machine').env('LINKCTL_INSECURE'))
  .addOption(new Option('--ca-file <pem>', "the CA that signed the server's certificate (a private CA)").env('LINKCTL_CA_FILE'))
  .addOption(new Option('--config <file>', 'config file').env('LINKCTL_CONFIG').default(join(defaultConfigDir('linkctl'), 'config.json')));

interface Config {
  server?: string;
  token?: string;
}

async function readConfig(file: string): Promise<Config> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Config;
  } catch {
    return {};
  }
}

let shared: LinkClient | undefined;

/**
 * The one client of this command (the `link-client` SDK), made on first use from the flags, the
 * environment or the config file; closed when the command ends.
 */
async function linkClient(): Promise<LinkClient> {
  if (shared) return shared;
  const opts = program.opts<GlobalOptions & { config: string }>();
  const config = await readConfig(opts.config);
  let token = opts.token;
  if (!token && opts.tokenFile) token = (await readFile(opts.tokenFile, 'utf8')).trim();
  token ||= config.token;
  if (!token) throw new Error(`no user token: pass --token or --token-file, set LINKCTL_TOKEN, or run \`linkctl config set --token …\``);
  const server = opts.server || config.server || 'http://127.0.0.1:9090';
  const baseUrl = /^[a-z]+:\/\//i.test(server) ? server : `http://${server}`;
  checkPlaintext(baseUrl, Boolean(opts.insecure));
  shared = createLinkClient({ server: baseUrl, token, caFile: opts.caFile, insecure: Boolean(opts.insecure) });
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

async function client() {
  return createClient(LinkService, await transport());
}

program
  .command('config')
  .description('saved defaults')
  .command('set')
  .description('save the server and token to the config file (0600)')
  .option('--server <address>')
  .option('--token <token>')
  .action(async (opts: Config) => {
    const file = program.opts<{ config: string }>().config;
    // `--server` and `--token` are also linkctl's own options, which take them wherever they stand:
    // save what was typed on this command line (not what came from the environment).
    const typed: Config = {};
    for (const key of ['server', 'token'] as const) {
      const value = opts[key] ?? (program.getOptionValueSource(key) === 'cli' ? program.opts<Config>()[key] : undefined);
      if (value) typed[key] = value;
    }
    const config = { ...(await readConfig(file)), ...typed };
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFileAtomically(file, `${JSON.stringify(config, null, 2)}\n`);
    process.stdout.write(`saved to ${file}\n`);
  });

addAccountCommands(program, transport);

function describeLink(link: Link): string {
  const state = link.state === LinkState.ONLINE ? 'online' : 'offline';
  const when =
    link.state === LinkState.ONLINE && link.connectedAt
      ? `since ${timestampDate(link.connectedAt).toISOString()}`
      : link.lastSeenAt
        ? `last seen ${timestampDate(link.lastSeenAt).toISOString()}`
        : 'never connected';
  return `${link.id}  ${link.name.padEnd(20)} ${state.padEnd(8)} ${link.hostname || '-'}  ${when}`;
}

const links = program.command('links').description('the machines paired with your account');
links
  .command('list')
  .option('--json', 'print JSON')
  .action(async (opts) => {
    const response = await (await client()).listLinks({});
    if (opts.json) process.stdout.write(`${JSON.stringify(response.links.map((l) => toJson(LinkSchema, l)), null, 2)}\n`);
    else process.stdout.write(response.links.length ? `${response.links.map(describeLink).join('\n')}\n` : 'no links yet\n');
  });
links
  .command('get <link-id>')
  .option('--json', 'print JSON')
  .action(async (linkId: string, opts) => {
    const { link } = await (await client()).getLink({ linkId });
    if (!link) return;
    process.stdout.write(opts.json ? `${JSON.stringify(toJson(LinkSchema, link), null, 2)}\n` : `${describeLink(link)}\n`);
  });

links
  .command('rename <link-id> <name>')
  .action(async (linkId: string, name: string) => {
    const { link } = await (await client()).renameLink({ linkId, name });
    if (link) process.stdout.write(`${describeLink(link)}\n`);
  });
links
  .command('disconnect <link-id>')
  .description("tell the machine's linkd to stop; starting it again brings the link back")
  .option('--reason <text>', 'shown on the machine')
  .action(async (linkId: string, opts) => {
    const { wasOnline } = await (await client()).disconnectLink({ linkId, reason: opts.reason ?? '' });
    process.stdout.write(wasOnline ? `told ${linkId} to stop\n` : `${linkId} was not connected\n`);
  });
links
  .command('revoke <link-id>')
  .description("end the link's session now and make its token worthless; the machine must pair again")
  .action(async (linkId: string) => {
    await (await client()).revokeLink({ linkId });
    process.stdout.write(`revoked ${linkId}\n`);
  });
links
  .command('rotate-token <link-id>')
  .description('give the (connected) machine a new token; the old one keeps working for a grace period')
  .action(async (linkId: string) => {
    await (await client()).rotateLinkToken({ linkId });
    process.stdout.write(`sent a new token to ${linkId}\n`);
  });

const TIERS: Record<string, ModelTier> = { fast: ModelTier.FAST, smart: ModelTier.SMART, thinking: ModelTier.THINKING };

async function threadsClient() {
  return createClient(ThreadService, await transport());
}

/** One line per event, as a person would read it. */
function describeEvent(event: RunEvent): string {
  const e = event.event;
  const prefix = `#${event.seq}`;
  switch (e.case) {
    case 'started':
      return `${prefix} started ${e.value.harness}${e.value.model ? ` (${e.value.model})` : ''}${e.value.sessionId ? ` session ${e.value.sessionId}` : ''}`;
    case 'text':
      return `${prefix} ${e.value.text}`;
    case 'reasoning':
      return `${prefix} (thinking) ${e.value.text}`;
    case 'toolCall':
      return `${prefix} → ${e.value.name} ${e.value.inputJson}`;
    case 'toolResult':
      return `${prefix} ← ${e.value.isError ? 'error: ' : ''}${e.value.output.slice(0, 500)}`;
    case 'fileChange':
      return `${prefix} ${e.value.kind} ${e.value.path}`;
    case 'usage':
      return `${prefix} tokens in ${e.value.inputTokens} out ${e.value.outputTokens}${e.value.costKnown ? ` $${e.value.costUsd.toFixed(4)}` : ''}`;
    case 'log':
      return `${prefix} ${e.value.stream === LogLine_Stream.STDERR ? '[stderr] ' : ''}${e.value.text}`;
    case 'error':
      return `${prefix} error ${e.value.code}: ${e.value.message}`;
    case 'changes': {
      const files = e.value.files.length + e.value.omittedFiles;
      const added = e.value.files.reduce((n, f) => n + f.additions, 0);
      const removed = e.value.files.reduce((n, f) => n + f.deletions, 0);
      return `${prefix} changed ${files} files (+${added} -${removed})${e.value.truncated ? ', diff truncated' : ''}; \`linkctl runs diff\` shows them`;
    }
    case 'done':
      return `${prefix} done: ${RunStatus[e.value.status].toLowerCase()}, exit ${e.value.exitCode}${e.value.failureReason ? ` (${e.value.failureReason})` : ''}${e.value.killed.length ? `; killed ${e.value.killed.join(', ')}` : ''}`;
    default:
      return `${prefix} (unknown event)`;
  }
}

/** Prints a run's events as they arrive; exits 0 when it completed, 1 otherwise. */
async function follow(runId: string, afterSeq: bigint, json: boolean): Promise<void> {
  const client = await threadsClient();
  for await (const { event } of client.watchRun({ runId, afterSeq })) {
    if (!event) continue;
    process.stdout.write(json ? `${toJsonString(RunEventSchema, event)}\n` : `${describeEvent(event)}\n`);
    if (event.event.case === 'done') process.exitCode = event.event.value.status === RunStatus.COMPLETED ? 0 : 1;
  }
}

const threads = program.command('threads').description('conversations with a harness on one of your machines');
threads
  .command('create')
  .option('--title <title>')
  .action(async (opts) => {
    const { thread } = await (await threadsClient()).createThread({ title: opts.title ?? '' });
    process.stdout.write(`${thread?.id}\n`);
  });
threads
  .command('list')
  .option('--json', 'print JSON')
  .action(async (opts) => {
    const { threads: list } = await (await threadsClient()).listThreads({});
    if (opts.json) process.stdout.write(`${JSON.stringify(list.map((t) => toJson(ThreadSchema, t)), null, 2)}\n`);
    else
      process.stdout.write(
        list.length
          ? `${list.map((t) => `${t.id}  ${(t.harness || '-').padEnd(12)} ${RunState[t.lastRunState].toLowerCase().padEnd(12)} ${t.title}`).join('\n')}\n`
          : 'no threads yet\n',
      );
  });

program
  .command('send <thread-id> <message>')
  .description('send a message (it runs on the thread\'s machine) and follow the run')
  .option('--harness <name>', 'claude-code, codex, gemini or shell (first message)')
  .option('--link <link-id>', 'the machine (first message)')
  .option('--model <name>', 'an explicit model')
  .option('--tier <tier>', 'fast, smart or thinking')
  .option('--repository <url-or-path>', 'a git URL, or the path of a repository on the machine (see `linkctl repositories list`), to run in (first message)')
  .option('--branch <name>', 'its branch (first message)')
  .option('--sandbox <provider>', 'worktree, bwrap or directory (first message)')
  .option('--no-follow', 'print the run id and return')
  .option('--json', 'events as JSON lines')
  .action(async (threadId: string, message: string, opts) => {
    if (opts.tier && !(opts.tier in TIERS)) throw new Error('--tier must be fast, smart or thinking');
    const { runId } = await (await threadsClient()).sendMessage({
      threadId,
      text: message,
      harness: opts.harness ?? '',
      linkId: opts.link ?? '',
      model: opts.model ?? '',
      tier: opts.tier ? TIERS[opts.tier] : ModelTier.UNSPECIFIED,
      repository: opts.repository ?? '',
      branch: opts.branch ?? '',
      sandboxProvider: opts.sandbox ?? '',
    });
    process.stderr.write(`run ${runId}\n`);
    if (opts.follow) await follow(runId, 0n, Boolean(opts.json));
    else process.stdout.write(`${runId}\n`);
  });

const runs = program.command('runs').description('runs of your threads');
runs
  .command('watch <run-id>')
  .option('--after <seq>', 'resume after this event', '0')
  .option('--json', 'events as JSON lines')
  .action(async (runId: string, opts) => follow(runId, BigInt(opts.after), Boolean(opts.json)));
runs
  .command('cancel <run-id>')
  .action(async (runId: string) => {
    const { state } = await (await threadsClient()).cancelRun({ runId });
    process.stdout.write(`${runId}: ${RunState[state].toLowerCase()}\n`);
  });
runs
  .command('list')
  .option('--thread <thread-id>')
  .action(async (opts) => {
    const { runs: list } = await (await threadsClient()).listRuns({ threadId: opts.thread ?? '' });
    process.stdout.write(
      list.length
        ? `${list.map((r) => `${r.id}  ${r.harness.padEnd(12)} ${RunState[r.state].toLowerCase().padEnd(10)} ${r.failureReason}`).join('\n')}\n`
        : 'no runs yet\n',
    );
  });

async function sandboxesClient() {
  return createClient(SandboxService, await transport());
}

function sandboxLine(s: Sandbox): string {
  const state = SandboxState[s.state].toLowerCase();
  return `${s.id}  ${s.provider.padEnd(9)} ${state.padEnd(7)} ${(s.branch || '-').padEnd(20)} ${s.linkId}  ${s.path || '(not made yet)'}${s.repository ? `  ${s.repository}` : ''}`;
}

const sandboxes = program.command('sandboxes').description('your sandboxes on your machines');
sandboxes
  .command('list')
  .option('--link <link-id>', 'only this machine\'s')
  .option('--json', 'print them as JSON')
  .action(async (opts) => {
    const { sandboxes: list } = await (await sandboxesClient()).listSandboxes({ linkId: opts.link ?? '' });
    if (opts.json) process.stdout.write(`${JSON.stringify(list.map((s) => toJson(SandboxSchema, s)), null, 2)}\n`);
    else process.stdout.write(list.length ? `${list.map(sandboxLine).join('\n')}\n` : 'no sandboxes yet\n');
  });
sandboxes
  .command('ensure')
  .description('find or make a sandbox on a machine')
  .requiredOption('--link <link-id>', 'the machine')
  .option('--repository <url>', 'a git repository (none: a directory)')
  .option('--branch <name>', 'its branch')
  .option('--provider <provider>', 'worktree, bwrap, in-place or directory')
  .action(async (opts) => {
    const { sandbox } = await (await sandboxesClient()).ensureSandbox({
      linkId: opts.link,
      repository: opts.repository ?? '',
      branch: opts.branch ?? '',
      provider: opts.provider ?? '',
    });
    process.stdout.write(`${sandboxLine(sandbox!)}\n`);
  });
sandboxes
  .command('get <sandbox-id>')
  .action(async (sandboxId: string) => {
    const { sandbox } = await (await sandboxesClient()).getSandbox({ sandboxId });
    process.stdout.write(`${sandboxLine(sandbox!)}\n`);
  });
sandboxes
  .command('exec <sandbox-id> <command>')
  .description('run a shell command in a sandbox; exits with its exit code (Ctrl-C stops it)')
  .action(async (sandboxId: string, command: string) => {
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    for await (const { event } of (await sandboxesClient()).exec({ sandboxId, command }, { signal: abort.signal })) {
      if (event.case === 'output') (event.value.stream === ExecOutput_Stream.STDERR ? process.stderr : process.stdout).write(`${event.value.text}\n`);
      else if (event.case === 'exit') {
        if (event.value.reason) process.stderr.write(`linkctl: the command did not finish: ${event.value.reason}\n`);
        process.exitCode = event.value.reason ? 1 : event.value.exitCode;
      }
    }
  });
sandboxes
  .command('rm <sandbox-id>')
  .description('remove a sandbox from its machine (refused while a run uses it)')
  .action(async (sandboxId: string) => {
    await (await sandboxesClient()).deleteSandbox({ sandboxId });
    process.stdout.write(`removed ${sandboxId}\n`);
  });

const repositories = program.command('repositories').description('the git repositories on your machines, under the workspaces linkd was given there');
repositories
  .command('list')
  .requiredOption('--link <link-id>', 'the machine')
  .option('--json', 'print them as JSON')
  .action(async (opts) => {
    const answer = await (await sandboxesClient()).listRepositories({ linkId: opts.link });
    if (opts.json) return void process.stdout.write(`${toJsonString(ListRepositoriesResponseSchema, answer, { prettySpaces: 2, alwaysEmitImplicit: true })}\n`);
    if (answer.workspaces.length === 0) {
      process.stdout.write('this machine has no workspaces; on it, run: linkd workspace add DIR\n');
      return;
    }
    const rows = [['PATH', 'NAME', 'BRANCH', 'DEFAULT'], ...answer.repositories.map((r) => [r.path, r.name, r.currentBranch || '(detached)', r.defaultBranch || '-'])];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    for (const row of rows) process.stdout.write(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')}\n`);
    if (answer.repositories.length === 0) process.stdout.write(`(no git repositories under ${answer.workspaces.join(', ')})\n`);
    if (answer.truncated) process.stdout.write(`(more repositories than the ${answer.repositories.length} listed)\n`);
  });

addGitCommands(runs, sandboxes, transport);

program
  .parseAsync()
  .finally(() => shared?.close())
  .catch((error) => {
    const reason = reasonOf(error);
    const message = error instanceof ConnectError ? error.rawMessage : (error as Error).message;
    process.stderr.write(`linkctl: ${message}${reason ? ` (${reason})` : ''}\n`);
    process.exit(1);
  });
