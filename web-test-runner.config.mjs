// Component tests of the web UI in real Chromium (Debian's /usr/bin/chromium): `npx web-test-runner`.
// scripts/test.js runs them before the mocha suites; the summary file feeds its totals.
import { writeFileSync } from 'node:fs';
import { esbuildPlugin } from '@web/dev-server-esbuild';
import { chromeLauncher } from '@web/test-runner-chrome';
import { defaultReporter, summaryReporter } from '@web/test-runner';

/** Writes {passed, failed, skipped} to $LINK_WTR_SUMMARY when the run ends. */
function countsReporter() {
  return {
    onTestRunFinished({ sessions }) {
      const counts = { passed: 0, failed: 0, skipped: 0 };
      const walk = (suite) => {
        for (const test of suite?.tests ?? []) {
          if (test.skipped) counts.skipped++;
          else if (test.passed) counts.passed++;
          else counts.failed++;
        }
        for (const child of suite?.suites ?? []) walk(child);
      };
      for (const session of sessions) {
        walk(session.testResults);
        if (!session.passed && !session.testResults) counts.failed++;
      }
      if (process.env.LINK_WTR_SUMMARY) writeFileSync(process.env.LINK_WTR_SUMMARY, JSON.stringify(counts));
    },
  };
}

export default {
  files: 'web/test/**/*.test.ts',
  nodeResolve: true,
  concurrency: 1,
  testsFinishTimeout: 120_000,
  plugins: [esbuildPlugin({ ts: true, tsconfig: 'tsconfig.json', target: 'es2022' })],
  browsers: [
    chromeLauncher({
      launchOptions: {
        executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
      },
    }),
  ],
  reporters: [defaultReporter(), summaryReporter(), countsReporter()],
  testFramework: { config: { timeout: 10_000 } },
};
