import { InvalidArgumentError } from 'commander';
import { formatDuration, parseDuration } from './duration.js';

/** A commander argument parser for a whole number in [min, max]; refuses anything else naming the range. */
export function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

/**
 * A commander argument parser for a duration (`90d`, `12h`, `30m`, `45s`; see common/duration.ts)
 * within [minMs, maxMs], returning milliseconds; anything else is refused saying what it takes.
 */
export function duration(minMs = 1_000, maxMs = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const ms = parseDuration(value);
    if (ms === undefined || ms < minMs || ms > maxMs) {
      const range = maxMs === Number.MAX_SAFE_INTEGER ? `at least ${formatDuration(minMs)}` : `from ${formatDuration(minMs)} to ${formatDuration(maxMs)}`;
      throw new InvalidArgumentError(`must be a duration such as 90d, 12h or 30m (${range})`);
    }
    return ms;
  };
}
