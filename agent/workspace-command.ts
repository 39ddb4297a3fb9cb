/**
 * `linkd workspace add|list|rm`: the folders linkd may work in, set on this machine only (saved in
 * `<data>/workspaces.json`). A running linkd is told (SIGHUP) and advertises the repositories it
 * finds there at once.
 */
import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import type { Capabilities } from '../gen/link/v1/types_pb.js';
import { readStatus } from './status.js';
import { discoverRepositories } from './sandboxes/local-repositories.js';
import { activeWorkspaces, addWorkspace, parseWorkspaces, removeWorkspace } from './sandboxes/workspaces.js';

/** `--workspace DIR` (repeatable) / LINKD_WORKSPACES (colon-separated) / "workspace" in --config. */
export const workspaceOption = () =>
  new Option('--workspace <dir>', 'a folder linkd may work in (repeatable; added to those of `linkd workspace add`)')
    .env('LINKD_WORKSPACES')
    .default([], 'none')
    .argParser((value: string, previous: string[]) => parseWorkspaces(value, previous));

/** `linkd status`'s line about the workspaces. */
export async function workspacesLine(dataDir: string, given: string[]): Promise<string> {
  const { workspaces } = await activeWorkspaces(dataDir, given);
  return workspaces.length > 0 ? `workspaces: ${workspaces.join(', ')}\n` : 'no workspaces (add one with: linkd workspace add DIR)\n';
}

/** `linkd doctor`'s check of the workspaces. */
export function workspaceCheck(workspaces: string[], capabilities: Capabilities) {
  const found = `${capabilities.repositories.length}${capabilities.repositoriesTruncated ? '+' : ''}`;
  return workspaces.length > 0
    ? { name: 'workspaces', ok: true, detail: `${workspaces.join(', ')}: ${found} git repositories found` }
    : { name: 'workspaces', ok: false, optional: true, detail: 'none: threads can only use scratch folders and cloned URLs', fix: '`linkd workspace add DIR`' };
}

/** Adds the `workspace` commands to `program`; `dataDirOption` makes each its --data-dir. */
export function addWorkspaceCommands(program: Command, dataDirOption: () => Option): void {
  const workspace = program.command('workspace').description('the folders linkd may work in: add, list, rm (on this machine only)');
  workspace
    .command('add')
    .description('let linkd work on the git repositories under DIR')
    .argument('<dir>')
    .addOption(dataDirOption())
    .action(async (dir: string, opts) => {
      const dataDir = resolve(opts.dataDir);
      let real: string;
      try {
        real = await addWorkspace(dataDir, dir);
      } catch (error) {
        process.stderr.write(`linkd workspace add: ${dir}: ${(error as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const { repositories, truncated } = await discoverRepositories([real]);
      process.stdout.write(`added workspace ${real} (${repositories.length}${truncated ? '+' : ''} git ${repositories.length === 1 && !truncated ? 'repository' : 'repositories'})\n`);
      await tellRunningLinkd(dataDir);
    });
  workspace
    .command('list')
    .description('the workspaces and the repositories found in them')
    .addOption(dataDirOption())
    .option('--json', 'print them as JSON')
    .action(async (opts) => {
      const { workspaces, missing } = await activeWorkspaces(resolve(opts.dataDir));
      const { repositories, truncated } = await discoverRepositories(workspaces);
      if (opts.json) return void process.stdout.write(`${JSON.stringify({ workspaces, missing, repositories, truncated }, null, 2)}\n`);
      if (workspaces.length === 0 && missing.length === 0) {
        process.stdout.write('no workspaces; add one with: linkd workspace add DIR\n');
        return;
      }
      for (const w of workspaces) process.stdout.write(`${w}\n`);
      for (const w of missing) process.stdout.write(`${w} (missing)\n`);
      for (const r of repositories) process.stdout.write(`  ${r.path}  ${r.currentBranch || '(detached)'}\n`);
      if (truncated) process.stdout.write(`  … more repositories than the ${repositories.length} listed\n`);
    });
  workspace
    .command('rm')
    .description('stop offering the repositories under DIR')
    .argument('<dir>')
    .addOption(dataDirOption())
    .action(async (dir: string, opts) => {
      const dataDir = resolve(opts.dataDir);
      if (!(await removeWorkspace(dataDir, dir))) {
        process.stderr.write(`linkd workspace rm: ${dir} is not a saved workspace\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`removed workspace ${dir}\n`);
      await tellRunningLinkd(dataDir);
    });
}

/** A running linkd re-reads its workspaces on SIGHUP (and re-advertises its repositories). */
async function tellRunningLinkd(dataDir: string): Promise<void> {
  const found = await readStatus(dataDir);
  if (!found?.running) return;
  try {
    process.kill(found.status.pid, 'SIGHUP');
    process.stdout.write(`told the running linkd (pid ${found.status.pid})\n`);
  } catch {
    // it just stopped
  }
}
