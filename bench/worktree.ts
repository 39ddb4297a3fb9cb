/**
 * Sandboxes per branch: linkd's worktree provider (one bare mirror, a `git worktree` per branch)
 * against the obvious alternative, a full clone per branch, on the same generated repository (a
 * few thousand files, a few hundred commits) in the same run. The first branch pays for the mirror;
 * the figures that matter are the second and later branches: time, disk, and git data each.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../common/log.js';
import { SandboxKeeper } from '../agent/sandboxes/sandboxes.js';
import { git } from '../test/helpers/git.js';
import { REPETITIONS, type Benchmark, type Figure } from './lib.js';

const BRANCHES = 8;
const FILES = 3_000;
const COMMITS = 300;
const CHANGED_PER_COMMIT = 10;

function diskKiB(...paths: string[]): number {
  return Number(execFileSync('du', ['-skc', ...paths]).toString().trim().split('\n').pop()!.split('\t')[0]);
}

const source = (i: number, version: number) => `// file ${i}, version ${version}\n${`export const value${i} = ${version};\n`.repeat(30)}`;

async function makeRepository(dir: string): Promise<void> {
  git(dir, 'init', '--quiet', '--initial-branch=main');
  for (let i = 0; i < FILES; i++) {
    const sub = join(dir, `src${i % 50}`);
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, `file${i}.ts`), source(i, 0));
  }
  git(dir, 'add', '-A');
  git(dir, 'commit', '--quiet', '-m', 'commit 0');
  for (let commit = 1; commit < COMMITS; commit++) {
    for (let k = 0; k < CHANGED_PER_COMMIT; k++) {
      const i = (commit * 37 + k * 101) % FILES;
      await writeFile(join(dir, `src${i % 50}`, `file${i}.ts`), source(i, commit));
    }
    git(dir, 'commit', '--quiet', '-am', `commit ${commit}`);
  }
  for (let b = 0; b < BRANCHES; b++) git(dir, 'branch', `branch-${b}`, `HEAD~${b * 7}`);
}

interface Sample {
  firstMs: number;
  laterMs: number;
  laterDiskKiB: number;
  laterGitKiB: number;
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
      const ours: Sample[] = [];
      const clones: Sample[] = [];
      for (let rep = 0; rep < REPETITIONS; rep++) {
        const dataDir = join(root, `linkd-${rep}`);
        const manager = new SandboxKeeper({ dataDir, log: createLogger({ name: 'bench', level: 'silent' }), allowedSchemes: ['file'], maxSandboxes: 1_000 });
        const paths: string[] = [];
        const times: number[] = [];
        for (let b = 0; b < BRANCHES; b++) {
          const t = performance.now();
          const made = await manager.ensure({ handle: `sbx_${String(b).padStart(20, '0')}`, provider: 'worktree', repository: url, branch: `branch-${b}` });
          times.push(performance.now() - t);
          paths.push(made.path);
        }
        // A worktree's own git data is its admin directory in the mirror (index, HEAD); the
        // objects are shared with every other branch.
        const admin = (p: string) => execFileSync('git', ['-C', p, 'rev-parse', '--absolute-git-dir']).toString().trim();
        ours.push({
          firstMs: times[0],
          laterMs: times.slice(1).reduce((a, b) => a + b, 0) / (BRANCHES - 1),
          laterDiskKiB: diskKiB(...paths.slice(1), ...paths.slice(1).map(admin)) / (BRANCHES - 1),
          laterGitKiB: diskKiB(...paths.slice(1).map(admin)) / (BRANCHES - 1),
        });

        const dir = join(root, `clones-${rep}`);
        await mkdir(dir);
        const cloneTimes: number[] = [];
        for (let b = 0; b < BRANCHES; b++) {
          const t = performance.now();
          // --no-local: what a clone from a remote costs (a local clone would hard-link objects).
          git(dir, 'clone', '--quiet', '--no-local', '--branch', `branch-${b}`, url, `b${b}`);
          cloneTimes.push(performance.now() - t);
        }
        const later = Array.from({ length: BRANCHES - 1 }, (_, b) => join(dir, `b${b + 1}`));
        clones.push({
          firstMs: cloneTimes[0],
          laterMs: cloneTimes.slice(1).reduce((a, b) => a + b, 0) / (BRANCHES - 1),
          laterDiskKiB: diskKiB(...later) / (BRANCHES - 1),
          laterGitKiB: diskKiB(...later.map((p) => join(p, '.git'))) / (BRANCHES - 1),
        });
      }
      const figures: Figure[] = [
        { name: 'first branch (makes the mirror)', unit: 'ms', samples: ours.map((s) => s.firstMs), baseline: { name: 'clone', samples: clones.map((s) => s.firstMs) } },
        { name: 'each later branch: time', unit: 'ms', samples: ours.map((s) => s.laterMs), baseline: { name: 'clone', samples: clones.map((s) => s.laterMs) }, target: '≤ 0.1× (10× faster)' },
        { name: 'each later branch: disk (checkout + git data)', unit: 'KiB', samples: ours.map((s) => s.laterDiskKiB), baseline: { name: 'clone', samples: clones.map((s) => s.laterDiskKiB) }, target: '≤ 0.1× (10× smaller)' },
        { name: 'each later branch: git data', unit: 'KiB', samples: ours.map((s) => s.laterGitKiB), baseline: { name: 'clone', samples: clones.map((s) => s.laterGitKiB) }, target: '≤ 0.1×' },
      ];
      return figures;
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  },
};
