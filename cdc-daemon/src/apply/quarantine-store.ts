import type { PoolClient, Pool } from 'pg';

/** A row PostgreSQL would refuse, kept out of the mirror (see postgres/006-quarantine.sql). */
export interface QuarantinedRow {
  /** The key as the chunk state stores it (key columns in COPY text, tab-joined). */
  key: string;
  column: string | undefined;
  code: string;
  message: string;
}

export interface QuarantineEntry extends QuarantinedRow {
  table: string;
  firstSeen: Date;
  lastSeen: Date;
  lastSyncId: string | null;
}

/** A key as people read it: the key columns joined by " / ". */
export function showKey(key: string): string {
  return key.split('\t').join(' / ');
}

/**
 * Adds or refreshes quarantined rows of a table, keeping when each was first seen; with
 * `replace`, the table's other entries go (their rows were applied or deleted in this cycle).
 */
export async function recordQuarantine(
  client: PoolClient,
  table: string,
  rows: QuarantinedRow[],
  syncId: string,
  replace: boolean,
): Promise<void> {
  if (replace)
    await client.query('DELETE FROM cdc.quarantine WHERE table_name = $1 AND NOT (row_key = ANY($2::text[]))', [
      table,
      rows.map((r) => r.key),
    ]);
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO cdc.quarantine (table_name, row_key, column_name, error_code, error, first_sync_id, last_sync_id)
     SELECT $1, r.key, r.col, r.code, r.msg, $2, $2
       FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS r(key, col, code, msg)
     ON CONFLICT (table_name, row_key) DO UPDATE
       SET column_name = EXCLUDED.column_name, error_code = EXCLUDED.error_code, error = EXCLUDED.error,
           last_seen = now(), last_sync_id = EXCLUDED.last_sync_id`,
    [
      table,
      syncId,
      rows.map((r) => r.key),
      rows.map((r) => r.column ?? null),
      rows.map((r) => r.code),
      rows.map((r) => r.message),
    ],
  );
}

export async function listQuarantine(db: Pool | PoolClient, table?: string, limit = 1000): Promise<QuarantineEntry[]> {
  const r = await db.query(
    `SELECT table_name, row_key, column_name, error_code, error, first_seen, last_seen, last_sync_id
       FROM cdc.quarantine WHERE $1::text IS NULL OR table_name = $1
      ORDER BY table_name, first_seen, row_key LIMIT $2`,
    [table ?? null, limit],
  );
  return r.rows.map((row) => ({
    table: row.table_name,
    key: row.row_key,
    column: row.column_name ?? undefined,
    code: row.error_code,
    message: row.error,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    lastSyncId: row.last_sync_id,
  }));
}

export async function countQuarantine(db: Pool | PoolClient): Promise<number> {
  const r = await db.query('SELECT count(*)::int AS n FROM cdc.quarantine');
  return r.rows[0].n;
}
