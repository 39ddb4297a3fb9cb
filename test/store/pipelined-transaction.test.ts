/**
 * A transaction whose `begin` goes out with its first statements, against a real Postgres: it
 * commits all or nothing, reports the statement that failed (not the ones aborted behind it),
 * and gives its connection back whatever happens.
 */
import assert from 'node:assert/strict';
import postgres, { type Sql } from 'postgres';
import { pipelinedTransaction } from '../../control-plane/store/pipelined-transaction.js';
import { freshDatabase } from '../helpers/postgres.js';

describe('a pipelined transaction', () => {
  let sql: Sql;

  before(async () => {
    sql = postgres(await freshDatabase(), { max: 2, onnotice: () => undefined });
    await sql`create table notes (id int primary key, text text not null)`;
  });

  after(async () => {
    await sql.end({ timeout: 5 });
  });

  beforeEach(async () => {
    await sql`delete from notes`;
  });

  const notes = async () => (await sql<{ id: number }[]>`select id from notes order by id`).map((r) => r.id);

  it('commits what its statements wrote, sent together, and returns what the body returns', async () => {
    const result = await pipelinedTransaction(sql, async (tx) => {
      const [a, b] = await Promise.all([tx`insert into notes values (1, 'a') returning id`.execute(), tx`insert into notes values (2, 'b') returning id`.execute()]);
      return [a[0].id, b[0].id];
    });
    assert.deepEqual(result, [1, 2]);
    assert.deepEqual(await notes(), [1, 2]);
  });

  it('writes nothing when a statement fails, and rethrows that statement’s error, not the aborted ones behind it', async () => {
    await sql`insert into notes values (1, 'there before')`;
    await assert.rejects(
      pipelinedTransaction(sql, async (tx) => {
        const first = tx`insert into notes values (2, 'b')`.execute();
        const failing = tx`insert into notes values (1, 'a duplicate')`.execute();
        const behind = tx`insert into notes values (3, 'c')`.execute();
        await Promise.all([first, failing, behind]);
      }),
      (error: { code?: string }) => error.code === '23505',
    );
    assert.deepEqual(await notes(), [1]);
  });

  it('writes nothing when the body refuses after its statements ran', async () => {
    await assert.rejects(
      pipelinedTransaction(sql, async (tx) => {
        await tx`insert into notes values (1, 'a')`;
        throw new Error('refused');
      }),
      /refused/,
    );
    assert.deepEqual(await notes(), []);
  });

  it('gives its connection back: many more transactions than connections, failed ones among them', async () => {
    for (let i = 0; i < 10; i++) {
      await pipelinedTransaction(sql, async (tx) => tx`insert into notes values (${i}, 'x')`.execute()).catch(() => undefined);
      await pipelinedTransaction(sql, async (tx) => tx`insert into notes values (${i}, 'again')`.execute()).catch(() => undefined);
    }
    assert.equal((await notes()).length, 10);
    const [row] = await sql<{ one: number }[]>`select 1 as one`;
    assert.equal(row.one, 1, 'the pool still answers');
  });
});
