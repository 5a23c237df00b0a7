import type { PoolClient } from 'pg';
import { pgi } from './pg-copy';

/**
 * The first versions of a big table's loaded rows, still to be written (cdc.tables.history_backfill).
 * A first load of such a table writes its mirror alone: the history's copy of every row doubled
 * PostgreSQL's work, the load's bottleneck (a university's 6.2M rows: 43 s of its CPU with the
 * history, 21 s without). After each cycle commits, the next slice of them is written from the
 * mirror, in key order; a row that changes before its slice comes gets its first version from
 * the mirror just before the change is merged (writeOwedFirstVersions). Until the last slice,
 * the history of such a row begins at its first change, which the operator console and `status`
 * say, with how many loaded rows are still to go.
 */
export interface HistoryBackfill {
  /** The load's snapshot time and sync id: every first version's valid_from and sync_id. */
  at: string;
  syncId: string;
  /** PostgreSQL's text of the last mirror key written (each key column), null before the first slice. */
  after: string[] | null;
  /**
   * Mirror rows the slices have gone through so far (absent before the first): against the
   * table's loaded rows, how far the backfill is (see BACKFILL_ROWS_LEFT).
   */
  rows?: number;
}

/**
 * SQL over `cdc.tables t`: the loaded rows whose first versions are still owed (rows a slice
 * went through against the rows the load wrote; 0 once none is owed). Rows inserted since the
 * load are gone through too, so this only approaches 0 until the last slice clears the mark.
 */
export const BACKFILL_ROWS_LEFT = `CASE WHEN t.history_backfill IS NULL THEN 0
  ELSE GREATEST(0, t.loaded_rows - COALESCE((t.history_backfill ->> 'rows')::bigint, 0)) END`;

/** Marks a table's history as owed its first versions, from the load with this time and sync id. */
export async function markHistoryBackfill(
  client: PoolClient,
  table: string,
  o: { at: Date; syncId: string },
): Promise<void> {
  await client.query(
    "UPDATE cdc.tables SET history_backfill = jsonb_build_object('at', $2::text, 'syncId', $3::text, 'after', NULL) WHERE table_name = $1",
    [table, o.at.toISOString(), o.syncId],
  );
}

/**
 * Runs a backfill slice, which reads the history to skip keys that have a version while it writes
 * it, with the as-of index probed for each key. Planned freely, it scanned the history (empty at
 * the load's ANALYZE, so the planner took it for small) once per row, re-reading every version
 * it had written so far: a 100,000-row slice ran for minutes. JIT is off: the disabled scans'
 * notional cost would have it compile the statement.
 */
async function withKeyProbes<T>(client: PoolClient, statement: () => Promise<T>): Promise<T> {
  const set = (value: 'off' | 'DEFAULT') =>
    client.query(
      ['enable_seqscan', 'enable_hashjoin', 'enable_mergejoin', 'jit']
        .map((s) => `SET LOCAL ${s} = ${value}`)
        .join('; '),
    );
  await set('off');
  const result = await statement();
  // (A failed statement rolls the transaction back, and the settings with it.)
  await set('DEFAULT');
  return result;
}

/**
 * Writes the first versions still owed of the loaded rows a merge is about to change, from the
 * mirror as it holds them, so that the merge closes them as it would have closed a load's. The
 * rows are picked by a statement of their own: one that reads the history while it writes it
 * was planned as a scan of the history per row (its statistics said empty), each re-reading what
 * it had written. The history's statistics are then brought up to date for the merge's close.
 */
export async function writeOwedFirstVersions(
  client: PoolClient,
  o: {
    /** `mirror t` and `stage s`, with the join and the history probe (`h`) on the key written out. */
    mirror: string;
    history: string;
    stage: string;
    columns: string[];
    join: string;
    probe: string;
    backfill: HistoryBackfill;
  },
): Promise<void> {
  const owed = pgi('_owed_first_versions');
  const cols = o.columns.join(', ');
  await client.query(
    `CREATE TEMP TABLE ${owed} ON COMMIT DROP AS SELECT ${o.columns.map((c) => `t.${c}`).join(', ')}
       FROM ${o.mirror} JOIN ${o.stage} ON ${o.join} WHERE NOT EXISTS (SELECT 1 FROM ${o.history} h WHERE ${o.probe})`,
  );
  const { rowCount } = await client.query(
    `INSERT INTO ${o.history} (${cols}, valid_from, op, sync_id) SELECT ${cols}, $2, 'insert', $1 FROM ${owed}`,
    [o.backfill.syncId, o.backfill.at],
  );
  await client.query(`DROP TABLE ${owed}`);
  if (rowCount) await client.query(`ANALYZE ${o.history}`);
}

