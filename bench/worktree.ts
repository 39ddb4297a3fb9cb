/**
 * Sandboxes per branch: linkd's worktree provider (one bare mirror, a `git worktree` per branch)
 * against the obvious alternative, a full clone per branch, on the same generated repository in
 * the same run. Reports the time to make N branch sandboxes and the disk they take.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../common/log.js';
import { SandboxManager } from '../agent/sandboxes/sandboxes.js';
import { git } from '../test/helpers/git.js';
import { timed, type Benchmark } from './lib.js';

const BRANCHES = 12;
const FILES = 800;
const COMMITS = 4;
const REPETITIONS = 3;

function diskKiB(path: string): number {
  return Number(execFileSync('du', ['-sk', path]).toString().split('\t')[0]);
}

async function makeRepository(dir: string): Promise<void> {
  git(dir, 'init', '--quiet', '--initial-branch=main');
  for (let commit = 0; commit < COMMITS; commit++) {
    for (let i = 0; i < FILES; i++) {
      const sub = join(dir, `src${i % 30}`);
      await mkdir(sub, { recursive: true });
      await writeFile(join(sub, `file${i}.ts`), `// ${commit}\n${'export const value = "'.concat(String(i * commit), '";\n').repeat(40)}`);
    }
    git(dir, 'add', '-A');
    git(dir, 'commit', '--quiet', '-m', `commit ${commit}`);
  }
  for (let b = 0; b < BRANCHES; b++) git(dir, 'branch', `branch-${b}`);
}

export const worktreeBenchmark: Benchmark = {
  name: 'worktree',
  description: `${BRANCHES} branch sandboxes of a repository of ${FILES} files × ${COMMITS} commits: worktrees from one mirror vs. a clone per branch`,
  async run() {
    const root = mkdtempSync(join(tmpdir(), 'link-bench-worktree-'));
    try {
      const repo = join(root, 'repo');
      await mkdir(repo);
      await makeRepository(repo);
      const url = `file://${repo}`;
      let ourDisk = 0;
      let cloneDisk = 0;
      let ourGit = 0;
      let cloneGit = 0;
      const ours = await timed(REPETITIONS, async (i) => {
        const dataDir = join(root, `linkd-${i}`);
        const manager = new SandboxManager({ dataDir, log: createLogger({ name: 'bench', level: 'silent' }), allowedSchemes: ['file'], maxSandboxes: 1_000 });
        for (let b = 0; b < BRANCHES; b++) {
          await manager.ensure({ handle: `sbx_${String(b).padStart(20, '0')}`, provider: 'worktree', repository: url, branch: `branch-${b}` });
        }
        ourDisk = diskKiB(dataDir);
        ourGit = diskKiB(join(dataDir, 'mirrors'));
      });
      const clones = await timed(REPETITIONS, async (i) => {
        const dir = join(root, `clones-${i}`);
        await mkdir(dir);
        // --no-local: what a clone from a remote costs (a local clone would hard-link objects).
        for (let b = 0; b < BRANCHES; b++) git(dir, 'clone', '--quiet', '--no-local', '--branch', `branch-${b}`, url, `b${b}`);
        cloneDisk = diskKiB(dir);
        cloneGit = Array.from({ length: BRANCHES }, (_, b) => diskKiB(join(dir, `b${b}`, '.git'))).reduce((a, b) => a + b, 0);
      });
      return [
        { name: `make ${BRANCHES} branch sandboxes`, unit: 'ms', samples: ours, baseline: { name: 'clone per branch', samples: clones }, target: 'much faster than a clone per branch' },
        { name: `disk for ${BRANCHES} branches (checkouts + git data)`, unit: 'KiB', samples: [ourDisk], baseline: { name: 'clone per branch', samples: [cloneDisk] }, target: 'smaller' },
        { name: `git data for ${BRANCHES} branches`, unit: 'KiB', samples: [ourGit], baseline: { name: 'clone per branch', samples: [cloneGit] }, target: 'one copy, not one per branch' },
      ];
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  },
};
