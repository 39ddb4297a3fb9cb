// mocha's settings. The default spec (every suite) applies only when no test file is named on the
// command line, so `npx mocha test/runs.test.ts` runs that file alone (mocha would otherwise add
// the named files to the configured spec and run everything).
const named = process.argv.slice(2).some((arg) => /\.test\.ts$/.test(arg) && !arg.startsWith('-'));

module.exports = {
  'node-option': ['import=tsx'],
  ...(named ? {} : { spec: ['test/**/*.test.ts'] }),
  require: ['test/setup.ts'],
  timeout: 60000,
  slow: 5000,
  reporter: 'test/reporter.cjs',
  exit: true,
};
