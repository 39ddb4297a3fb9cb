/**
 * The real CLIs' captured runs (`test/fixtures/harness-clis/<name>.jsonl`, `.stderr.txt`, `.exit`)
 * and replaying one through an adapter's parser as linkd would feed it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import type { OutputParser } from '../../agent/harnesses/harness.js';
import type { EventInit } from '../../agent/runs/outbox.js';
import { RunEventSchema, type RunEvent } from '../../gen/link/v1/run_pb.js';
import { repoRoot } from './processes.js';

export const HARNESS_FIXTURES = join(repoRoot, 'test', 'fixtures', 'harness-clis');

/** One captured run of a CLI: its stdout and stderr lines and its exit code. */
export interface CapturedRun {
  stdout: string[];
  stderr: string[];
  code: number;
}

/** Reads the captured run `name` from `HARNESS_FIXTURES`. */
export function capturedRun(name: string): CapturedRun {
  const read = (suffix: string) => readFileSync(join(HARNESS_FIXTURES, `${name}${suffix}`), 'utf8');
  return { stdout: read('.jsonl').split('\n'), stderr: read('.stderr.txt').split('\n'), code: Number(read('.exit').trim()) };
}

/** How the process ended, where it differs from the capture (by default: its exit code, no signal). */
export type ReplayExit = Partial<Parameters<OutputParser['finish']>[0]>;

/**
 * Feeds `run` through `parser` as linkd does: `start()`, each stdout line (letting pending promises
 * settle after each, so the user's answers arrive between lines), the stderr lines, then `finish`
 * with `exit` over the captured code. Events go into `events` (pass the array the adapter's
 * `io.emit` fills, to keep their order); returns them all as RunEvents.
 */
export async function replayCapture(parser: OutputParser, run: CapturedRun, exit: ReplayExit = {}, events: EventInit[] = []): Promise<RunEvent[]> {
  parser.start?.();
  for (const line of run.stdout) {
    if (!line) continue;
    events.push(...parser.line(line, 'stdout'));
    await new Promise((resolve) => setImmediate(resolve));
  }
  for (const line of run.stderr) if (line) events.push(...parser.line(line, 'stderr'));
  const code = exit.code === undefined ? run.code : exit.code;
  events.push(...parser.finish({ code, signal: exit.signal ?? null, cancelled: exit.cancelled ?? false, reason: exit.reason ?? '', killed: exit.killed ?? [] }));
  return events.map((e) => create(RunEventSchema, e as never));
}
