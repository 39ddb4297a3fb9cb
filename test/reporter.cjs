// The spec reporter, plus the closing line CI reads: "N passed, N failed, N skipped".
// With LINK_TEST_SUMMARY set, the totals are also written there as JSON for scripts/test.js.
// With LINK_TEST_TIMING set, the slowest test files are listed at the end (keeping `npm test`
// well under 15 minutes starts with knowing where the time goes). In a parallel run the files'
// times come from the workers (test/setup.ts appends each to LINK_TEST_FILE_TIMES): the reporter
// hears of a file only when it has ended.
const Mocha = require('mocha');
const { mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, relative } = require('node:path');

class LinkReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const counts = { passed: 0, failed: 0, skipped: 0 };
    runner.on('pass', () => counts.passed++);
    runner.on('fail', () => counts.failed++);
    runner.on('pending', () => counts.skipped++);
    const files = new Map();
    const started = new Map();
    const parallel = runner.isParallelMode?.() === true;
    let timesDir;
    if (process.env.LINK_TEST_TIMING && parallel) {
      timesDir = mkdtempSync(join(tmpdir(), 'link-test-times-'));
      process.env.LINK_TEST_FILE_TIMES = join(timesDir, 'files.jsonl');
    }
    runner.on('suite', (suite) => {
      if (parallel) return;
      if (suite.file && suite.parent?.root) started.set(suite, Date.now());
    });
    runner.on('suite end', (suite) => {
      const start = started.get(suite);
      if (start === undefined) return;
      const file = relative(process.cwd(), suite.file);
      files.set(file, (files.get(file) ?? 0) + Date.now() - start);
    });
    runner.once('end', () => {
      if (timesDir) {
        let lines = [];
        try {
          lines = readFileSync(process.env.LINK_TEST_FILE_TIMES, 'utf8').split('\n').filter(Boolean);
        } catch {
          // no file ended
        }
        for (const { file, ms } of lines.map((line) => JSON.parse(line))) files.set(file, (files.get(file) ?? 0) + ms);
        rmSync(timesDir, { recursive: true, force: true });
      }
      if (process.env.LINK_TEST_TIMING) {
        const slowest = [...files].sort((a, b) => b[1] - a[1]).slice(0, 20);
        process.stdout.write(`\nslowest test files:\n${slowest.map(([file, ms]) => `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${file}`).join('\n')}\n`);
      }
      if (process.env.LINK_TEST_SUMMARY) writeFileSync(process.env.LINK_TEST_SUMMARY, JSON.stringify(counts));
      else process.stdout.write(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
    });
  }
}

module.exports = LinkReporter;
