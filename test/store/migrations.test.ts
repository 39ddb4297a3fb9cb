/**
 * Migrations against a real Postgres: in order, once, checked, and all-or-nothing.
 */
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import postgres, { type Sql } from 'postgres';
import { migrate, MigrationError, readMigrations } from '../../control-plane/store/migrate.js';
import { freshDatabase } from '../helpers/postgres.js';
import { repoRoot, spawnTracked } from '../helpers/processes.js';
import { tempDir } from '../helpers/temp.js';

describe('database migrations', () => {
  const pools: Sql[] = [];
  const connect = (url: string) => {
    const sql = postgres(url, { max: 2, onnotice: () => undefined });
    pools.push(sql);
    return sql;
  };

  afterEach(async () => {
    for (const sql of pools.splice(0)) await sql.end({ timeout: 1 });
  });

  async function migrationsDir(files: Record<string, string>): Promise<string> {
    const dir = await tempDir('migrations-');
    for (const [name, body] of Object.entries(files)) await writeFile(join(dir, name), body);
    return dir;
  }

  async function failure(promise: Promise<unknown>): Promise<MigrationError> {
    const error = await promise.then(
      () => undefined,
      (e) => e,
    );
    assert.ok(error instanceof MigrationError, `expected a MigrationError, got ${error}`);
    return error;
  }

  it('brings a fresh database to the latest schema, and a second run changes nothing', async () => {
    const sql = connect(await freshDatabase());
    const files = (await readdir(join(repoRoot, 'sql'))).filter((f) => f.endsWith('.sql')).sort();
    assert.deepEqual(await migrate(sql, join(repoRoot, 'sql')), files);
    const tables = (await sql`select table_name from information_schema.tables where table_schema = 'public'`).map((r) => r.table_name);
    for (const table of ['users', 'user_tokens', 'links', 'pairing_codes', 'server_keys', 'schema_migrations']) {
      assert.ok(tables.includes(table), `table ${table} exists`);
    }
    const before = await sql`select version, checksum, applied_at from schema_migrations order by version`;
    assert.deepEqual(await migrate(sql, join(repoRoot, 'sql')), []);
    assert.deepEqual(await sql`select version, checksum, applied_at from schema_migrations order by version`, before);
  });

  it('two migrators at once apply each migration exactly once', async () => {
    const url = await freshDatabase();
    const dir = await migrationsDir({
      '0001_slow.sql': 'select pg_sleep(0.5); create table counter (n integer); insert into counter values (1);',
      '0002_more.sql': 'insert into counter values (2);',
    });
    // Two pools are two database sessions, as two replicas starting at once would be.
    const [a, b] = await Promise.all([migrate(connect(url), dir), migrate(connect(url), dir)]);
    assert.deepEqual([...a, ...b].sort(), ['0001_slow.sql', '0002_more.sql']);
    const sql = connect(url);
    assert.deepEqual((await sql`select n from counter order by n`).map((r) => r.n), [1, 2]);
  });

  it('two link-server processes migrating one database at once both succeed', async () => {
    const url = await freshDatabase();
    const run = () =>
      spawnTracked('link-server migrate', process.execPath, [join(repoRoot, 'bin', 'link-server.js'), 'migrate', '--database-url', url]);
    const [one, two] = [run(), run()];
    assert.equal((await one.waitForExit(30_000)).code, 0, one.output);
    assert.equal((await two.waitForExit(30_000)).code, 0, two.output);
    const files = (await readMigrations(join(repoRoot, 'sql'))).length;
    assert.equal((await connect(url)`select count(*)::int as n from schema_migrations`)[0].n, files);
  });

  it('stops when an applied migration was changed', async () => {
    const sql = connect(await freshDatabase());
    const dir = await migrationsDir({ '0001_a.sql': 'create table a (id int);' });
    await migrate(sql, dir);
    await writeFile(join(dir, '0001_a.sql'), 'create table a (id bigint);');
    const error = await failure(migrate(sql, dir));
    assert.equal(error.reason, 'CHANGED');
    assert.match(error.message, /0001_a\.sql was changed after it was applied/);
  });

  it('stops on a gap in the numbering', async () => {
    const sql = connect(await freshDatabase());
    const dir = await migrationsDir({ '0001_a.sql': 'select 1;', '0003_c.sql': 'select 1;' });
    const error = await failure(migrate(sql, dir));
    assert.equal(error.reason, 'GAP');
    assert.match(error.message, /migration 0002 is missing/);
    assert.equal((await sql`select to_regclass('schema_migrations') as t`)[0].t, null, 'nothing was touched');
  });

  it('stops on a duplicate number', async () => {
    const sql = connect(await freshDatabase());
    const dir = await migrationsDir({ '0001_a.sql': 'select 1;', '0001_b.sql': 'select 1;' });
    const error = await failure(migrate(sql, dir));
    assert.equal(error.reason, 'DUPLICATE');
    assert.match(error.message, /0001_a\.sql and 0001_b\.sql/);
  });

  it('stops on a file that is not named NNNN_name.sql', async () => {
    const sql = connect(await freshDatabase());
    const error = await failure(migrate(sql, await migrationsDir({ '1_a.sql': 'select 1;' })));
    assert.equal(error.reason, 'BAD_NAME');
  });

  it('stops when an applied migration\'s file is gone', async () => {
    const sql = connect(await freshDatabase());
    await migrate(sql, await migrationsDir({ '0001_a.sql': 'select 1;', '0002_b.sql': 'select 1;' }));
    const error = await failure(migrate(sql, await migrationsDir({ '0001_a.sql': 'select 1;' })));
    assert.equal(error.reason, 'MISSING');
  });

  it('a broken migration rolls back completely and is not recorded', async () => {
    const sql = connect(await freshDatabase());
    const dir = await migrationsDir({
      '0001_good.sql': 'create table good (id int);',
      '0002_broken.sql': 'create table half (id int); insert into half values (1); select 1 / 0;',
    });
    const error = await failure(migrate(sql, dir));
    assert.equal(error.reason, 'FAILED');
    assert.match(error.message, /0002_broken\.sql failed and was rolled back: division by zero/);
    assert.equal((await sql`select to_regclass('half') as t`)[0].t, null, 'the broken migration left no table');
    assert.deepEqual((await sql`select version from schema_migrations`).map((r) => r.version), [1]);
    // Fixed, it applies on the next start.
    await writeFile(join(dir, '0002_broken.sql'), 'create table half (id int);');
    assert.deepEqual(await migrate(sql, dir), ['0002_broken.sql']);
  });
});
