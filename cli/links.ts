/**
 * linkctl's commands about machines (links):
 *
 *   linkctl links list | get LINK [--json]
 *   linkctl links pair [--name NAME] [--json]      a one-time code and the `linkd login` command to run on the machine
 *   linkctl links rename LINK NAME | disconnect LINK [--reason R] | revoke LINK | rotate-token LINK   [--json]
 */
import type { Command } from 'commander';
import { createClient, type Transport } from '@connectrpc/connect';
import { LinkService, StartPairingResponseSchema } from '../gen/link/v1/link_service_pb.js';
import { LinkSchema, LinkState, type Link } from '../gen/link/v1/types_pb.js';
import { printMessage, printMessages, printValue, table, when } from './output.js';

function linkRow(link: Link): string[] {
  const online = link.state === LinkState.ONLINE;
  const asleep = link.state === LinkState.ASLEEP;
  const seen =
    online && link.connectedAt
      ? `since ${when(link.connectedAt)}`
      : asleep && link.asleepSince
        ? `asleep since ${when(link.asleepSince)}`
        : link.lastSeenAt
          ? `last seen ${when(link.lastSeenAt)}`
          : 'never connected';
  return [link.id, link.name, online ? 'online' : asleep ? 'asleep' : 'offline', link.hostname || '-', seen, String(link.queuedMessages)];
}

/** QUEUED: the runs and messages waiting for the machine. */
const LINK_HEADER = ['LINK', 'NAME', 'STATE', 'HOST', 'SEEN', 'QUEUED'];

/** Adds the `links` commands to `program`; `transport` is called per command. */
export function addLinkCommands(program: Command, transport: () => Promise<Transport>): void {
  const client = async () => createClient(LinkService, await transport());
  const links = program.command('links').description('the machines paired with your account');

  links
    .command('list')
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const { links: list } = await (await client()).listLinks({});
      if (opts.json) return printMessages(LinkSchema, list);
      process.stdout.write(table(LINK_HEADER, list.map(linkRow), 'no links yet: `linkctl links pair` connects a machine'));
    });
  links
    .command('get <link-id>')
    .option('--json', 'print JSON')
    .action(async (linkId: string, opts) => {
      const { link } = await (await client()).getLink({ linkId });
      if (!link) return;
      if (opts.json) return printMessage(LinkSchema, link);
      process.stdout.write(table(LINK_HEADER, [linkRow(link)]));
    });
  links
    .command('pair')
    .description('connect a machine: prints a one-time code (valid 10 minutes) and the command to run on that machine')
    .option('--name <name>', "the machine's name in Link (default: its hostname)")
    .option('--json', 'print JSON: {"code", "expiresAt", "command", "serverAddress"}')
    .action(async (opts) => {
      const pairing = await (await client()).startPairing({ linkName: opts.name ?? '' });
      if (opts.json) return printMessage(StartPairingResponseSchema, pairing);
      process.stdout.write(
        `code ${pairing.code} (works once, until ${when(pairing.expiresAt)})\n` +
          `on the machine, run:\n\n  ${pairing.command}\n  linkd start\n\n` +
          'linkd must be installed there first (a checkout of Link: `npx linkd …`, or `node bin/linkd.js …`).\n',
      );
    });
  links
    .command('rename <link-id> <name>')
    .option('--json', 'print the link as JSON')
    .action(async (linkId: string, name: string, opts) => {
      const { link } = await (await client()).renameLink({ linkId, name });
      if (!link) return;
      if (opts.json) return printMessage(LinkSchema, link);
      process.stdout.write(table(LINK_HEADER, [linkRow(link)]));
    });
  links
    .command('disconnect <link-id>')
    .description("tell the machine's linkd to stop; starting it again brings the link back")
    .option('--reason <text>', 'shown on the machine')
    .option('--json', 'print JSON: {"linkId", "wasOnline"}')
    .action(async (linkId: string, opts) => {
      const { wasOnline } = await (await client()).disconnectLink({ linkId, reason: opts.reason ?? '' });
      if (opts.json) return printValue({ linkId, wasOnline });
      process.stdout.write(wasOnline ? `told ${linkId} to stop\n` : `${linkId} was not connected\n`);
    });
  links
    .command('revoke <link-id>')
    .description("end the link's session now and make its token worthless; the machine must pair again")
    .option('--json', 'print JSON: {"linkId", "revoked"}')
    .action(async (linkId: string, opts) => {
      await (await client()).revokeLink({ linkId });
      if (opts.json) return printValue({ linkId, revoked: true });
      process.stdout.write(`revoked ${linkId}\n`);
    });
  links
    .command('rotate-token <link-id>')
    .description('give the (connected) machine a new token; the old one keeps working for a grace period')
    .option('--json', 'print JSON: {"linkId", "rotated"}')
    .action(async (linkId: string, opts) => {
      await (await client()).rotateLinkToken({ linkId });
      if (opts.json) return printValue({ linkId, rotated: true });
      process.stdout.write(`sent a new token to ${linkId}\n`);
    });
}
