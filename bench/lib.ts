/**
 * What every benchmark shares: repetitions, min and median, a printed table, and a JSON file of
 * results. A benchmark measures its own raw baseline in the same run and reports our figure as a
 * ratio to it (these machines are shared and noisy; absolute numbers from another run mean little).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Figure {
  /** What was measured, e.g. "ensure 20 branches". */
  name: string;
  unit: string;
  /** One value per repetition. */
  samples: number[];
  /** The baseline's samples, measured in the same run, when there is one. */
  baseline?: { name: string; samples: number[] };
  /** A target, in words, for the table. */
  target?: string;
}

export interface Benchmark {
  name: string;
  description: string;
  run(): Promise<Figure[]>;
}

/** Repetitions of each measurement (at least 3 for a figure worth reporting; fewer to try a change quickly). */
export const REPETITIONS = Number(process.env.LINK_BENCH_REPETITIONS ?? 3);

export function min(values: number[]): number {
  return Math.min(...values);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs `fn` `times` times and returns the elapsed milliseconds of each. */
export async function timed(times: number, fn: (i: number) => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = process.hrtime.bigint();
    await fn(i);
    out.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return out;
}

const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3));

/** Prints the figures as a table and writes them to bench/results/<name>.json. */
export async function report(benchmark: string, figures: Figure[], resultsDir: string): Promise<void> {
  const rows = figures.map((f) => {
    const ours = { min: min(f.samples), median: median(f.samples) };
    const base = f.baseline && { min: min(f.baseline.samples), median: median(f.baseline.samples) };
    return {
      figure: f.name,
      unit: f.unit,
      min: fmt(ours.min),
      median: fmt(ours.median),
      baseline: f.baseline ? `${f.baseline.name}: ${fmt(base!.median)}` : '',
      'ratio (median)': base ? `${(ours.median / base.median).toFixed(2)}×` : '',
      target: f.target ?? '',
    };
  });
  process.stdout.write(`\n${benchmark}\n`);
  console.table(rows);
  await mkdir(resultsDir, { recursive: true });
  const json = figures.map((f) => ({
    ...f,
    min: min(f.samples),
    median: median(f.samples),
    baseline: f.baseline && { ...f.baseline, min: min(f.baseline.samples), median: median(f.baseline.samples) },
    ratio: f.baseline ? median(f.samples) / median(f.baseline.samples) : undefined,
  }));
  await writeFile(join(resultsDir, `${benchmark}.json`), `${JSON.stringify({ benchmark, at: new Date().toISOString(), figures: json }, null, 2)}\n`);
}
