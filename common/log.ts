import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Paths pino blanks out wherever they appear: tokens and credentials never reach a log line. */
const REDACT = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'linkToken',
  '*.linkToken',
  'pairingCode',
  '*.pairingCode',
];

/**
 * The process's root logger: JSON lines on stderr, or human-readable lines with `pretty` (for a
 * terminal). Modules take `root.child({ module: 'registry' })`.
 */
export function createLogger(options: { level?: string; pretty?: boolean; name: string; destination?: { write(line: string): void } }): Logger {
  const base: LoggerOptions = {
    name: options.name,
    level: options.level ?? 'info',
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  if (options.pretty) {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, ignore: 'pid,hostname' } },
    });
  }
  return pino(base, options.destination ?? pino.destination(2));
}
