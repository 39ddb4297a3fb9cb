/**
 * How linkctl prints: `--json` is one JSON value per command (an object for one thing, an array for
 * a list, one object per line for a stream), with every field present, zeros and empty strings
 * included (`alwaysEmitImplicit`), so scripts can rely on the shape; otherwise tables with a header
 * line and times in UTC.
 */
import { toJson, toJsonString, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';

const JSON_OPTIONS = { alwaysEmitImplicit: true } as const;

/** One message as JSON, every field present. */
export function jsonOf<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): unknown {
  return toJson(schema, message, JSON_OPTIONS);
}

/** Prints one message as pretty JSON (every field present). */
export function printMessage<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): void {
  process.stdout.write(`${toJsonString(schema, message, { ...JSON_OPTIONS, prettySpaces: 2 })}\n`);
}

/** Prints a list of messages as a pretty JSON array (every field present). */
export function printMessages<Desc extends DescMessage>(schema: Desc, messages: MessageShape<Desc>[]): void {
  printValue(messages.map((m) => toJson(schema, m, JSON_OPTIONS)));
}

/** One line of a JSON-lines stream (every field present). */
export function jsonLine<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): string {
  return `${toJsonString(schema, message, JSON_OPTIONS)}\n`;
}

/** Prints any JSON value, pretty. */
export function printValue(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A time in UTC to the second ("2026-12-01T12:00:00Z"), or "-" when unset. */
export function when(timestamp: Timestamp | undefined): string {
  return timestamp ? timestampDate(timestamp).toISOString().replace(/\.\d+Z$/, 'Z') : '-';
}

/** Columns padded to their widest cell, under a header line; `empty` when there are no rows. */
export function table(header: string[], rows: string[][], empty?: string): string {
  if (rows.length === 0 && empty !== undefined) return `${empty}\n`;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return `${[header, ...rows].map(line).join('\n')}\n`;
}

/** An enum value's name without its prefix, in lower case (`RUN_STATE_RUNNING` → "running"). */
export function enumWord(names: Record<number, string>, value: number): string {
  return (names[value] ?? String(value)).toLowerCase().replace(/_/g, ' ');
}

export { forTerminal } from '../common/terminal.js';
