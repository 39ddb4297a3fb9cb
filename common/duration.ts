/**
 * Durations as people write them in flags and config files: a whole number and a unit, `90d`,
 * `12h`, `30m`, `45s`, `500ms`. Used wherever a setting is a span of time rather than milliseconds.
 */
const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
const DURATION = /^(\d{1,9})(ms|s|m|h|d|w)$/;

/**
 * The milliseconds of `text` (`30d` → 2 592 000 000), or undefined when it is not a duration: no
 * unit, a fraction, a negative or a value over nine digits are all refused rather than guessed.
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNITS[match[2]];
}

/** `ms` in the largest unit that divides it exactly (`2592000000` → `30d`), for log lines and docs. */
export function formatDuration(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    if (ms >= UNITS[unit] && ms % UNITS[unit] === 0) return `${ms / UNITS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
