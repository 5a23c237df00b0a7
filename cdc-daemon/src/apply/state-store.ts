import type { Pool, PoolClient } from 'pg';
import type { KeyTuple } from '../snapshot/mysql-sql';
import type { SkipHint } from '../snapshot/change-hints';
import { copyOutRows } from './pg-copy';
import { applyPatch } from './chunk-rows';
import type { HistoryBackfill } from './history-backfill';

/** One chunk of a table: rows from `lower` (inclusive) to the next chunk's lower bound. */
export interface ChunkState {
  id: string;
  position: number;
  lower: KeyTuple | null;
  count: number;
  fingerprint: string;
}

export interface TableState {
  name: string;
  status: 'loading' | 'active' | 'retired';
  fingerprint: string;
  tableSchema: unknown;
  loadCursor: KeyTuple | null;
  loadedRows: number;
  /** Bumped by every reset of the table (resync, rebuild): a load of an older generation stops. */
  loadGeneration: number;
  /** Loading again over a kept history (after a resync). */
  reload: boolean;
  skipHint?: SkipHint | null;
  /** First versions of loaded rows the history is still owed (history-backfill.ts). */
  historyBackfill?: HistoryBackfill | null;
  /** Unique keys a first load dropped and has not built again yet (mirror-indexes.ts's buildUniqueKeys). */
  keysToBuild?: string[] | null;
}

export async function loadTableStates(client: PoolClient): Promise<Map<string, TableState>> {
  const { rows } = await client.query(
    'SELECT table_name, status, schema_fingerprint, table_schema, load_cursor, loaded_rows, load_generation, reload, skip_hint, history_backfill, keys_to_build FROM cdc.tables',
  );
  return new Map(
    rows.map((r) => [
      r.table_name,
      {
        name: r.table_name,
        status: r.status,
        fingerprint: r.schema_fingerprint,
        tableSchema: r.table_schema,
        loadCursor: r.load_cursor,
        loadedRows: Number(r.loaded_rows),
        loadGeneration: Number(r.load_generation),
        reload: r.reload,
        skipHint: r.skip_hint,
        historyBackfill: r.history_backfill,
        keysToBuild: r.keys_to_build,
      },
    ]),
  );
}

/**
 * Creates or updates a table's row in cdc.tables. Clears its skip hint: after any change of
 * shape the next cycle must scan it (MariaDB resets UPDATE_TIME on ALTER TABLE; MySQL 8's
 * instant ADD COLUMN may not).
 */
export async function upsertTableState(
  client: PoolClient,
  t: {
    name: string;
    status: TableState['status'];
    fingerprint: string;
    tableSchema: unknown;
    loadCursor?: KeyTuple | null;
    loadedRows?: number;
  },
  /**
   * The table starts over (rebuilt or new): a load still running for it stops, its history is
   * new, and its mirror was made with every unique key (none is owed).
   */
  reset: boolean,
): Promise<Pick<TableState, 'loadGeneration' | 'reload'>> {
  const { rows } = await client.query(
    `INSERT INTO cdc.tables (table_name, status, schema_fingerprint, table_schema, load_cursor, loaded_rows) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (table_name) DO UPDATE SET status = EXCLUDED.status, schema_fingerprint = EXCLUDED.schema_fingerprint, table_schema = EXCLUDED.table_schema,
       load_cursor = EXCLUDED.load_cursor, loaded_rows = EXCLUDED.loaded_rows, skip_hint = NULL, updated_at = now(),
       load_generation = cdc.tables.load_generation + $7::int, reload = cdc.tables.reload AND NOT $8,
       keys_to_build = CASE WHEN $8 THEN NULL ELSE cdc.tables.keys_to_build END
     RETURNING load_generation, reload`,
    [
      t.name,
      t.status,
      t.fingerprint,
      JSON.stringify(t.tableSchema),
      t.loadCursor === undefined || t.loadCursor === null ? null : JSON.stringify(t.loadCursor),
      t.loadedRows ?? 0,
      reset ? 1 : 0,
      reset,
    ],
  );
  return { loadGeneration: Number(rows[0].load_generation), reload: rows[0].reload };
}

