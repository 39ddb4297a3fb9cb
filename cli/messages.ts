/**
 * linkctl's commands about messages that wait to start, and what `send` says of one:
 *
 *   linkctl messages edit MESSAGE TEXT [--json]     change a queued message's text
 *   linkctl messages withdraw MESSAGE [--json]      it never runs
 *
 * A message sent while the thread's run is in progress is queued (it runs after that run); one for
 * an offline machine runs when the machine is back, unless it expires first (`send --expires`).
 */
import type { Command } from 'commander';
import { createClient, type Transport } from '@connectrpc/connect';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { MessageState, ThreadMessageSchema, type ThreadMessage } from '../gen/link/v1/run_pb.js';
import { ThreadService } from '../gen/link/v1/thread_service_pb.js';
import { printMessage, when } from './output.js';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Seconds in a duration such as "90s", "30m", "2h" or "3d" (a bare number is seconds); throws on anything else. */
export function parseDuration(text: string): number {
  const found = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!found) throw new Error(`--expires must be a duration such as 30m, 2h or 3d, not "${text}"`);
  const seconds = Number(found[1]) * UNITS[found[2] || 's'];
  if (seconds < 1 || seconds > 7 * 86_400) throw new Error('--expires must be between 1 second and 7 days');
  return seconds;
}

/** What `send` prints for a message that did not start at once: why it waits, and until when. */
export function waitingNotice(message: ThreadMessage | undefined, linkOnline: boolean, machine: string): string {
  if (message?.state === MessageState.STEERING) return `into the running turn of run ${message.runId} (\`linkctl runs watch ${message.runId}\` shows it)`;
  const expires = message?.expiresAt ? ` (expires ${when(message.expiresAt)})` : '';
  if (!linkOnline) return `queued: ${machine} is offline, runs when it is back${expires}`;
  return `queued (runs after the current run)${expires}`;
}

/** How long until `message` expires, for people ("in 23 h"); '' when it has no expiry. */
export function expiresIn(message: ThreadMessage): string {
  if (!message.expiresAt) return '';
  const seconds = Math.max(0, Math.round((timestampDate(message.expiresAt).getTime() - Date.now()) / 1000));
  return seconds >= 3600 ? `in ${Math.round(seconds / 3600)} h` : `in ${Math.ceil(seconds / 60)} min`;
}

/** Adds the `messages` commands to `program`; `transport` is called per command. */
export function addMessageCommands(program: Command, transport: () => Promise<Transport>): void {
  const client = async () => createClient(ThreadService, await transport());
  const messages = program.command('messages').description('messages waiting to start (sent during a run, or for an offline machine)');

  messages
    .command('edit <message-id> <text>')
    .description('change the text of a message that has not started yet')
    .option('--json', 'print the message as JSON')
    .action(async (messageId: string, text: string, opts) => {
      const { message } = await (await client()).updateQueuedMessage({ messageId, text });
      if (opts.json) return printMessage(ThreadMessageSchema, message!);
      process.stdout.write(`edited ${messageId}; it still waits${message && expiresIn(message) ? ` (expires ${expiresIn(message)})` : ''}\n`);
    });

  messages
    .command('withdraw <message-id>')
    .description('withdraw a message that has not started yet: it never runs')
    .option('--json', 'print the message as JSON')
    .action(async (messageId: string, opts) => {
      const { message } = await (await client()).withdrawMessage({ messageId });
      if (opts.json) return printMessage(ThreadMessageSchema, message!);
      process.stdout.write(`withdrew ${messageId}; it will not run\n`);
    });
}
