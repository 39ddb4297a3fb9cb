/**
 * A transaction whose `begin` goes out with its first statements, against a real Postgres: it
 * commits all or nothing, reports the statement that failed (not the ones aborted behind it),
 * and gives its connection back whatever happens; with a pipelined tail, its COMMIT goes out behind
 * the tail's statements before their answers, and a failing statement there still writes nothing.
 */
import assert from 'node:assert/strict';
import postgres, { type Sql } from 'postgres';
import { pipelined, pipelinedTransaction } from '../../control-plane/store/pipelined-transaction.js';
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

  it('sends its COMMIT right behind a pipelined tail, before the tail is answered, and commits it', async () => {
    const order: string[] = [];
    const traced = postgres(await freshDatabase(), { max: 1, onnotice: () => undefined, debug: (_c, query) => order.push(query.trim().split(/\s+/)[0]) });
    try {
      await traced`create table notes (id int primary key)`;
      order.length = 0;
      const result = await pipelinedTransaction(traced, async (tx) => {
        await tx`insert into notes values (1)`;
        const tail = tx`insert into notes values (2) returning id`.execute().then((rows) => {
          order.push('answered');
          return rows[0].id as number;
        });
        return pipelined(tail);
      });
      assert.equal(result, 2);
      assert.deepEqual(order, ['begin', 'insert', 'insert', 'commit', 'answered']);
      assert.deepEqual((await traced<{ id: number }[]>`select id from notes order by id`).map((r) => r.id), [1, 2]);
    } finally {
      await traced.end({ timeout: 5 });
    }
  });

  it('writes nothing when a statement of the pipelined tail fails, and rethrows its error rather than succeeding', async () => {
    await sql`insert into notes values (1, 'there before')`;
    await assert.rejects(
      pipelinedTransaction(sql, async (tx) => {
        await tx`insert into notes values (2, 'b')`;
        const failing = tx`insert into notes values (1, 'a duplicate')`.execute();
        const behind = tx`insert into notes values (3, 'c')`.execute();
        return pipelined(Promise.all([failing, behind]).then(() => 'stored'));
      }),
      (error: { code?: string }) => error.code === '23505',
    );
    assert.deepEqual(await notes(), [1]);
    // The connection is clean again: the next transaction on the pool commits.
    await pipelinedTransaction(sql, async (tx) => pipelined(tx`insert into notes values (4, 'd')`.execute()));
    assert.deepEqual(await notes(), [1, 4]);
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

/** Settles with `promise`, or rejects naming `what` if it has not within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a pipelined transaction whose backend is terminated', () => {
  let url: string;
  let killer: Sql;

  before(async () => {
    url = await freshDatabase();
    killer = postgres(url, { max: 1, onnotice: () => undefined });
    await killer`create table notes (id int primary key, text text not null)`;
  });

  after(async () => {
    await killer.end({ timeout: 5 });
  });

  /** The backend pids of `application_name` (each pool below names its own). */
  const backends = async (name: string) => (await killer<{ pid: number }[]>`select pid from pg_stat_activity where application_name = ${name}`).map((r) => r.pid);

  it('fails with CONNECTION_CLOSED, writes nothing, and the pool serves the next transaction (a reserved connection that died is not handed out again)', async () => {
    const sql = postgres(url, { max: 1, onnotice: () => undefined, connection: { application_name: 'terminated-mid-body' } });
    try {
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      const transaction = pipelinedTransaction(sql, async (tx) => {
        await tx`insert into notes values (100, 'lost')`.execute();
        started();
        await tx`select pg_sleep(5)`.execute();
      });
      await running;
      for (const pid of await backends('terminated-mid-body')) await killer`select pg_terminate_backend(${pid})`;
      const error = await within(transaction.then(() => undefined, (e: { code?: string }) => e), 10_000, 'the transaction');
      assert.equal(error?.code, 'CONNECTION_CLOSED');
      assert.equal((await killer`select id from notes where id = 100`).length, 0, 'nothing of it was written');
      const next = await within(pipelinedTransaction(sql, async (tx) => tx`insert into notes values (101, 'next') returning id`.execute()), 10_000, 'the next transaction');
      assert.equal(next[0].id, 101);
      const [{ one }] = await within(sql<{ one: number }[]>`select 1 as one`, 10_000, 'a query on the pool');
      assert.equal(one, 1);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('one waiting for the connection when its backend is terminated gets a connection (a queued reserve is not dropped)', async () => {
    const sql = postgres(url, { max: 1, onnotice: () => undefined, connection: { application_name: 'terminated-while-queued' } });
    try {
      const busy = sql`select pg_sleep(5)`.then(
        () => undefined,
        (e: unknown) => e,
      );
      while ((await backends('terminated-while-queued')).length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      // Waits for the pool's only connection, which is busy.
      const waiting = pipelinedTransaction(sql, async (tx) => tx`insert into notes values (200, 'waited') returning id`.execute());
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const pid of await backends('terminated-while-queued')) await killer`select pg_terminate_backend(${pid})`;
      await busy;
      const inserted = await within(waiting, 10_000, 'the waiting transaction');
      assert.equal(inserted[0].id, 200);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});
