/**
 * A transaction whose `begin` goes out together with its first statements, and whose `commit` may
 * go out together with its last. postgres.js's `sql.begin` waits for the answer to `begin` before
 * the body runs, and sends `commit` only once the body has the answers to its statements: two
 * round trips of their own. Here `begin` is only written ahead of the first statements on a
 * reserved connection, and a body that ends with statements whose answers decide nothing more
 * hands them back as its tail (`pipelined`): `commit` is written right behind them. Postgres runs
 * them in order, and a COMMIT behind a failed statement rolls the transaction back.
 *
 *   begin ─▶ body's statements (answers awaited where they decide something) ─▶ tail ─▶ commit
 *   └──────── one round trip ───────┘                                        └─ one round trip ─┘
 */
import type { Sql, TransactionSql } from 'postgres';

const TAIL = Symbol('pipelined tail');

/**
 * The end of a transaction's body: statements already sent whose answers decide nothing about the
 * transaction (see {@link pipelined}).
 */
export interface Pipelined<T> {
  readonly [TAIL]: Promise<T>;
}

/**
 * Marks `tail` as the body's last statements, sent and not awaited: the transaction's `commit` is
 * written right behind them, without waiting for their answers. `tail` resolves to what the
 * transaction returns. The body owes that every statement it sent is in `tail` (awaited already,
 * or joined into it) and that nothing after their answers can refuse the transaction: once the
 * answers arrive the COMMIT is already on its way. A failing statement of the tail still writes
 * nothing (the COMMIT then rolls back) and the caller gets that statement's error.
 */
export function pipelined<T>(tail: PromiseLike<T>): Pipelined<T> {
  const promise = Promise.resolve(tail);
  // Rejections are reported by the transaction; until it takes the promise none is unhandled.
  promise.catch(() => undefined);
  return { [TAIL]: promise };
}

function isPipelined<T>(value: T | Pipelined<T>): value is Pipelined<T> {
  return typeof value === 'object' && value !== null && TAIL in value;
}

/**
 * Runs `body` in a transaction on a connection of its own and commits when it resolves (or, when it
 * returns {@link pipelined}, right behind its tail); rolls back and rethrows when it rejects or a
 * statement failed (the first error of the transaction: a statement sent behind a failed one fails
 * only because the transaction is aborted). The body owes what it owes in `sql.begin`: every
 * statement it sends is awaited (or joined in a `Promise.all`, or in its tail) before it returns or
 * throws. No savepoints (`tx.savepoint` does not exist here).
 */
export async function pipelinedTransaction<T>(sql: Sql, body: (tx: TransactionSql) => Promise<T | Pipelined<T>>): Promise<T> {
  const tx = await sql.reserve();
  let firstError: unknown;
  const begun = tx`begin`.execute();
  // Its failure (the connection lost) fails the body's statements too; it is reported through them.
  begun.catch((error: unknown) => (firstError ??= error));
  let committing: Promise<unknown> | undefined;
  try {
    const returned = await body(tx as unknown as TransactionSql);
    if (!isPipelined(returned)) {
      await begun;
      await tx`commit`;
      return returned;
    }
    // Every statement the body sent goes out a microtask or a few after its call (postgres.js
    // writes a query once it is awaited or executed): the COMMIT only once they are all written,
    // after every pending microtask has run (a tick runs after the microtask queue drains).
    await new Promise<void>((resolve) => process.nextTick(resolve));
    // Written behind the tail; a statement of the tail that fails turns it into a ROLLBACK, which
    // Postgres answers without an error: the tail's own answer says which it was.
    committing = tx`commit`.execute();
    committing.catch(() => undefined);
    const tail = returned[TAIL];
    tail.catch((error: unknown) => (firstError ??= error));
    const [result] = await Promise.all([tail, begun, committing]);
    return result;
  } catch (error) {
    // Once the COMMIT went out the transaction is over either way (committed, or rolled back
    // behind the failure); a rollback then would only draw a warning.
    if (!committing) await tx`rollback`.catch(() => undefined);
    else await committing.catch(() => undefined);
    throw firstError ?? error;
  } finally {
    tx.release();
  }
}
