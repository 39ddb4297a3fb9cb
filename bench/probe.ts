/**
 * What linkd's capability probe costs on the machine, with the real claude, codex and gemini CLIs
 * on PATH: a periodic (or SIGHUP) re-probe, where nothing changed, against the first probe of a
 * process (every CLI asked for its `--version`, as every re-probe did before the answers were kept).
 * Wall time, and CPU time of linkd and the processes it started together.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter } from 'node:path';
import { forgetVersionAnswers, probeCapabilities } from '../agent/probe.js';
import { harnessBinDir } from '../test/helpers/harness-clis.js';
import { REPETITIONS, type Benchmark, type Figure } from './lib.js';

/** CPU milliseconds of this process and of its waited-for children so far (/proc/self/stat). */
function cpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  // utime stime cutime cstime are fields 14-17 of the line, 12-15 after the command.
  const ticks = fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0);
  return (ticks * 1000) / 100;
}

async function measure(fn: () => Promise<unknown>): Promise<{ wallMs: number; cpuMs: number }> {
  const cpu = cpuMs();
  const start = performance.now();
  await fn();
  return { wallMs: performance.now() - start, cpuMs: cpuMs() - cpu };
}

export const probeBenchmark: Benchmark = {
  name: 'probe',
  description: "linkd's re-probe with the real CLIs on PATH, against a first probe that asks each CLI",
  async run(): Promise<Figure[]> {
    const env = { ...process.env, PATH: `${harnessBinDir}${delimiter}${process.env.PATH}` };
    const probe = () => probeCapabilities({ env, home: homedir(), maxConcurrentRuns: 2 });
    const first: { wallMs: number; cpuMs: number }[] = [];
    const again: { wallMs: number; cpuMs: number }[] = [];
    for (let i = 0; i < REPETITIONS; i++) {
      forgetVersionAnswers();
      first.push(await measure(probe));
      again.push(await measure(probe));
    }
    const installed = (await probe()).harnesses.filter((h) => h.installed).map((h) => h.name);
    const note = `CLIs found: ${installed.join(', ')}`;
    return [
      { name: `re-probe, wall (${note})`, unit: 'ms', samples: again.map((s) => s.wallMs), baseline: { name: 'first probe', samples: first.map((s) => s.wallMs) } },
      { name: 're-probe, CPU of linkd and its children', unit: 'ms', samples: again.map((s) => s.cpuMs), baseline: { name: 'first probe', samples: first.map((s) => s.cpuMs) } },
    ];
  },
};
