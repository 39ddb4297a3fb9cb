import { InvalidArgumentError } from 'commander';

/** A commander argument parser for a whole number in [min, max]; refuses anything else naming the range. */
export function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}
