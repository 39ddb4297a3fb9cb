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
 * A commander argument parser for a duration (`30d`, `12h`, `90m`, see common/duration.ts) of at
 * least `minMs`, returning milliseconds; anything else is refused with an example.
 */
export function duration(minMs = 1_000) {
  return (value: string): number => {
    const ms = parseDuration(value);
    if (ms === undefined || ms < minMs) throw new InvalidArgumentError(`must be a duration such as 30d, 12h or 90m (at least ${formatDuration(minMs)})`);
    return ms;
  };
}
