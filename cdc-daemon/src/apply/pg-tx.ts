import type { Pool, PoolClient } from 'pg';

/** Runs `fn` with a pooled connection and gives it back whatever happens. */
export async function withClient<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await fn(client);
  } finally {
    client.release();
  }
}

/** Runs `fn` in one transaction on `client`: COMMIT when it returns, ROLLBACK when it throws. */
export async function transaction<T>(client: PoolClient, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const out = await fn();
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** A pooled connection and one transaction on it. */
export function inTransaction<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, (c) => transaction(c, () => fn(c)));
}
