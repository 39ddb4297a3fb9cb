/**
 * linkctl's commands about threads:
 *
 *   linkctl threads create [--title T] [--json]       prints the new thread's id
 *   linkctl threads list [--archived] [--json]        newest first, with machine, state and time
 *   linkctl threads search TEXT [--archived] [--json] threads whose title contains TEXT
 *   linkctl threads rename THREAD TITLE | archive THREAD | unarchive THREAD [--json]
 *   linkctl threads delete THREAD --yes               the thread, its runs and their events
 *   linkctl threads update THREAD --resume-after-limit on|off   park runs at the usage limit and continue after the reset
 */
import type { Command } from 'commander';
import { createClient, type Transport } from '@connectrpc/connect';
import { RunState, ThreadSchema, type Thread } from '../gen/link/v1/run_pb.js';
import { ThreadService } from '../gen/link/v1/thread_service_pb.js';
import { enumWord, printMessage, printMessages, printValue, table, when } from './output.js';
import { onOff, threadLimitNote } from './limits.js';

function threadRows(list: Thread[]): string[][] {
  return list.map((t) => [
    t.id,
    t.harness || '-',
    `${t.lastRunState ? enumWord(RunState, t.lastRunState) : '-'}${t.pendingInteractions ? ` (${t.pendingInteractions} waiting for you)` : ''}${t.archived ? ' (archived)' : ''}${threadLimitNote(t)}`,
    t.linkName || t.linkId || '-',
    when(t.updatedAt),
    t.title || '(untitled)',
  ]);
}

const THREAD_HEADER = ['THREAD', 'HARNESS', 'STATE', 'MACHINE', 'UPDATED', 'TITLE'];

/** Adds the `threads` commands to `program`; `transport` is called per command. */
export function addThreadCommands(program: Command, transport: () => Promise<Transport>): void {
  const client = async () => createClient(ThreadService, await transport());
  const threads = program.command('threads').description('conversations with a harness on one of your machines');

  threads
    .command('create')
    .description('start a thread; its first message pins the harness and the machine')
    .option('--title <title>')
    .option('--json', 'print the thread as JSON')
    .action(async (opts) => {
      const { thread } = await (await client()).createThread({ title: opts.title ?? '' });
      if (opts.json) return printMessage(ThreadSchema, thread!);
      process.stdout.write(`${thread?.id}\n`);
    });

  const list = async (query: string, opts: { archived?: boolean; json?: boolean }) => {
    const { threads: found } = await (await client()).listThreads({ query, includeArchived: Boolean(opts.archived) });
    if (opts.json) return printMessages(ThreadSchema, found);
    process.stdout.write(table(THREAD_HEADER, threadRows(found), query ? `no thread's title contains "${query}"` : 'no threads yet'));
  };
  threads
    .command('list')
    .description('your threads, newest first')
    .option('--archived', 'archived ones too')
    .option('--json', 'print JSON')
    .action((opts) => list('', opts));
  threads
    .command('search <text>')
    .description('threads whose title contains TEXT (any case)')
    .option('--archived', 'archived ones too')
    .option('--json', 'print JSON')
    .action((text: string, opts) => list(text, opts));

  const update = async (threadId: string, change: { title?: string; archived?: boolean; resumeAfterLimit?: boolean }, json: boolean, said: string) => {
    const { thread } = await (await client()).updateThread({ threadId, ...change });
    if (json) return printMessage(ThreadSchema, thread!);
    process.stdout.write(`${said} ${threadId}${thread?.title ? ` "${thread.title}"` : ''}\n`);
  };
  threads
    .command('rename <thread-id> <title>')
    .option('--json', 'print the thread as JSON')
    .action((threadId: string, title: string, opts) => update(threadId, { title }, Boolean(opts.json), 'renamed'));
  threads
    .command('archive <thread-id>')
    .description('hide it from the list (`threads list --archived` still shows it)')
    .option('--json', 'print the thread as JSON')
    .action((threadId: string, opts) => update(threadId, { archived: true }, Boolean(opts.json), 'archived'));
  threads
    .command('unarchive <thread-id>')
    .option('--json', 'print the thread as JSON')
    .action((threadId: string, opts) => update(threadId, { archived: false }, Boolean(opts.json), 'unarchived'));
  threads
    .command('update <thread-id>')
    .description("change a thread's settings")
    .requiredOption('--resume-after-limit <on|off>', 'on: a run at the usage limit parks and continues after the reset; off: it fails')
    .option('--json', 'print the thread as JSON')
    .action((threadId: string, opts) => {
      const on = onOff(String(opts.resumeAfterLimit));
      return update(threadId, { resumeAfterLimit: on }, Boolean(opts.json), on ? 'runs at the usage limit will continue after the reset in' : 'runs at the usage limit will fail in');
    });
  threads
    .command('delete <thread-id>')
    .description('delete the thread, its runs and their events (refused while a run is in progress)')
    .option('--yes', 'do it (without it, nothing is deleted)')
    .option('--json', 'print JSON: {"threadId", "deleted"}')
    .action(async (threadId: string, opts) => {
      if (!opts.yes) throw new Error('this deletes the thread and its runs for good; pass --yes to do it');
      await (await client()).deleteThread({ threadId });
      if (opts.json) return printValue({ threadId, deleted: true });
      process.stdout.write(`deleted ${threadId}\n`);
    });
}
