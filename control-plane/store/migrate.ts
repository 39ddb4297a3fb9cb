/**
 * Schema migrations: `sql/NNNN_name.sql`, applied in order, each in its own transaction, recorded in
 * `schema_migrations` with a SHA-256 checksum of the file.
 *
 * Start-up stops with a `MigrationError` (its `reason` says which) when:
 *   DUPLICATE  two files share a number          GAP        a number is missing
 *   BAD_NAME   a .sql file is not NNNN_name.sql   CHANGED    an applied file was edited afterwards
 *   MISSING    an applied migration's file is gone
 *   FAILED     a migration raised an error (its transaction is rolled back: nothing of it remains)
 *
 * Replicas starting at once take a Postgres advisory lock, so each migration runs exactly once.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sql } from 'postgres';

export type MigrationErrorReason = 'DUPLICATE' | 'GAP' | 'BAD_NAME' | 'CHANGED' | 'MISSING' | 'FAILED';

export class MigrationError extends Error {
  constructor(
    readonly reason: MigrationErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

export interface Migration {
  version: number;
  name: string;
  file: string;
  sql: string;
  checksum: string;
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;
/** The advisory lock key: "link" as a number, so other applications' locks do not collide. */
const LOCK_KEY = 0x6c696e6b;

/** Reads and checks the migration files of `dir`: names, numbering from 1 without gaps or duplicates. */
export async function readMigrations(dir: string): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of names) {
    const match = FILE.exec(file);
    if (!match) throw new MigrationError('BAD_NAME', `migration file ${file} is not named NNNN_name.sql (lower case, digits, underscores)`);
    const sql = await readFile(join(dir, file), 'utf8');
    migrations.push({ version: Number(match[1]), name: match[2], file, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  for (let i = 0; i < migrations.length; i++) {
    const m = migrations[i];
    const previous = migrations[i - 1];
    if (previous && previous.version === m.version) {
      throw new MigrationError('DUPLICATE', `two migrations have number ${m.file.slice(0, 4)}: ${previous.file} and ${m.file}`);
    }
    if (m.version !== i + 1) {
      const expected = String(i + 1).padStart(4, '0');
      throw new MigrationError('GAP', `migration ${expected} is missing: after ${previous?.file ?? 'the start'} comes ${m.file}`);
    }
  }
  return migrations;
}

/** Applies what is pending. Returns the files it applied (empty when the database was up to date). */
export async function migrate(sql: Sql, dir: string): Promise<string[]> {
  const migrations = await readMigrations(dir);
  const connection = await sql.reserve();
  try {
    await connection`select pg_advisory_lock(${LOCK_KEY})`;
    try {
      await connection`
        create table if not exists schema_migrations (
          version     integer primary key,
          name        text not null,
          checksum    text not null,
          applied_at  timestamptz not null default now()
        )`;
      const applied = await connection<{ version: number; name: string; checksum: string }[]>`
        select version, name, checksum from schema_migrations order by version`;
      for (const row of applied) {
        const file = migrations.find((m) => m.version === row.version);
        if (!file) {
          throw new MigrationError('MISSING', `migration ${String(row.version).padStart(4, '0')}_${row.name}.sql was applied but its file is gone`);
        }
        if (file.checksum !== row.checksum) {
          throw new MigrationError(
            'CHANGED',
            `migration ${file.file} was changed after it was applied (checksum ${row.checksum.slice(0, 12)}… in the database, ${file.checksum.slice(0, 12)}… on disk); add a new migration instead`,
          );
        }
      }
      const done = new Set(applied.map((row) => row.version));
      const ran: string[] = [];
      for (const migration of migrations) {
        if (done.has(migration.version)) continue;
        // One transaction on the connection that holds the lock: the file and its record, or neither.
        await connection.unsafe('begin');
        try {
          await connection.unsafe(migration.sql);
          await connection`insert into schema_migrations (version, name, checksum)
                           values (${migration.version}, ${migration.name}, ${migration.checksum})`;
          await connection.unsafe('commit');
        } catch (cause) {
          await connection.unsafe('rollback');
          throw new MigrationError('FAILED', `migration ${migration.file} failed and was rolled back: ${(cause as Error).message}`, { cause });
        }
        ran.push(migration.file);
      }
      return ran;
    } finally {
      await connection`select pg_advisory_unlock(${LOCK_KEY})`;
    }
  } finally {
    connection.release();
  }
}