/** The mirror's columns and key columns with their types, as PostgreSQL holds them. */
async function mirrorShape(client: PoolClient, mirror: string) {
  const { rows } = await client.query<{ name: string; type: string; key: number | null }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            array_position(i.indkey::int2[], a.attnum) AS key
       FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [mirror],
  );
  const keys = rows.filter((r) => r.key !== null).sort((a, b) => a.key! - b.key!);
  return { columns: rows.map((r) => r.name), keys };
}

/**
 * Writes the first versions of the next `limit` mirror rows (all of them with `limit` null) that
 * have none yet, and moves the table's marker on, or clears it after the last row; returns how
 * many rows it went through and how many versions it wrote. Runs under the cycle lock, so no
 * merge of the table runs beside it.
 */
export async function backfillHistory(
  client: PoolClient,
  targetSchema: string,
  table: string,
  backfill: HistoryBackfill,
  limit: number | null,
): Promise<{ rows: number; written: number; done: boolean }> {
  const mirror = `${pgi(targetSchema)}.${pgi(table)}`;
  const history = `history.${pgi(table)}`;
  const { columns, keys } = await mirrorShape(client, mirror);
  const cols = columns.map(pgi).join(', ');
  const keyList = keys.map((k) => pgi(k.name)).join(', ');
  const after = backfill.after;
  const from = after === null ? '' : `WHERE (${keyList}) > (${keys.map((k, i) => `$${i + 3}::${k.type}`).join(', ')})`;
  const { rows } = await withKeyProbes(client, () =>
    client.query<{ n: number; written: number; last: string[] | null }>(
      `WITH slice AS (
       SELECT ${cols} FROM ${mirror} ${from} ORDER BY ${keyList} ${limit === null ? '' : `LIMIT ${Math.floor(limit)}`}
     ), written AS (
       INSERT INTO ${history} (${cols}, valid_from, op, sync_id)
       SELECT ${columns.map((c) => `s.${pgi(c)}`).join(', ')}, $1::timestamptz, 'insert', $2::bigint FROM slice s
        WHERE NOT EXISTS (SELECT 1 FROM ${history} h WHERE ${keys.map((k) => `h.${pgi(k.name)} = s.${pgi(k.name)}`).join(' AND ')})
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM slice)::int AS n, (SELECT count(*) FROM written)::int AS written,
            (SELECT json_build_array(${keys.map((k) => `${pgi(k.name)}::text`).join(', ')}) FROM slice
              ORDER BY ${keys.map((k) => `${pgi(k.name)} DESC`).join(', ')} LIMIT 1) AS last`,
      [backfill.at, backfill.syncId, ...(after ?? [])],
    ),
  );
  const { n, written, last } = rows[0]!;
  // The merges of the next cycle plan against the history's statistics: an empty history's
  // (the load's ANALYZE) made them scan it once per changed key.
  if (written > 0) await client.query(`ANALYZE ${history}`);
  const done = limit === null || n < limit;
  await client.query(
    done
      ? 'UPDATE cdc.tables SET history_backfill = NULL WHERE table_name = $1'
      : `UPDATE cdc.tables SET history_backfill = history_backfill || jsonb_build_object('after', $2::jsonb,
           'rows', COALESCE((history_backfill ->> 'rows')::bigint, 0) + $3::bigint) WHERE table_name = $1`,
    done ? [table] : [table, JSON.stringify(last), n],
  );
  return { rows: n, written, done };
}

/** Writes every first version still owed, when the mirror is about to be emptied or dropped. */
export async function completeHistoryBackfill(client: PoolClient, targetSchema: string, table: string): Promise<void> {
  const { rows } = await client.query<{ b: HistoryBackfill | null }>(
    'SELECT history_backfill AS b FROM cdc.tables WHERE table_name = $1',
    [table],
  );
  const backfill = rows[0]?.b;
  if (backfill) await backfillHistory(client, targetSchema, table, backfill, null);
}
