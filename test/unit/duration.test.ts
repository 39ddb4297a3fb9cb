import assert from 'node:assert/strict';
import { InvalidArgumentError } from 'commander';
import { duration } from '../../common/cli.js';
import { formatDuration, parseDuration } from '../../common/duration.js';

describe('durations in flags', () => {
  it('reads a whole number and a unit', () => {
    assert.equal(parseDuration('30d'), 30 * 86_400_000);
    assert.equal(parseDuration('12h'), 12 * 3_600_000);
    assert.equal(parseDuration('90m'), 90 * 60_000);
    assert.equal(parseDuration('45s'), 45_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('2w'), 14 * 86_400_000);
  });

  it('refuses what it would have to guess', () => {
    for (const text of ['', '30', 'd', '1.5h', '-1d', '3 days', '1e3s', '9999999999d', '30D']) {
      assert.equal(parseDuration(text), undefined, text);
    }
  });

  it('formats in the largest exact unit', () => {
    assert.equal(formatDuration(30 * 86_400_000), '30d');
    assert.equal(formatDuration(90 * 60_000), '90m');
    assert.equal(formatDuration(1_500), '1500ms');
  });

  it('the flag parser refuses durations below its minimum, naming it', () => {
    const parse = duration(3_600_000);
    assert.equal(parse('30d'), 30 * 86_400_000);
    assert.throws(() => parse('10m'), (e: unknown) => e instanceof InvalidArgumentError && /at least 1h/.test(e.message));
    assert.throws(() => parse('soon'), InvalidArgumentError);
  });
});
