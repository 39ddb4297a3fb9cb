/**
 * linkctl's commands for what runs changed and for keeping or throwing it away:
 *
 *   linkctl runs diff RUN [--json]                  the run's change as a unified diff
 *   linkctl sandboxes changes SBX [--base C] [--json]  the sandbox's change since its first run
 *   linkctl sandboxes commit SBX [-m MESSAGE]       commit everything (default: the thread's first message)
 *   linkctl sandboxes push SBX                      push the branch; prints the pull-request link
 *   linkctl sandboxes discard SBX --yes             throw away uncommitted changes
 */
import type { Command } from 'commander';
import { toJsonString } from '@bufbuild/protobuf';
import { createClient, type Transport } from '@connectrpc/connect';
import { FileDiffStatus, RunChangesSchema, type RunChanges } from '../gen/link/v1/run_pb.js';
import { CommitSandboxResponseSchema, PushSandboxResponseSchema, SandboxService } from '../gen/link/v1/sandbox_service_pb.js';
import { printMessage, printValue } from './output.js';
import { watchEvents } from './runs.js';
import { ThreadService } from '../gen/link/v1/thread_service_pb.js';

/** The change as `git diff` would print it, each file's patch in turn, with notes where it was cut. */
export function unifiedDiff(changes: RunChanges): string {
  const out: string[] = [];
  for (const file of changes.files) {
    if (file.patch) out.push(file.patch.endsWith('\n') ? file.patch : `${file.patch}\n`);
    else if (file.binary) out.push(`diff --git a/${file.oldPath || file.path} b/${file.path}\nBinary files differ\n`);
    else if (file.status === FileDiffStatus.RENAMED && !file.patchTruncated) out.push(`diff --git a/${file.oldPath} b/${file.path}\nrename from ${file.oldPath}\nrename to ${file.path}\n`);
    if (file.patchTruncated) out.push(`# ${file.path}: +${file.additions} -${file.deletions}, patch truncated\n`);
  }
  if (changes.omittedFiles) out.push(`# ${changes.omittedFiles} more files not listed\n`);
  if (changes.note) out.push(`# ${changes.note}\n`);
  return out.join('');
}

function print(changes: RunChanges | undefined, json: boolean): void {
  if (!changes) return void process.stdout.write(json ? '{}\n' : '');
  process.stdout.write(json ? `${toJsonString(RunChangesSchema, changes, { prettySpaces: 2, alwaysEmitImplicit: true })}\n` : unifiedDiff(changes));
}

export function addGitCommands(runs: Command, sandboxes: Command, transport: () => Promise<Transport>): void {
  const threads = async () => createClient(ThreadService, await transport());
  const boxes = async () => createClient(SandboxService, await transport());
  runs
    .command('diff <run-id>')
    .description('what the run changed in its git sandbox, as a unified diff (waits for the run to end)')
    .option('--json', 'the change as JSON (files, counts, patches)')
    .action(async (runId: string, opts) => {
      let changes: RunChanges | undefined;
      let ended = false;
      for await (const event of watchEvents(await threads(), runId)) {
        if (event.event.case === 'changes') changes = event.event.value;
        if (event.event.case === 'done') ended = true;
      }
      if (ended && !changes) process.stderr.write(`linkctl: run ${runId} recorded no changes (a directory sandbox, or none could be read)\n`);
      print(changes, Boolean(opts.json));
    });
  sandboxes
    .command('changes <sandbox-id>')
    .description('what the sandbox changed (committed or not) since its first run, as a unified diff')
    .option('--base <commit>', 'compare with this commit instead')
    .option('--json', 'the change as JSON')
    .action(async (sandboxId: string, opts) => {
      const { changes } = await (await boxes()).getSandboxChanges({ sandboxId, baseCommit: opts.base ?? '' });
      print(changes, Boolean(opts.json));
    });
  sandboxes
    .command('commit <sandbox-id>')
    .description('commit everything in the sandbox on its branch (refused while a run uses it)')
    .option('-m, --message <message>', 'the commit message (default: the first message of its thread)')
    .option('--json', 'print JSON: {"commit", "summary"}')
    .action(async (sandboxId: string, opts) => {
      const committed = await (await boxes()).commitSandbox({ sandboxId, message: opts.message ?? '' });
      if (opts.json) return printMessage(CommitSandboxResponseSchema, committed);
      const { commit, summary } = committed;
      process.stdout.write(`committed ${commit.slice(0, 12)} ${summary}\n`);
    });
  sandboxes
    .command('push <sandbox-id>')
    .description('push the sandbox\'s branch to its remote (refused while a run uses it)')
    .option('--json', 'print JSON: {"remoteUrl", "branch", "pullRequestUrl"}')
    .action(async (sandboxId: string, opts) => {
      const pushed = await (await boxes()).pushSandbox({ sandboxId });
      if (opts.json) return printMessage(PushSandboxResponseSchema, pushed);
      process.stdout.write(`pushed ${pushed.branch} to ${pushed.remoteUrl}\n${pushed.pullRequestUrl ? `open a pull request: ${pushed.pullRequestUrl}\n` : ''}`);
    });
  sandboxes
    .command('discard <sandbox-id>')
    .description('throw away the sandbox\'s uncommitted changes and untracked files (refused while a run uses it)')
    .option('--yes', 'do it (without it, nothing is discarded)')
    .option('--json', 'print JSON: {"sandboxId", "discarded"}')
    .action(async (sandboxId: string, opts) => {
      if (!opts.yes) throw new Error('this throws away uncommitted work in the sandbox; pass --yes to do it');
      await (await boxes()).discardSandboxChanges({ sandboxId });
      if (opts.json) return printValue({ sandboxId, discarded: true });
      process.stdout.write(`discarded the uncommitted changes in ${sandboxId}\n`);
    });
}
