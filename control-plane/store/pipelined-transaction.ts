/**
 * A transaction whose `begin` goes out together with its first statements. postgres.js's
 * `sql.begin` waits for the answer to `begin` before the body runs, a round trip of its own; here
 * `begin` is only written ahead of them on a reserved connection, and Postgres runs them in order.
 * For a short transaction on a hot path (SendMessage), that is one round trip in three or four.
 */
import type { Sql, TransactionSql } from 'postgres';

/**
 * Runs `body` in a transaction on a connection of its own and commits when it resolves; rolls back
 * and rethrows when it rejects (the first error of the transaction: a statement sent behind a
 * failed one fails only because the transaction is aborted). The body owes what it owes in
 * `sql.begin`: every statement it sends is awaited (or joined in a `Promise.all`) before it
 * returns or throws. No savepoints (`tx.savepoint` does not exist here).
 */
export async function pipelinedTransaction<T>(sql: Sql, body: (tx: TransactionSql) => Promise<T>): Promise<T> {
  const tx = await sql.reserve();
  let firstError: unknown;
  const begun = tx`begin`.execute();
  // Its failure (the connection lost) fails the body's statements too; it is reported through them.
  begun.catch((error: unknown) => (firstError ??= error));
  try {
    const result = await body(tx as unknown as TransactionSql);
    await begun;
    await tx`commit`;
    return result;
  } catch (error) {
    await tx`rollback`.catch(() => undefined);
    throw firstError ?? error;
  } finally {
    tx.release();
  }
}
