import { InvalidArgumentError } from 'commander';

/** A commander argument parser for a whole number in [min, max]; refuses anything else naming the range. */
export function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

const DURATION_UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A commander argument parser for a duration written as a whole number and a unit (`90d`, `12h`,
 * `30m`, `45s`), in milliseconds, within [minMs, maxMs]; refuses anything else saying what it takes.
 */
export function duration(minMs: number, maxMs: number) {
  return (value: string): number => {
    const match = /^(\d{1,9})([smhd])$/.exec(value.trim());
    const ms = match ? Number(match[1]) * DURATION_UNITS[match[2]] : NaN;
    if (!(ms >= minMs && ms <= maxMs)) {
      throw new InvalidArgumentError(`must be a number and a unit (s, m, h or d), e.g. 90d, from ${minMs / 1000} s to ${maxMs / 86_400_000} days`);
    }
    return ms;
  };
}
