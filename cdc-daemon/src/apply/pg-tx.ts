import type { Pool, PoolClient } from 'pg';

/**
 * Takes a connection out of the pool with an 'error' listener for as long as it is out. pg emits
 * 'error' on a client whose connection dies (PostgreSQL restarted, network cut) even while a query
 * of ours is running, and pg-pool listens only while the client is idle: without this, an outage
 * is an unhandled 'error' event that ends the process. The query in flight rejects on its own;
 * `release()` hands a broken connection back as broken, so the pool closes it instead of reusing it.
 */
export async function checkout(pool: Pool): Promise<{ client: PoolClient; release: () => void; lost: () => boolean }> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => (broken = err);
  client.on('error', onError);
  return {
    client,
    lost: () => broken !== undefined,
    release: () => {
      client.off('error', onError);
      client.release(broken);
    },
  };
}

/** Runs `fn` with a pooled connection and gives it back whatever happens. */
export async function withClient<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const { client, release } = await checkout(pool);
  try {
    return await fn(client);
  } finally {
    release();
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
