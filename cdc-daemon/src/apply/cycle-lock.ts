import type { PoolClient } from 'pg';

/**
 * Taken by every transaction that changes a mirror: the cycle's apply and a resync alone, each
 * initial-load batch shared with the other batches of its load (written at once, committed in key
 * order). Even if a daemon lost its session lock mid-cycle and a standby took over, or an operator
 * resyncs a table while it loads, an apply or a resync never runs beside anything else.
 */
export const CYCLE_LOCK_KEY = 7_246_003;

/** Takes the cycle lock for the rest of `client`'s transaction. */
export async function takeCycleLock(client: PoolClient): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [CYCLE_LOCK_KEY]);
}

/**
 * Takes the cycle lock (shared) and says whether `table` is still loading in `generation`: false
 * when a resync or rebuild reset it since the load began (that load must stop; the next cycle
 * starts over).
 */
export async function holdLoad(client: PoolClient, table: string, generation: number): Promise<boolean> {
  await client.query('SELECT pg_advisory_xact_lock_shared($1)', [CYCLE_LOCK_KEY]);
  const { rowCount } = await client.query(
    "SELECT 1 FROM cdc.tables WHERE table_name = $1 AND status = 'loading' AND load_generation = $2",
    [table, generation],
  );
  return rowCount === 1;
}
