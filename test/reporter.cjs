// The spec reporter, plus the closing line CI reads: "N passed, N failed, N skipped".
// With LINK_TEST_SUMMARY set, the totals are also written there as JSON for scripts/test.js.
// With LINK_TEST_TIMING set, the slowest test files are listed at the end (keeping `npm test`
// well under 15 minutes starts with knowing where the time goes).
const Mocha = require('mocha');
const { writeFileSync } = require('node:fs');
const { relative } = require('node:path');

class LinkReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const counts = { passed: 0, failed: 0, skipped: 0 };
    runner.on('pass', () => counts.passed++);
    runner.on('fail', () => counts.failed++);
    runner.on('pending', () => counts.skipped++);
    const files = new Map();
    const started = new Map();
    runner.on('suite', (suite) => {
      if (suite.file && suite.parent?.root) started.set(suite, Date.now());
    });
    runner.on('suite end', (suite) => {
      const start = started.get(suite);
      if (start === undefined) return;
      const file = relative(process.cwd(), suite.file);
      files.set(file, (files.get(file) ?? 0) + Date.now() - start);
    });
    runner.once('end', () => {
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
