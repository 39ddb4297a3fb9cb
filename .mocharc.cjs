// mocha's settings. The default spec (every suite) applies only when no test file is named on the
// command line, so `npx mocha test/runs.test.ts` runs that file alone (mocha would otherwise add
// the named files to the configured spec and run everything).
//
// Every suite (the default spec) runs one file after another, or in parallel in LINK_TEST_JOBS
// worker processes (1 by default: two workers on a 2-core machine finish sooner, but the suites'
// timing-tight waits then meet enough contention to fail now and then; 2 when trying a change).
// Most of a suite's time is spent waiting for processes it started, so a second worker keeps the
// machine busy. The slowest files go first, so that no long file starts
// last while the other worker has nothing left; the rest follow in name order, unit tests last.
const { readdirSync } = require('node:fs');

const named = process.argv.slice(2).some((arg) => /\.test\.ts$/.test(arg) && !arg.startsWith('-'));
const jobs = Number(process.env.LINK_TEST_JOBS ?? 1);

/** Started first (the slowest by `LINK_TEST_TIMING=1 npm test`); a file missing here only starts later. */
const SLOWEST = [
  'test/replicas.test.ts',
  'test/usage-limits.test.ts',
  'test/rpc-fuzz.test.ts',
  'test/cli-discovery.test.ts',
  'test/sandboxes.test.ts',
  'test/embedded.test.ts',
  'test/link-lost.test.ts',
  'test/npm-start-stop.test.ts',
];

function allSuites() {
  const files = readdirSync('test', { recursive: true })
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => `test/${f}`)
    .sort();
  const late = (f) => /^test\/(unit|store|registry)\//.test(f);
  return [...SLOWEST.filter((f) => files.includes(f)), ...files.filter((f) => !SLOWEST.includes(f) && !late(f)), ...files.filter(late)];
}

module.exports = {
  'node-option': ['import=tsx'],
  ...(named ? {} : { spec: allSuites(), ...(jobs > 1 ? { parallel: true, jobs } : {}) }),
  require: ['test/setup.ts'],
  timeout: 60000,
  slow: 5000,
  reporter: 'test/reporter.cjs',
  exit: true,
};
