/**
 * A guard for a Gemini CLI (0.61) defect that would lose a session on resume.
 *
 * The CLI keeps a session in `<home>/.gemini/tmp/<project>/chats/session-<YYYY-MM-DDTHH-MM>-<first
 * 8 characters of its id>.jsonl`, named by the UTC minute its recording started. `session/load`
 * starts a fresh recording under the same id *before* it reads the session back: in the same minute
 * that is the same file name, the fresh start is appended to it and resets its messages, and the
 * load then fails with "No previous sessions found for this project". A follow-up sent within the
 * minute its session was started or last resumed would lose the conversation.
 *
 * So before `session/load`, a file of that session named by the current minute (or the next, for a
 * minute that turns meanwhile) is renamed to a name the CLI never writes (`…-<id>.<ms>.jsonl`). The
 * CLI finds sessions by reading every `session-*.jsonl` of the project, so it still finds this one,
 * and goes on recording into it.
 */
import { existsSync, readdirSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where the CLI keeps its files: `$GEMINI_CLI_HOME`, else the home directory (as the CLI decides). */
export function geminiHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.GEMINI_CLI_HOME || env.HOME || homedir();
}

/**
 * Renames the files of `sessionId` that a `session/load` starting now would overwrite. Returns the
 * new paths. Never throws: a file it cannot see or rename is left as it is.
 */
export function keepSessionFromLoad(home: string, sessionId: string, now = new Date()): string[] {
  const short = sessionId.slice(0, 8);
  if (!/^[A-Za-z0-9_-]+$/.test(short)) return [];
  const minute = (at: Date) => at.toISOString().slice(0, 16).replace(/:/g, '-');
  const names = new Set([minute(now), minute(new Date(now.getTime() + 60_000))].map((m) => `session-${m}-${short}.jsonl`));
  const kept: string[] = [];
  const temp = join(home, '.gemini', 'tmp');
  let projects: string[];
  try {
    projects = readdirSync(temp);
  } catch {
    return kept;
  }
  for (const project of projects) {
    for (const name of names) {
      const file = join(temp, project, 'chats', name);
      if (!existsSync(file)) continue;
      const target = file.replace(/\.jsonl$/, `.${now.getTime()}.jsonl`);
      try {
        if (!existsSync(target)) {
          renameSync(file, target);
          kept.push(target);
        }
      } catch {
        // left as it is: the load may fail, in the CLI's words
      }
    }
  }
  return kept;
}