/** `syncId` of the cycle that finishes the load is kept: sinks that bootstrapped before it export the table again. */
export async function saveLoadProgress(
  client: PoolClient,
  table: string,
  cursor: KeyTuple | null,
  loadedRows: number,
  done: boolean,
  syncId: string,
): Promise<void> {
  await client.query(
    "UPDATE cdc.tables SET load_cursor = $2, loaded_rows = $3, status = CASE WHEN $4 THEN 'active' ELSE status END, loaded_sync_id = CASE WHEN $4 THEN $5::bigint ELSE loaded_sync_id END, reload = reload AND NOT $4, updated_at = now() WHERE table_name = $1",
    [table, cursor === null ? null : JSON.stringify(cursor), loadedRows, done, syncId],
  );
}

/** Forgets everything the daemon knows of a table's rows (before a reload). */
export async function clearTableRows(client: PoolClient, table: string): Promise<void> {
  await client.query('DELETE FROM cdc.chunks WHERE table_name = $1', [table]);
  await client.query('DELETE FROM cdc.chunk_rows WHERE table_name = $1', [table]);
  await client.query('DELETE FROM cdc.quarantine WHERE table_name = $1', [table]);
  // (Its mirror is being emptied: callers write the history's owed first versions before.)
  await client.query('UPDATE cdc.tables SET skip_hint = NULL, history_backfill = NULL WHERE table_name = $1', [table]);
}

export async function loadChunks(client: Pool | PoolClient, table: string): Promise<ChunkState[]> {
  const { rows } = await client.query(
    'SELECT chunk_id, position, lower_key, row_count, fingerprint FROM cdc.chunks WHERE table_name = $1 ORDER BY position',
    [table],
  );
  return rows.map((r) => ({
    id: String(r.chunk_id),
    position: Number(r.position),
    lower: r.lower_key,
    count: Number(r.row_count),
    fingerprint: String(r.fingerprint),
  }));
}

async function insertChunks(
  client: PoolClient,
  table: string,
  chunks: Omit<ChunkState, 'position'>[],
  firstPosition: string,
): Promise<void> {
  if (chunks.length === 0) return;
  await client.query(
    `INSERT INTO cdc.chunks (table_name, chunk_id, position, lower_key, row_count, fingerprint)
     SELECT $1, c.id, ${firstPosition} + c.ord, c.lower_key, c.n, c.fp FROM jsonb_to_recordset($2::jsonb) AS c(id bigint, ord bigint, lower_key jsonb, n bigint, fp numeric)`,
    [
      table,
      JSON.stringify(
        chunks.map((c, i) => ({ id: c.id, ord: i + 1, lower_key: c.lower, n: c.count, fp: c.fingerprint })),
      ),
    ],
  );
}

/** Replaces a table's chunk list (it is small: one row per ~10k mirrored rows). */
export async function replaceChunks(
  client: PoolClient,
  table: string,
  chunks: Omit<ChunkState, 'position'>[],
): Promise<void> {
  await client.query('DELETE FROM cdc.chunks WHERE table_name = $1', [table]);
  await insertChunks(client, table, chunks, '0');
}

/** Appends chunks after the existing ones (initial load batches). */
export async function appendChunks(
  client: PoolClient,
  table: string,
  chunks: Omit<ChunkState, 'position'>[],
): Promise<void> {
  await insertChunks(
    client,
    table,
    chunks,
    'COALESCE((SELECT MAX(position) FROM cdc.chunks WHERE table_name = $1), 0)',
  );
}

export async function nextChunkIds(client: Pool | PoolClient, n: number): Promise<string[]> {
  if (n === 0) return [];
  const { rows } = await client.query("SELECT nextval('cdc.chunk_ids')::text AS id FROM generate_series(1, $1)", [n]);
  return rows.map((r) => r.id as string);
}

/** A chunk's new row state: its whole blob, and (`patch`) its hashes changed in place, when only they did. */
export interface ChunkRowsUpdate {
  id: string;
  rows: Buffer;
  /** The records whose hashes changed in place (chunk-rows.ts's encodePatch). */
  patch?: Buffer;
}

/** A patch is folded into its blob once it would pass this share of it. */
const PATCH_SHARE = 8;

/**
 * Saves chunks' row-state blobs (new or replacing). Each blob is its own parameter: the driver
 * sends a Buffer as bytes, where a bytea[] would go as hex text (5.5 s of PostgreSQL's time in a
 * 6M-row load, against 0.8 s). A chunk whose rows only changed in place appends its patch
 * instead (a 1% churn of the university rewrote 171 MB of blobs, 1.3 s of PostgreSQL's time);
 * one whose patch has grown past an eighth of its blob is written whole.
 */
