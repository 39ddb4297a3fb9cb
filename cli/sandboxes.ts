/**
 * linkctl's commands about sandboxes and the repositories on machines:
 *
 *   linkctl sandboxes list [--link L] | get SBX | ensure --link L [--repository R --branch B --provider P]   [--json]
 *   linkctl sandboxes exec SBX "command" [--json]   streams the output, exits with the command's code
 *   linkctl sandboxes rm SBX [--json]
 *   linkctl repositories list --link L [--json]     the repositories a machine offers
 */
import type { Command } from 'commander';
import { createClient, type Transport } from '@connectrpc/connect';
import { SandboxSchema, SandboxState, type Sandbox } from '../gen/link/v1/sandbox_pb.js';
import { ExecOutput_Stream, ExecResponseSchema, ListRepositoriesResponseSchema, SandboxService } from '../gen/link/v1/sandbox_service_pb.js';
import { enumWord, jsonLine, printMessage, printMessages, printValue, table, when } from './output.js';

function sandboxRow(s: Sandbox): string[] {
  return [s.id, s.provider, enumWord(SandboxState, s.state), s.branch || '-', s.linkId, s.repository || '-', s.path || '(not made yet)', when(s.lastUsedAt)];
}

const SANDBOX_HEADER = ['SANDBOX', 'PROVIDER', 'STATE', 'BRANCH', 'LINK', 'REPOSITORY', 'PATH', 'LAST USED'];

/** Adds `sandboxes` and `repositories` to `program`; returns `sandboxes` (the git commands add to it). */
export function addSandboxCommands(program: Command, transport: () => Promise<Transport>): Command {
  const client = async () => createClient(SandboxService, await transport());
  const sandboxes = program.command('sandboxes').description('your sandboxes on your machines');
  const printOne = (sandbox: Sandbox | undefined, json: boolean) => {
    if (!sandbox) return;
    if (json) return printMessage(SandboxSchema, sandbox);
    process.stdout.write(table(SANDBOX_HEADER, [sandboxRow(sandbox)]));
  };

  sandboxes
    .command('list')
    .option('--link <link-id>', "only this machine's")
    .option('--json', 'print them as JSON')
    .action(async (opts) => {
      const { sandboxes: list } = await (await client()).listSandboxes({ linkId: opts.link ?? '' });
      if (opts.json) return printMessages(SandboxSchema, list);
      process.stdout.write(table(SANDBOX_HEADER, list.map(sandboxRow), 'no sandboxes yet'));
    });
  sandboxes
    .command('ensure')
    .description('find or make a sandbox on a machine')
    .requiredOption('--link <link-id>', 'the machine')
    .option('--repository <url>', 'a git repository (none: a directory)')
    .option('--branch <name>', 'its branch')
    .option('--provider <provider>', 'worktree, bwrap, in-place or directory')
    .option('--json', 'print it as JSON')
    .action(async (opts) => {
      const { sandbox } = await (await client()).ensureSandbox({
        linkId: opts.link,
        repository: opts.repository ?? '',
        branch: opts.branch ?? '',
        provider: opts.provider ?? '',
      });
      printOne(sandbox, Boolean(opts.json));
    });
  sandboxes
    .command('get <sandbox-id>')
    .option('--json', 'print it as JSON')
    .action(async (sandboxId: string, opts) => printOne((await (await client()).getSandbox({ sandboxId })).sandbox, Boolean(opts.json)));
  sandboxes
    .command('exec <sandbox-id> <command>')
    .description('run a shell command in a sandbox; exits with its exit code (Ctrl-C stops it)')
    .option('--json', 'output and exit as JSON lines')
    .action(async (sandboxId: string, command: string, opts) => {
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      for await (const response of (await client()).exec({ sandboxId, command }, { signal: abort.signal })) {
        const event = response.event;
        if (opts.json) process.stdout.write(jsonLine(ExecResponseSchema, response));
        else if (event.case === 'output') (event.value.stream === ExecOutput_Stream.STDERR ? process.stderr : process.stdout).write(`${event.value.text}\n`);
        if (event.case === 'exit') {
          if (event.value.reason && !opts.json) process.stderr.write(`linkctl: the command did not finish: ${event.value.reason}\n`);
          process.exitCode = event.value.reason ? 1 : event.value.exitCode;
        }
      }
    });
  sandboxes
    .command('rm <sandbox-id>')
    .description('remove a sandbox from its machine (refused while a run uses it)')
    .option('--json', 'print JSON: {"sandboxId", "removed"}')
    .action(async (sandboxId: string, opts) => {
      await (await client()).deleteSandbox({ sandboxId });
      if (opts.json) return printValue({ sandboxId, removed: true });
      process.stdout.write(`removed ${sandboxId}\n`);
    });

  const repositories = program.command('repositories').description('the git repositories on your machines, under the workspaces linkd was given there');
  repositories
    .command('list')
    .requiredOption('--link <link-id>', 'the machine')
    .option('--json', 'print them as JSON')
    .action(async (opts) => {
      const answer = await (await client()).listRepositories({ linkId: opts.link });
      if (opts.json) return printMessage(ListRepositoriesResponseSchema, answer);
      if (answer.workspaces.length === 0) {
        process.stdout.write('this machine has no workspaces; on it, run: linkd workspace add DIR\n');
        return;
      }
      const rows = answer.repositories.map((r) => [r.path, r.name, r.currentBranch || '(detached)', r.defaultBranch || '-']);
      process.stdout.write(table(['PATH', 'NAME', 'BRANCH', 'DEFAULT'], rows));
      if (answer.repositories.length === 0) process.stdout.write(`(no git repositories under ${answer.workspaces.join(', ')})\n`);
      if (answer.truncated) process.stdout.write(`(more repositories than the ${answer.repositories.length} listed)\n`);
    });
  return sandboxes;
}
