/**
 * `npm run bench [name…]`: runs the benchmarks (all, or those named), prints a table for each and
 * writes bench/results/<name>.json. Benchmarks are not tests: they never fail the build.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { report, type Benchmark } from './lib.js';
import { worktreeBenchmark } from './worktree.js';
import { dispatchBenchmark } from './dispatch.js';
import { eventsBenchmark } from './events.js';
import { idleLinksBenchmark } from './idle-links.js';
import { stormBenchmark } from './storm.js';
import { retentionBenchmark } from './retention.js';
import { endToEndBenchmark } from './end-to-end.js';
import { notifyFanoutBenchmark } from './notify-fanout.js';
import { fanOutBenchmark } from './fan-out.js';
import { probeBenchmark } from './probe.js';

const ALL: Benchmark[] = [idleLinksBenchmark, dispatchBenchmark, endToEndBenchmark, eventsBenchmark, fanOutBenchmark, stormBenchmark, worktreeBenchmark, retentionBenchmark, notifyFanoutBenchmark, probeBenchmark];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !ALL.some((b) => b.name === name));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; there are: ${ALL.map((b) => b.name).join(', ')}\n`);
  process.exit(2);
}
const resultsDir = join(fileURLToPath(import.meta.url), '..', 'results');
for (const benchmark of ALL.filter((b) => wanted.length === 0 || wanted.includes(b.name))) {
  process.stdout.write(`running ${benchmark.name}: ${benchmark.description}\n`);
  await report(benchmark.name, await benchmark.run(), resultsDir);
}
