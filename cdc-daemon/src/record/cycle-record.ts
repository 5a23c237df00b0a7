import type { Pool, PoolClient } from 'pg';
import type { CycleStats, CycleStatus } from './cycle-stats';

/** The sync id of a cycle: the id of its `cdc.sync_history` row. Cycles are serialised, so ids follow commit order. */
export type SyncId = string & { readonly __brand: 'SyncId' };

/** Opens the cycle's history row (status running), so loads and the outbox can carry its id. */
export async function beginCycleRecord(pool: Pool): Promise<{ syncId: SyncId; startedAt: Date }> {
  const { rows } = await pool.query(
    "INSERT INTO cdc.sync_history (status) VALUES ('running') RETURNING id::text AS id, started_at",
  );
  return { syncId: rows[0].id as SyncId, startedAt: rows[0].started_at };
}

function statsParams(stats: CycleStats, durationMs: number) {
  const t = stats.totals();
  return [
    stats.tables.size - stats.tablesSkipped(),
    t.chunksScanned,
    t.chunksChanged,
    t.rowsFetched,
    t.rowsLoaded,
    t.inserts,
    t.updates,
    t.deletes,
    t.warnings,
    t.bytesRead,
    Math.round(stats.timings.mysqlMs),
    Math.round(stats.timings.postgresMs),
    Math.max(0, Math.round(durationMs - stats.timings.mysqlMs - stats.timings.postgresMs)),
    Math.round(durationMs),
    stats.snapshotAt ?? null,
    stats.tablesSkipped(),
    t.quarantined,
    Math.round(stats.pausedMs),
    stats.chunkRowsTarget ?? null,
  ];
}

const STATS_SET = `tables = $3, chunks_scanned = $4, chunks_changed = $5, rows_fetched = $6, rows_loaded = $7, inserts = $8, updates = $9, deletes = $10,
  warnings = $11, bytes_read = $12, mysql_ms = $13, postgres_ms = $14, node_ms = $15, duration_ms = $16, snapshot_at = $17, tables_skipped = $18, quarantined = $19, paused_ms = $20, chunk_rows = $21, finished_at = now()`;

/** Closes the history row inside the apply transaction: it commits with the changes or not at all. */
export async function finishCycleRecord(
  client: PoolClient,
  syncId: SyncId,
  status: CycleStatus,
  stats: CycleStats,
  durationMs: number,
): Promise<void> {
  await client.query(`UPDATE cdc.sync_history SET status = $2, ${STATS_SET}, notes = $22 WHERE id = $1`, [
    syncId,
    status,
    ...statsParams(stats, durationMs),
    stats.problems.length > 0 ? stats.problems.join('\n').slice(0, 4000) : null,
  ]);
  await writeTableRows(client, syncId, stats);
}

