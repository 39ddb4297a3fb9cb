/**
 * `linkd sandboxes list|rm|prune`, on this machine's files. A sandbox that a run of a live linkd
 * is using (its process group is recorded under <data>/runs) is not removed.
 */
import { resolve } from 'node:path';
import type { Command, Option } from 'commander';
import { createLogger } from '../common/log.js';
import { HANDLE, SandboxError } from '../common/sandbox-names.js';
import { sandboxesInUse } from './runs/process-groups.js';
import { SandboxKeeper } from './sandboxes/sandboxes.js';
import { sandboxRootFor } from './sandboxes/workspaces.js';

/** Adds `linkd sandboxes …` to `program`; `dataDirOption` makes the shared --data-dir option. */
export function addSandboxCommands(program: Command, dataDirOption: () => Option): void {
  const sandboxesCommand = program.command('sandboxes').description('the sandboxes on this machine: list, remove, prune');
  const localSandboxes = async (dataDir: string) => {
    const root = resolve(dataDir);
    const inUse = await sandboxesInUse(root);
    return new SandboxKeeper({ dataDir: root, sandboxRoot: await sandboxRootFor(root), log: createLogger({ name: 'linkd', level: 'warn' }), busy: (handle) => inUse.has(handle) });
  };
  sandboxesCommand
    .command('list')
    .description('every sandbox: handle, provider, branch, last used, path')
    .addOption(dataDirOption())
    .option('--json', 'print them as JSON')
    .action(async (opts) => {
      const list = await (await localSandboxes(opts.dataDir)).list();
      if (opts.json) return void process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      if (list.length === 0) return void process.stdout.write('no sandboxes\n');
      for (const s of list) {
        process.stdout.write(`${s.handle}  ${s.provider.padEnd(9)}  ${(s.branch || '-').padEnd(20)}  ${s.lastUsedAt}  ${s.path}${s.repository ? `  (${s.repository})` : ''}\n`);
      }
    });
  sandboxesCommand
    .command('rm')
    .description('remove sandboxes by handle (refused while a run uses one)')
    .argument('<handles...>')
    .addOption(dataDirOption())
    .action(async (handles: string[], opts) => {
      const manager = await localSandboxes(opts.dataDir);
      for (const handle of handles) {
        try {
          if (!HANDLE.test(handle)) throw new SandboxError('INVALID_FIELD', `"${handle}" is not a sandbox handle (sbx_ and 20 lowercase letters or digits)`);
          if (!(await manager.get(handle))) throw new SandboxError('SANDBOX_NOT_FOUND', `no sandbox ${handle} here`);
          await manager.delete(handle);
          process.stdout.write(`removed ${handle}\n`);
        } catch (error) {
          const reason = error instanceof SandboxError ? ` (${error.reason})` : '';
          process.stderr.write(`linkd sandboxes rm: ${(error as Error).message}${reason}\n`);
          process.exitCode = 1;
        }
      }
    });
  sandboxesCommand
    .command('prune')
    .description('remove sandboxes whose branch is merged and whose worktree is clean; say why the others stay')
    .addOption(dataDirOption())
    .action(async (opts) => {
      const { removed, kept } = await (await localSandboxes(opts.dataDir)).prune();
      for (const s of removed) process.stdout.write(`removed ${s.handle} (${s.branch}: merged and clean)\n`);
      for (const { sandbox, why } of kept) process.stdout.write(`kept ${sandbox.handle} (${sandbox.branch || sandbox.provider}): ${why}\n`);
    });
}
