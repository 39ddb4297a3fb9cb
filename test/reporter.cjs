// The spec reporter, plus the closing line CI reads: "N passed, N failed, N skipped".
// With LINK_TEST_SUMMARY set, the totals are also written there as JSON for scripts/test.js.
const Mocha = require('mocha');
const { writeFileSync } = require('node:fs');

class LinkReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const counts = { passed: 0, failed: 0, skipped: 0 };
    runner.on('pass', () => counts.passed++);
    runner.on('fail', () => counts.failed++);
    runner.on('pending', () => counts.skipped++);
    runner.once('end', () => {
      if (process.env.LINK_TEST_SUMMARY) writeFileSync(process.env.LINK_TEST_SUMMARY, JSON.stringify(counts));
      else process.stdout.write(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
    });
  }
}

module.exports = LinkReporter;