async function writeTableRows(client: PoolClient | Pool, syncId: SyncId, stats: CycleStats): Promise<void> {
  const rows = [...stats.tables.entries()].map(([name, t]) => ({ name, ...t }));
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO cdc.sync_history_tables (sync_id, table_name, chunks_scanned, chunks_changed, rows_fetched, rows_loaded, inserts, updates, deletes, warnings, schema_change, skipped, quarantined)
     SELECT $1, r.name, r."chunksScanned", r."chunksChanged", r."rowsFetched", r."rowsLoaded", r.inserts, r.updates, r.deletes, r.warnings, r."schemaChange", COALESCE(r.skipped, false), COALESCE(r.quarantined, 0)
       FROM jsonb_to_recordset($2::jsonb) AS r(name text, "chunksScanned" int, "chunksChanged" int, "rowsFetched" bigint, "rowsLoaded" bigint, inserts bigint, updates bigint, deletes bigint, warnings int, "schemaChange" text, skipped boolean, quarantined int)
     ON CONFLICT (sync_id, table_name) DO NOTHING`,
    [syncId, JSON.stringify(rows)],
  );
}

/**
 * Records a failed cycle after its apply transaction rolled back: nothing it read was applied,
 * but the loads it committed before failing are counted.
 */
export async function failCycleRecord(
  pool: Pool,
  syncId: SyncId,
  stats: CycleStats,
  durationMs: number,
  err: { code: string; message: string; table?: string },
): Promise<void> {
  await pool.query(
    `UPDATE cdc.sync_history SET status = $2, ${STATS_SET}, error_code = $22, error_message = $23, error_table = $24 WHERE id = $1`,
    [syncId, 'failed', ...statsParams(stats, durationMs), err.code, err.message.slice(0, 4000), err.table ?? null],
  );
  await writeTableRows(pool, syncId, stats);
}

/** A tick that did not run a cycle (one was still running). */
export async function recordSkipped(pool: Pool, reason: string): Promise<void> {
  await pool.query(
    "INSERT INTO cdc.sync_history (status, finished_at, duration_ms, notes) VALUES ('skipped', now(), 0, $1)",
    [reason],
  );
}

/**
 * Rows left 'running' are cycles whose daemon died (or lost PostgreSQL and never came back to
 * record them): failed, and nothing of them was applied. Call only while holding the daemon lock,
 * after writing the records this process deferred (those carry the real error).
 */
export async function closeAbandonedCycles(pool: Pool): Promise<number> {
  const { rowCount } = await pool.query(
    `UPDATE cdc.sync_history SET status = 'failed', finished_at = now(), error_code = 'ABANDONED',
            error_message = 'The cycle never finished: the daemon running it stopped or lost PostgreSQL, and no daemon recorded its end. Nothing of it was applied; the next cycle redoes its work.'
      WHERE status = 'running'`,
  );
  return rowCount ?? 0;
}

/** A time PostgreSQL did not answer the daemon, and how many cycles it kept from starting. */
export interface PostgresOutage {
  attempts: number;
  first: Date;
  last: Date;
  code: string;
  message: string;
}

/**
 * An outage of PostgreSQL, written as one failed row once it answers again, so the history shows
 * it as what it was: no cycle could run (or even open its record) between `first` and `last`.
 */
export async function recordOutage(pool: Pool, o: PostgresOutage): Promise<void> {
  await pool.query(
    `INSERT INTO cdc.sync_history (status, started_at, finished_at, duration_ms, error_code, error_message, notes)
     VALUES ('failed', $1, $2, $3, $4, $5, $6)`,
    [
      o.first,
      o.last,
      Math.max(0, o.last.getTime() - o.first.getTime()),
      o.code,
      o.message.slice(0, 4000),
      `PostgreSQL did not answer from ${o.first.toISOString()} to ${o.last.toISOString()}; no cycle ran (${o.attempts} attempt(s) could not start).`,
    ],
  );
}

/** Whether an operator paused the schedule, and since when (cdc.daemon_settings 'schedule'). */
export interface ScheduleSetting {
  paused: boolean;
  since: string;
}

/** The channel on which a recorded pause or resume is announced to the running daemon. */
export const CONTROL_CHANNEL = 'cdc_control';

/**
 * Records a pause or a resume of the schedule, so that it outlives the process: a restarted
 * daemon, or a standby taking over, starts paused if an operator paused it (readScheduleSetting).
 * The running daemon, wherever it runs, hears of it on CONTROL_CHANNEL when the record commits
 * (the CLI's `pause` and `resume`).
 */
export async function recordScheduleSetting(pool: Pool, paused: boolean): Promise<void> {
  await putDaemonSetting(pool, 'schedule', { paused, since: new Date().toISOString() } satisfies ScheduleSetting, {
    announce: true,
  });
}

/** Writes one of cdc.daemon_settings; `announce` also tells the running daemon on CONTROL_CHANNEL, as it commits. */
async function putDaemonSetting(pool: Pool, name: string, value: unknown, o: { announce?: boolean } = {}) {
  await pool.query(
    `WITH recorded AS (
       INSERT INTO cdc.daemon_settings (name, value) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
       RETURNING name)
     SELECT ${o.announce ? `pg_notify('${CONTROL_CHANNEL}', name)` : 'name'} FROM recorded`,
    [name, JSON.stringify(value)],
  );
}

/** The schedule's recorded pause (none recorded: running). */
export async function readScheduleSetting(pool: Pool): Promise<ScheduleSetting | undefined> {
  const { rows } = await pool.query<{ value: ScheduleSetting }>(
    "SELECT value FROM cdc.daemon_settings WHERE name = 'schedule'",
  );
  return rows[0]?.value;
}

/**
 * Publishes how fresh the mirror is guaranteed to be. With skip hints, a change committed by a
 * transaction that stayed open longer than the hint margin may not move MySQL's UPDATE_TIME
 * (MariaDB stamps the transaction's start), so it waits for the table's next full sweep: it reaches
 * the mirror at most `fullSweepSeconds` after its commit (plus one cycle). Without hints, one cycle.
 */
export async function publishFreshnessBound(
  pool: Pool,
  s: { skipHints: boolean; hintMarginSeconds: number; fullSweepSeconds: number },
): Promise<void> {
  await putDaemonSetting(pool, 'freshness', s);
}
