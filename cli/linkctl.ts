/**
 * `linkctl`: the admin and scripting client, over gRPC like any SDK.
 *
 *   linkctl links list [--json]
 *   linkctl links get <link-id> [--json]
 *
 * The user token comes from --token, LINKCTL_TOKEN, or --token-file / LINKCTL_TOKEN_FILE.
 */
import { Command, Option } from 'commander';
import { readFile } from 'node:fs/promises';
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
  .addOption(new Option('--server <address>', 'control-plane gRPC address').env('LINKCTL_SERVER').default('http://127.0.0.1:9090'))
  .addOption(new Option('--token <token>', 'user token').env('LINKCTL_TOKEN'))
  .addOption(new Option('--token-file <file>', 'file holding the user token').env('LINKCTL_TOKEN_FILE'));

async function client() {
  const opts = program.opts<GlobalOptions>();
  let token = opts.token;
  if (!token && opts.tokenFile) token = (await readFile(opts.tokenFile, 'utf8')).trim();
  if (!token) throw new Error('no user token: pass --token, --token-file, or set LINKCTL_TOKEN');
  const baseUrl = /^[a-z]+:\/\//i.test(opts.server) ? opts.server : `http://${opts.server}`;
  const transport = createGrpcTransport({
    baseUrl,
    interceptors: [(next) => (req) => (req.header.set('authorization', `Bearer ${token}`), next(req))],
  });
  return createClient(LinkService, transport);
}

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

program.parseAsync().catch((error) => {
  const reason = reasonOf(error);
  const message = error instanceof ConnectError ? error.rawMessage : (error as Error).message;
  process.stderr.write(`linkctl: ${message}${reason ? ` (${reason})` : ''}\n`);
  process.exit(1);
});
