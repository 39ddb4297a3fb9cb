/**
 * The one owner of `<data>/runs/<run id>.pgid`: while a run's harness lives, a small file records
 * its process group, that process's start time (so a pid reused after a reboot is never taken for
 * it) and the sandbox it runs in. A linkd killed before it could stop its runs leaves them behind;
 * the next one reaps those groups at start, and `linkd sandboxes` (beside a live linkd) reads them to
 * know which sandboxes are in use.
 *
 *   run starts ─▶ record(runId, pid, handle) ─▶ <run>.pgid ─▶ process exits ─▶ removed
 *   linkd starts ─▶ reapOrphans: every <run>.pgid whose process is still the same ─▶ SIGKILL the group
 *   linkd sandboxes ─▶ sandboxesInUse: handles of groups still alive
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../common/log.js';

const SUFFIX = '.pgid';

interface Marker {
  runId: string;
  group: number;
  started: string;
  handle: string;
}

/**
 * Records run `runId`'s process group `pid` (and the sandbox `handle`, '' when none) until
 * `exited` settles, when the record is removed. Call once the process has spawned. Synchronous on
 * purpose: the record exists before the first byte of the run's output is read, so no event of the
 * run can reach the control plane while a linkd killed at that moment would leave nothing to reap.
 */
export function recordProcessGroup(dataDir: string, runId: string, pid: number, handle: string, exited: Promise<unknown>): void {
  const dir = join(dataDir, 'runs');
  const file = join(dir, `${runId}${SUFFIX}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${pid} ${startTimeFrom(readStat(pid)) ?? ''} ${handle}`, { mode: 0o600 });
  void exited.then(() => rm(file, { force: true }));
}

/**
 * Stops the process groups of runs a previous linkd left behind (it was killed before it could
 * stop them), removes every record, and returns what it stopped. Call once at start, before any run.
 */
export async function reapOrphans(dataDir: string, log: Logger): Promise<string[]> {
  const reaped: string[] = [];
  for (const marker of await markers(dataDir)) {
    if (await alive(marker)) {
      try {
        process.kill(-marker.group, 'SIGKILL');
        reaped.push(`process group ${marker.group} (${marker.runId})`);
      } catch {
        // already gone
      }
    }
    await rm(join(dataDir, 'runs', `${marker.runId}${SUFFIX}`), { force: true });
  }
  if (reaped.length > 0) log.warn({ reaped }, 'stopped runs left behind by an earlier linkd');
  return reaped;
}

/**
 * The sandboxes that runs of a live linkd are using, from the process groups it records under
 * <data>/runs (for `linkd sandboxes`, which runs beside it).
 */
export async function sandboxesInUse(dataDir: string): Promise<Set<string>> {
  const used = new Set<string>();
  for (const marker of await markers(dataDir)) if (marker.handle && (await alive(marker))) used.add(marker.handle);
  return used;
}

async function markers(dataDir: string): Promise<Marker[]> {
  const dir = join(dataDir, 'runs');
  const found: Marker[] = [];
  for (const file of await readdir(dir).catch(() => [] as string[])) {
    if (!file.endsWith(SUFFIX)) continue;
    const [groupText, started, handle] = (await readFile(join(dir, file), 'utf8').catch(() => '')).trim().split(' ');
    found.push({ runId: file.slice(0, -SUFFIX.length), group: Number(groupText), started: started ?? '', handle: handle ?? '' });
  }
  return found;
}

/** Only the same process: a pid reused since (after a reboot) has another start time. */
async function alive(marker: Marker): Promise<boolean> {
  return Number.isInteger(marker.group) && marker.group > 1 && marker.started !== '' && (await processStartTime(marker.group)) === marker.started;
}

/** A process's start time (clock ticks since boot, from /proc), or undefined where there is no /proc. */
async function processStartTime(pid: number): Promise<string | undefined> {
  return startTimeFrom(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined));
}

function readStat(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat, counted after the command name, which is in parentheses and may contain spaces. */
function startTimeFrom(stat: string | undefined): string | undefined {
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}
