/**
 * Sandboxes per branch, on a generated repository (a few thousand files, a few hundred commits),
 * each against its limit measured in the same run:
 *
 * - a later branch's sandbox made by linkd's `SandboxKeeper` against plain `git worktree add` of
 *   the same mirror (the physical cost of a checkout; the two alternate, branch by branch, so that
 *   neither always reads a warmer cache), the median over the later branches of each;
 * - ensuring an existing sandbox (what every later run of a thread does), p50 and p99 over
 *   `LINK_BENCH_ENSURES` calls, against one spawned git process (the unit its work is made of);
 * - for information, a full clone per branch: time, disk and git data.
 *
 * The first branch pays for the mirror.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../common/log.js';
import { SandboxKeeper } from '../agent/sandboxes/sandboxes.js';
import { git as gitAsync } from '../agent/sandboxes/git.js';
import { git } from '../test/helpers/git.js';
import { percentile } from './cluster.js';
import { median, REPETITIONS, type Benchmark, type Figure } from './lib.js';

const BRANCHES = 8;
const FILES = 3_000;
const COMMITS = 300;
const CHANGED_PER_COMMIT = 10;
/** Ensures of existing sandboxes per repetition (over the later branches in turn). */
const ENSURES = Number(process.env.LINK_BENCH_ENSURES ?? 200);

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

const handleOf = (b: number) => `sbx_${String(b).padStart(20, '0')}`;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

interface Sample {
  firstMs: number;
  laterMs: number;
  laterDiskKiB: number;
  laterGitKiB: number;
}

interface Repetition {
  ours: Sample;
  plainMs: number;
  clone: Sample;
  ensureP50: number;
  ensureP99: number;
  gitP50: number;
}

async function repetition(root: string, url: string, rep: number): Promise<Repetition> {
  const dataDir = join(root, `linkd-${rep}`);
  const keeper = new SandboxKeeper({ dataDir, log: createLogger({ name: 'bench', level: 'silent' }), allowedSchemes: ['file'], maxSandboxes: 1_000 });
  const ensure = (b: number) => keeper.ensure({ handle: handleOf(b), provider: 'worktree', repository: url, branch: `branch-${b}` });
  const paths: string[] = [];
  const times: number[] = [];
  const plainTimes: number[] = [];
  let mirror = '';
  times.push(await time(async () => {
    const made = await ensure(0);
    paths.push(made.path);
    mirror = made.mirror!;
  }));
  const plainRoot = join(root, `plain-${rep}`);
  await mkdir(plainRoot);
  for (let b = 1; b < BRANCHES; b++) {
    // The limit: git's own checkout of the same commit from the same mirror, nothing else.
    const plain = () => time(() => gitAsync(['worktree', 'add', '--quiet', '--detach', join(plainRoot, `b${b}`), `refs/remotes/origin/branch-${b}`], { cwd: mirror }));
    // What an ensure leaves running in the background (git's maintenance of a mirror it fetched,
    // a refresh) is not the user's wait: it ends, untimed, before the next measurement starts.
    const ours = async () => {
      const ms = await time(async () => paths.push((await ensure(b)).path));
      await keeper.settled();
      return ms;
    };
    if (b % 2) {
      plainTimes.push(await plain());
      times.push(await ours());
    } else {
      times.push(await ours());
      plainTimes.push(await plain());
    }
  }
  // Every later run of a thread: its sandbox is there already.
  const ensures: number[] = [];
  const gits: number[] = [];
  for (let i = 0; i < ENSURES; i++) {
    const b = 1 + (i % (BRANCHES - 1));
    ensures.push(await time(() => ensure(b)));
    gits.push(await time(() => gitAsync(['rev-parse', '--git-dir'], { cwd: paths[b] })));
  }
  // A worktree's own git data is its admin directory in the mirror (index, HEAD); the objects are
  // shared with every other branch.
  const admin = (p: string) => execFileSync('git', ['-C', p, 'rev-parse', '--absolute-git-dir']).toString().trim();
  const later = paths.slice(1);
  const ours: Sample = {
    firstMs: times[0],
    laterMs: median(times.slice(1)),
    laterDiskKiB: diskKiB(...later, ...later.map(admin)) / later.length,
    laterGitKiB: diskKiB(...later.map(admin)) / later.length,
  };

  const dir = join(root, `clones-${rep}`);
  await mkdir(dir);
  const cloneTimes: number[] = [];
  for (let b = 0; b < BRANCHES; b++) {
    // --no-local: what a clone from a remote costs (a local clone would hard-link objects).
    cloneTimes.push(await time(async () => git(dir, 'clone', '--quiet', '--no-local', '--branch', `branch-${b}`, url, `b${b}`)));
  }
  const clones = Array.from({ length: BRANCHES - 1 }, (_, b) => join(dir, `b${b + 1}`));
  const clone: Sample = {
    firstMs: cloneTimes[0],
    laterMs: median(cloneTimes.slice(1)),
    laterDiskKiB: diskKiB(...clones) / clones.length,
    laterGitKiB: diskKiB(...clones.map((p) => join(p, '.git'))) / clones.length,
  };
  return { ours, plainMs: median(plainTimes), clone, ensureP50: percentile(ensures, 50), ensureP99: percentile(ensures, 99), gitP50: percentile(gits, 50) };
}

export const worktreeBenchmark: Benchmark = {
  name: 'worktree',
  description: `${BRANCHES} branch sandboxes of a repository of ${FILES} files × ${COMMITS} commits: linkd's worktrees vs. plain \`git worktree add\` of the same mirror, ${ENSURES} ensures of existing sandboxes, and (for information) a clone per branch`,
  async run() {
    const root = mkdtempSync(join(tmpdir(), 'link-bench-worktree-'));
    try {
      const repo = join(root, 'repo');
      await mkdir(repo);
      await makeRepository(repo);
      const url = `file://${repo}`;
      const reps: Repetition[] = [];
      for (let rep = 0; rep < REPETITIONS; rep++) reps.push(await repetition(root, url, rep));
      const of = (pick: (r: Repetition) => number) => reps.map(pick);
      const clone = (pick: (s: Sample) => number) => ({ name: 'clone', samples: reps.map((r) => pick(r.clone)) });
      const figures: Figure[] = [
        { name: 'each later branch: time', unit: 'ms', samples: of((r) => r.ours.laterMs), baseline: { name: 'git worktree add, same mirror', samples: of((r) => r.plainMs) }, target: '≤ 1.2×' },
        { name: 'ensure an existing sandbox p50', unit: 'ms', samples: of((r) => r.ensureP50), baseline: { name: 'one git process (p50)', samples: of((r) => r.gitP50) }, target: '< 50 ms' },
        { name: 'ensure an existing sandbox p99', unit: 'ms', samples: of((r) => r.ensureP99), target: '< 50 ms' },
        { name: 'first branch (makes the mirror)', unit: 'ms', samples: of((r) => r.ours.firstMs), baseline: clone((s) => s.firstMs) },
        { name: 'each later branch: time, against a clone', unit: 'ms', samples: of((r) => r.ours.laterMs), baseline: clone((s) => s.laterMs), target: '(information)' },
        { name: 'each later branch: disk (checkout + git data)', unit: 'KiB', samples: of((r) => r.ours.laterDiskKiB), baseline: clone((s) => s.laterDiskKiB), target: '(information)' },
        { name: 'each later branch: git data', unit: 'KiB', samples: of((r) => r.ours.laterGitKiB), baseline: clone((s) => s.laterGitKiB), target: '(information)' },
      ];
      return figures;
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  },
};