export async function saveChunkRows(client: PoolClient, table: string, chunks: ChunkRowsUpdate[]): Promise<void> {
  const whole = chunks.filter((c) => c.patch === undefined);
  const patched = chunks.filter((c) => c.patch !== undefined);
  for (let i = 0; i < patched.length; i += 100) {
    const some = patched.slice(i, i + 100).filter((c) => c.patch!.length > 0);
    if (some.length === 0) continue;
    const { rows } = await client.query<{ id: string }>(
      `UPDATE cdc.chunk_rows c SET patch = c.patch || v.patch
         FROM (VALUES ${some.map((_, j) => `($${2 * j + 2}::bigint, $${2 * j + 3}::bytea)`).join(', ')}) AS v(id, patch)
        WHERE c.table_name = $1 AND c.chunk_id = v.id
          AND length(c.patch) + length(v.patch) <= length(c.rows) / ${PATCH_SHARE}
       RETURNING c.chunk_id::text AS id`,
      [table, ...some.flatMap((c) => [c.id, c.patch])],
    );
    const done = new Set(rows.map((r) => r.id));
    whole.push(...some.filter((c) => !done.has(c.id)));
  }
  for (let i = 0; i < whole.length; i += 100) {
    const some = whole.slice(i, i + 100);
    await client.query(
      `INSERT INTO cdc.chunk_rows (table_name, chunk_id, rows) VALUES ${some.map((_, j) => `($1, $${2 * j + 2}, $${2 * j + 3})`).join(', ')}
       ON CONFLICT (table_name, chunk_id) DO UPDATE SET rows = EXCLUDED.rows, patch = ''::bytea`,
      [table, ...some.flatMap((c) => [c.id, c.rows])],
    );
  }
}

/**
 * The stored row-state blobs of several chunks of a table, their patches applied, in one binary
 * COPY (see copyOutRows): per chunk its id and one value, the patch's length (int4) then the
 * patch then the blob. A chunk with no stored state is left out (its state is empty). COPY takes
 * no parameters: the table name goes in as a literal escaped by the driver, the chunk ids as the
 * integers they are. Each statement costs the cycle's thread a socket write and a wake-up of
 * PostgreSQL; one per chunk was 0.3 s of a university churn cycle, which reads the states of its
 * 550 chunks.
 */
export async function loadChunkRowsOf(
  client: PoolClient,
  table: string,
  chunkIds: string[],
): Promise<Map<string, Buffer>> {
  if (chunkIds.some((id) => !/^\d+$/.test(id))) throw new Error(`Not chunk ids: ${chunkIds.join(', ')}`);
  const states = new Map<string, Buffer>();
  if (chunkIds.length === 0) return states;
  const rows = await copyOutRows(
    client,
    `SELECT chunk_id::text, int4send(length(patch)) || patch || rows FROM cdc.chunk_rows WHERE table_name = ${client.escapeLiteral(table)} AND chunk_id IN (${chunkIds.join(', ')})`,
  );
  for (const [id, value] of rows) if (id && value) states.set(id.toString('latin1'), withPatch(value));
  return states;
}

/** A stored value (the patch's length, the patch, the blob) as the blob with its patch applied. */
function withPatch(value: Buffer): Buffer {
  const patchBytes = value.readUInt32BE(0);
  const rows = value.subarray(4 + patchBytes);
  return patchBytes === 0 ? rows : applyPatch(rows, value.subarray(4, 4 + patchBytes));
}

/**
 * Folds chunk `from` into chunk `to` (merging neighbours): their row blobs, patches applied,
 * concatenate (a patch's positions are its own blob's).
 */
export async function appendChunkRows(client: PoolClient, table: string, from: string, to: string): Promise<void> {
  const states = await loadChunkRowsOf(client, table, [to, from]);
  const rows = Buffer.concat([states.get(to) ?? Buffer.alloc(0), states.get(from) ?? Buffer.alloc(0)]);
  await saveChunkRows(client, table, [{ id: to, rows }]);
  await client.query('DELETE FROM cdc.chunk_rows WHERE table_name = $1 AND chunk_id = $2', [table, from]);
}

/** Remembers, for each fully scanned table, the UPDATE_TIME reading taken before the scan. */
export async function saveSkipHints(client: PoolClient, hints: Map<string, SkipHint | null>): Promise<void> {
  if (hints.size === 0) return;
  await client.query(
    'UPDATE cdc.tables t SET skip_hint = h.hint FROM jsonb_each($1::jsonb) AS h(name, hint) WHERE t.table_name = h.name',
    [JSON.stringify(Object.fromEntries(hints))],
  );
}
