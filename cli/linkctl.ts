/**
 * `linkctl`: the admin and scripting client, over gRPC like any SDK.
 *
 *   linkctl config set [--server URL] [--token TOKEN]   save defaults (0600) for the commands below
 *   linkctl users create NAME [--admin]                  (admins) prints the new user's token once
 *   linkctl links list|get|rename|disconnect|revoke
 *
 * The user token comes from --token, LINKCTL_TOKEN, --token-file / LINKCTL_TOKEN_FILE, or the
 * config file ($XDG_CONFIG_HOME/linkctl/config.json), in that order.
 */
import { Command, Option } from 'commander';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { defaultConfigDir } from '../common/paths.js';
import { UserService } from '../gen/link/v1/user_service_pb.js';
import { toJson } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { reasonOf } from '../common/errors.js';
import { LINK_VERSION } from '../common/protocol.js';
import { LinkService } from '../gen/link/v1/link_service_pb.js';
import { LinkSchema, LinkState, type Link } from '../gen/link/v1/types_pb.js';

interface GlobalOptions {
  server: string;
  token?: string;
  tokenFile?: string;
}

const program = new Command('linkctl')
  .description('Administer and script a Link control plane over gRPC.')
  .version(LINK_VERSION)
  .addOption(new Option('--server <address>', 'control-plane gRPC address (default: config file, else http://127.0.0.1:9090)').env('LINKCTL_SERVER'))
  .addOption(new Option('--token <token>', 'user token').env('LINKCTL_TOKEN'))
  .addOption(new Option('--token-file <file>', 'file holding the user token').env('LINKCTL_TOKEN_FILE'))
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

async function transport() {
  const opts = program.opts<GlobalOptions & { config: string }>();
  const config = await readConfig(opts.config);
  let token = opts.token;
  if (!token && opts.tokenFile) token = (await readFile(opts.tokenFile, 'utf8')).trim();
  token ||= config.token;
  if (!token) throw new Error(`no user token: pass --token or --token-file, set LINKCTL_TOKEN, or run \`linkctl config set --token …\``);
  const server = opts.server ?? config.server ?? 'http://127.0.0.1:9090';
  const baseUrl = /^[a-z]+:\/\//i.test(server) ? server : `http://${server}`;
  return createGrpcTransport({
    baseUrl,
    interceptors: [(next) => (req) => (req.header.set('authorization', `Bearer ${token}`), next(req))],
  });
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
    const config = { ...(await readConfig(file)), ...opts };
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    await rename(temporary, file);
    process.stdout.write(`saved to ${file}\n`);
  });

program
  .command('users')
  .description('people using this control plane')
  .command('create <name>')
  .description("create a user (admins only) and print its API token, shown only once")
  .option('--admin', 'the user may create other users')
  .action(async (name: string, opts) => {
    const users = createClient(UserService, await transport());
    const { user, token } = await users.createUser({ name, admin: Boolean(opts.admin) });
    process.stdout.write(`${token}\n`);
    process.stderr.write(`created ${user?.admin ? 'admin ' : ''}user ${user?.name} (${user?.id}); the token above is shown only once\n`);
  });

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

program.parseAsync().catch((error) => {
  const reason = reasonOf(error);
  const message = error instanceof ConnectError ? error.rawMessage : (error as Error).message;
  process.stderr.write(`linkctl: ${message}${reason ? ` (${reason})` : ''}\n`);
  process.exit(1);
});
