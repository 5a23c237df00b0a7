import type { PoolClient } from 'pg';

/**
 * Taken by every transaction that changes a mirror: the cycle's apply, each initial-load batch
 * and a resync. Even if a daemon lost its session lock mid-cycle and a standby took over, or an
 * operator resyncs a table while it loads, these run one after the other.
 */
export const CYCLE_LOCK_KEY = 7_246_003;

/** Takes the cycle lock for the rest of `client`'s transaction. */
export async function takeCycleLock(client: PoolClient): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [CYCLE_LOCK_KEY]);
}

/**
 * Takes the cycle lock and says whether `table` is still loading in `generation`: false when a
 * resync or rebuild reset it since the load began (that load must stop; the next cycle starts over).
 */
export async function holdLoad(client: PoolClient, table: string, generation: number): Promise<boolean> {
  await takeCycleLock(client);
  const { rowCount } = await client.query(
    "SELECT 1 FROM cdc.tables WHERE table_name = $1 AND status = 'loading' AND load_generation = $2",
    [table, generation],
  );
  return rowCount === 1;
}
