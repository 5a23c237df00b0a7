import { createHash } from 'node:crypto';
import type { PoolClient } from 'pg';
import type { TablePlan } from '../catalog/plan-table';
import type { TableSchema } from '../catalog/table-schema';
import type { MappedColumn } from '../catalog/type-mapping';
import { cdcError } from '../errors';
import { pgi } from './pg-copy';

export interface MirrorOptions {
  targetSchema: string;
  history: boolean;
}

/** Hidden column of keyless mirrors: the row's hash, to find one of several identical rows. */
export const ROW_HASH_COLUMN = '_cdc_row_hash';
export const HISTORY_COLUMNS = ['valid_from', 'valid_to', 'op', 'sync_id'] as const;

export function mirrorName(plan: TablePlan, o: MirrorOptions): string {
  return `${pgi(o.targetSchema)}.${pgi(plan.name)}`;
}

export function historyName(plan: TablePlan): string {
  return `history.${pgi(plan.name)}`;
}

/** A constraint or index name under PostgreSQL's 63-byte limit, stable for the same input. */
function objectName(...parts: string[]): string {
  const name = parts.join('_');
  return name.length <= 60
    ? name
    : `${name.slice(0, 47)}_${createHash('sha1').update(name).digest('hex').slice(0, 12)}`;
}

function isDateLike(c: MappedColumn): boolean {
  return c.kind === 'date' || c.kind === 'timestamp' || c.kind === 'timestamptz';
}

function columnDdl(c: MappedColumn, withConstraints: boolean): string {
  // Zero dates arrive as NULL, so date-like columns stay nullable whatever MySQL says.
  const notNull = withConstraints && !c.nullable && !isDateLike(c) ? ' NOT NULL' : '';
  const check = withConstraints && c.check ? ` CHECK (${c.check.replace('%I', pgi(c.name))})` : '';
  return `${pgi(c.name)} ${c.pgType}${notNull}${check}`;
}

function mirrorDdl(plan: TablePlan, name: string): string {
  const defs = plan.columns.map((c) => columnDdl(c, true));
  if (!plan.keyed) defs.push(`${pgi(ROW_HASH_COLUMN)} bigint NOT NULL`);
  const key = plan.schema.keyColumns.map(pgi).join(', ');
  if (plan.schema.keyKind === 'primary') defs.push(`PRIMARY KEY (${key})`);
  // A unique identity is the ON CONFLICT arbiter, so it must not be deferrable.
  if (plan.schema.keyKind === 'unique')
    defs.push(`CONSTRAINT ${pgi(objectName(plan.name, 'identity'))} UNIQUE (${key})`);
  // Other unique keys are checked at commit: a value may move between rows within one cycle.
  for (const u of plan.schema.uniqueKeys) defs.push(uniqueKeyDdl(objectName(plan.name, u.name), u.columns));
  return `CREATE TABLE ${name} (\n  ${defs.join(',\n  ')}\n)`;
}

/** A unique key other than the row identity: checked at commit (a value may move between rows within one cycle). */
function uniqueKeyDdl(name: string, columns: string[]): string {
  return `CONSTRAINT ${pgi(name)} UNIQUE (${columns.map(pgi).join(', ')}) DEFERRABLE INITIALLY DEFERRED`;
}

/** Percent of each history page filled by inserts; the rest takes the closed versions. */
const HISTORY_FILLFACTOR = 85;

function historyDdl(plan: TablePlan): string {
  const defs = ['"_version" bigserial PRIMARY KEY', ...plan.columns.map((c) => columnDdl(c, false))];
  if (!plan.keyed) defs.push(`${pgi(ROW_HASH_COLUMN)} bigint NOT NULL`);
  defs.push(
    'valid_from timestamptz NOT NULL',
    'valid_to timestamptz',
    "op text NOT NULL CHECK (op IN ('insert', 'update', 'delete'))",
    'sync_id bigint NOT NULL',
  );
  // Closing a version sets its valid_to in place: with room left on each page and no index
  // reading valid_to, that is a HOT update (no new index entries), see createHistoryIndexes.
  return `CREATE TABLE IF NOT EXISTS ${historyName(plan)} (\n  ${defs.join(',\n  ')}\n) WITH (fillfactor = ${HISTORY_FILLFACTOR})`;
}

function identityColumns(plan: TablePlan): string[] {
  return plan.keyed ? plan.schema.keyColumns : [ROW_HASH_COLUMN];
}

async function tableExists(client: PoolClient, schema: string, table: string): Promise<boolean> {
  const { rows } = await client.query(
    'SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2',
    [schema, table],
  );
  return rows.length > 0;
}

async function columnTypes(client: PoolClient, regclass: string): Promise<Map<string, string>> {
  const { rows } = await client.query(
    'SELECT attname, format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped',
    [regclass],
  );
  return new Map(rows.map((r) => [r.attname as string, r.t as string]));
}

/**
 * Checks that a table an operator created (partitioned, with extra indexes...) can hold the
 * mirror: every column with exactly the mapped type (compared through PostgreSQL's own
 * format_type), and an immediate unique index on the row identity for ON CONFLICT.
 */
async function checkAdoptable(client: PoolClient, plan: TablePlan, o: MirrorOptions): Promise<void> {
  const probe = pgi(`_cdc_probe_${plan.name}`.slice(0, 60));
  await client.query(
    `CREATE TEMP TABLE ${probe} (${[...plan.columns.map((c) => columnDdl(c, false)), ...(plan.keyed ? [] : [`${pgi(ROW_HASH_COLUMN)} bigint`])].join(', ')})`,
  );
  const wanted = await columnTypes(client, `pg_temp.${probe}`);
  await client.query(`DROP TABLE pg_temp.${probe}`);
  const existing = await columnTypes(client, mirrorName(plan, o));
  const problems: string[] = [];
  for (const [col, type] of wanted) {
    const have = existing.get(col);
    if (have === undefined) problems.push(`column ${col} is missing (want ${type})`);
    else if (have !== type) problems.push(`column ${col} is ${have}, want ${type}`);
  }
  const { rows } = await client.query(
    `SELECT 1 FROM pg_index i WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indimmediate
        AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) = $2::text[]`,
    [mirrorName(plan, o), [...identityColumns(plan)].sort()],
  );
  if (rows.length === 0)
    problems.push(`no immediate unique index or primary key on (${identityColumns(plan).join(', ')})`);
  if (problems.length > 0) {
    throw cdcError(
      'TARGET_TABLE_MISMATCH',
      `The existing table ${o.targetSchema}.${plan.name} does not fit MySQL table ${plan.name}: ${problems.join('; ')}. Fix or drop it; the daemon then adopts or creates it.`,
      { table: plan.name, problems },
    );
  }
}

/** Creates the mirror and history tables, or adopts a mirror an operator created. */
export async function ensureMirror(
  client: PoolClient,
  plan: TablePlan,
  o: MirrorOptions,
): Promise<'created' | 'adopted'> {
  let outcome: 'created' | 'adopted' = 'created';
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${pgi(o.targetSchema)}`);
  if (await tableExists(client, o.targetSchema, plan.name)) {
    await checkAdoptable(client, plan, o);
    outcome = 'adopted';
  } else {
    await client.query(mirrorDdl(plan, mirrorName(plan, o)));
    await createMirrorIndexes(client, plan, o);
    if (!plan.keyed)
      await client.query(
        `CREATE INDEX IF NOT EXISTS ${pgi(objectName(plan.name, 'row_hash'))} ON ${mirrorName(plan, o)} (${pgi(ROW_HASH_COLUMN)})`,
      );
  }
  if (o.history) {
    await client.query(historyDdl(plan));
    await createHistoryIndexes(client, plan);
  }
  return outcome;
}

/**
 * The foreign keys that need an index of their own in the mirror, for the reports' joins: by
 * InnoDB's rule, one whose columns lead an index the mirror has already (its key, a unique key,
 * or the index of a foreign key before it) is served by that index. MySQL made no index for
 * them either: `attendance`'s schedule_id leads its primary key, and the index PostgreSQL
 * built for it anyway took 1.3-1.8 s of a university load (4.96M rows: its three indexes
 * 4.9-5.4 s, the two it needs 3.6-3.7 s), and was kept up by every merge after.
 */
export function foreignKeyIndexes(plan: TablePlan): TableSchema['foreignKeys'] {
  const indexed: string[][] = plan.schema.uniqueKeys.map((u) => u.columns);
  if (plan.schema.keyKind !== 'none') indexed.unshift(plan.schema.keyColumns);
  const leads = (index: string[], cols: string[]) =>
    cols.length <= index.length && cols.every((c, i) => index[i] === c);
  const own: TableSchema['foreignKeys'] = [];
  for (const fk of plan.schema.foreignKeys) {
    if (indexed.some((index) => leads(index, fk.columns))) continue;
    indexed.push(fk.columns);
    own.push(fk);
  }
  return own;
}

/** The mirror's secondary indexes (see foreignKeyIndexes). */
export async function createMirrorIndexes(client: PoolClient, plan: TablePlan, o: MirrorOptions): Promise<void> {
  for (const fk of foreignKeyIndexes(plan))
    await client.query(
      `CREATE INDEX IF NOT EXISTS ${pgi(objectName(plan.name, fk.name, 'fk'))} ON ${mirrorName(plan, o)} (${fk.columns.map(pgi).join(', ')})`,
    );
}

/**
 * A bulk load into the empty mirror builds its secondary indexes once at the end: maintained per
 * row, the two of attendance made its COPY 3x slower (a student id index takes random inserts).
 * Every foreign key's index goes, also one foreignKeyIndexes no longer asks for (an older
 * version built them all): a reload leaves the mirror with the indexes it needs.
 */
export async function dropMirrorIndexes(client: PoolClient, plan: TablePlan, o: MirrorOptions): Promise<void> {
  for (const fk of plan.schema.foreignKeys)
    await client.query(`DROP INDEX IF EXISTS ${pgi(o.targetSchema)}.${pgi(objectName(plan.name, fk.name, 'fk'))}`);
}

/**
 * A first load builds the mirror's other unique keys at its end too, as it does its primary key
 * (see dropMirrorPrimaryKey): kept during the COPY, `enrollments`' unique (student_id,
 * course_id) made PostgreSQL insert each of 900,000 rows into it at a random place (COPY with
 * the key 2.7-2.8 s, without it and the key built after 2.2 s). Only the constraints the daemon
 * created (by their names) are dropped, none another mirror's foreign key refers to, and their
 * names are kept in cdc.tables.keys_to_build before they go: an adopted table never gets a key
 * its operator left out, and a load resumed after a crash still builds them.
 */
export async function dropMirrorUniqueKeys(client: PoolClient, plan: TablePlan, o: MirrorOptions): Promise<void> {
  const names = plan.schema.uniqueKeys.map((u) => objectName(plan.name, u.name));
  if (names.length === 0) return;
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.conname AS name FROM pg_constraint c
      WHERE c.conrelid = $1::regclass AND c.contype = 'u' AND c.conname = ANY($2::text[])
        AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)`,
    [mirrorName(plan, o), names],
  );
  if (rows.length === 0) return;
  await client.query(
    `UPDATE cdc.tables SET keys_to_build = ARRAY(SELECT DISTINCT unnest(COALESCE(keys_to_build, '{}') || $2::text[]))
      WHERE table_name = $1`,
    [plan.name, rows.map((r) => r.name)],
  );
  for (const r of rows) await client.query(`ALTER TABLE ${mirrorName(plan, o)} DROP CONSTRAINT ${pgi(r.name)}`);
}

/**
 * Builds the unique keys dropMirrorUniqueKeys dropped, at the load's end and, for one that could
 * not be built then, in the cycles after it; returns the names still to build. A key the mirror
 * holds a value of twice is left for later (a savepoint keeps the transaction): the load read
 * its batches at different instants, and a value MySQL moved from a row already loaded to one
 * loaded after is held twice until a cycle brings the first row in line (before, the batch that
 * brought the second copy failed its commit, and the load with it, at every cycle).
 */
export async function buildUniqueKeys(client: PoolClient, plan: TablePlan, o: MirrorOptions): Promise<string[]> {
  const { rows: owed } = await client.query<{ names: string[] | null }>(
    'SELECT keys_to_build AS names FROM cdc.tables WHERE table_name = $1',
    [plan.name],
  );
  const names = owed[0]?.names ?? [];
  if (names.length === 0) return [];
  const { rows } = await client.query<{ name: string }>(
    "SELECT conname AS name FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'u'",
    [mirrorName(plan, o)],
  );
  const have = new Set(rows.map((r) => r.name));
  const left: string[] = [];
  for (const name of names) {
    // A key MySQL no longer has, or one the mirror has again (a rebuilt mirror), is done.
    const key = plan.schema.uniqueKeys.find((u) => objectName(plan.name, u.name) === name);
    if (key === undefined || have.has(name)) continue;
    await client.query('SAVEPOINT build_unique_key');
    try {
      await client.query(`ALTER TABLE ${mirrorName(plan, o)} ADD ${uniqueKeyDdl(name, key.columns)}`);
      await client.query('RELEASE SAVEPOINT build_unique_key');
    } catch (err) {
      if ((err as { code?: string }).code !== '23505') throw err;
      await client.query('ROLLBACK TO SAVEPOINT build_unique_key');
      left.push(name);
    }
  }
  await client.query('UPDATE cdc.tables SET keys_to_build = $2 WHERE table_name = $1', [
    plan.name,
    left.length > 0 ? left : null,
  ]);
  return left;
}

/** The name PostgreSQL gives the primary key mirrorDdl declares (undefined past its 63 bytes). */
function defaultPrimaryKeyName(plan: TablePlan): string | undefined {
  const name = `${plan.name}_pkey`;
  return Buffer.byteLength(name) <= 63 ? name : undefined;
}

/**
 * A first load builds the mirror's primary key at its end too: COPY of `attendance`'s 4.8M rows
 * took 9.7 s with the key maintained row by row, 5.9 s with the key built after it. Only a key
 * the daemon created (by its default name) is dropped, and only while no other mirror's foreign
 * key refers to it. Batches read disjoint key ranges, so the key built at the end holds; a load
 * that went wrong would fail there, loudly, instead of mirroring a duplicate.
 */
export async function dropMirrorPrimaryKey(client: PoolClient, plan: TablePlan, o: MirrorOptions): Promise<void> {
  const name = defaultPrimaryKeyName(plan);
  if (plan.schema.keyKind !== 'primary' || name === undefined) return;
  if ((await primaryKeyOf(client, mirrorName(plan, o))) !== name) return;
  const { rows: referenced } = await client.query('SELECT 1 FROM pg_constraint WHERE confrelid = $1::regclass', [
    mirrorName(plan, o),
  ]);
  if (referenced.length === 0) await client.query(`ALTER TABLE ${mirrorName(plan, o)} DROP CONSTRAINT ${pgi(name)}`);
}

/** Builds the primary key dropMirrorPrimaryKey dropped (a load resumed after a crash included). */
export async function restoreMirrorPrimaryKey(client: PoolClient, plan: TablePlan, o: MirrorOptions): Promise<void> {
  const name = defaultPrimaryKeyName(plan);
  if (plan.schema.keyKind !== 'primary' || name === undefined) return;
  if ((await primaryKeyOf(client, mirrorName(plan, o))) === undefined)
    await client.query(
      `ALTER TABLE ${mirrorName(plan, o)} ADD CONSTRAINT ${pgi(name)} PRIMARY KEY (${plan.schema.keyColumns.map(pgi).join(', ')})`,
    );
}

/**
 * The history's one index, for "as of" lookups; it also finds a key's open version (a key has
 * few versions). An index on the open versions (`WHERE valid_to IS NULL`) made every close a
 * non-HOT update, with new entries in each index: a university's 1% churn closed 46,080 versions
 * in 1.1-1.4 s, against 0.5 s without it (postgres/010-history-hot-closes.sql drops it).
 */
export async function createHistoryIndexes(client: PoolClient, plan: TablePlan): Promise<void> {
  const id = identityColumns(plan).map(pgi).join(', ');
  await client.query(
    `CREATE INDEX IF NOT EXISTS ${pgi(objectName(plan.name, 'asof'))} ON ${historyName(plan)} (${id}, valid_from)`,
  );
  if ((await primaryKeyOf(client, historyName(plan))) === undefined)
    await client.query(`ALTER TABLE ${historyName(plan)} ADD PRIMARY KEY ("_version")`);
}

/**
 * A bulk load builds the history's indexes once at the end, which beats maintaining them per row;
 * its primary key too (the versions' numbers come from the sequence, so they are unique).
 */
export async function dropHistoryIndexes(client: PoolClient, plan: TablePlan): Promise<void> {
  // (The open-version index of older versions is gone already: migration 010 runs first.)
  await client.query(`DROP INDEX IF EXISTS history.${pgi(objectName(plan.name, 'asof'))}`);
  const pk = await primaryKeyOf(client, historyName(plan));
  if (pk !== undefined) await client.query(`ALTER TABLE ${historyName(plan)} DROP CONSTRAINT ${pgi(pk)}`);
}

/** The name of a table's primary key (`table` quoted and qualified), if it has one. */
async function primaryKeyOf(client: PoolClient, table: string): Promise<string | undefined> {
  const { rows } = await client.query<{ name: string }>(
    "SELECT conname AS name FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'",
    [table],
  );
  return rows[0]?.name;
}

/** Adds columns MySQL gained to the mirror and its history. */
export async function addColumns(
  client: PoolClient,
  plan: TablePlan,
  names: string[],
  o: MirrorOptions,
): Promise<void> {
  for (const c of plan.columns.filter((x) => names.includes(x.name))) {
    // NOT NULL would fail on the existing rows before the rehash fills them: add nullable.
    await client.query(
      `ALTER TABLE ${mirrorName(plan, o)} ADD COLUMN IF NOT EXISTS ${columnDdl({ ...c, nullable: true }, true)}`,
    );
    if (o.history)
      await client.query(`ALTER TABLE ${historyName(plan)} ADD COLUMN IF NOT EXISTS ${columnDdl(c, false)}`);
  }
}

/**
 * Drops a mirror (rebuild or retirement). Its history is kept, renamed with the sync id, since
 * a rebuilt table may no longer fit it.
 */
export async function dropMirror(client: PoolClient, table: string, o: MirrorOptions, syncId: string): Promise<void> {
  // CASCADE drops foreign keys of other mirrors pointing here; ensureForeignKeys re-adds them.
  await client.query(`DROP TABLE IF EXISTS ${pgi(o.targetSchema)}.${pgi(table)} CASCADE`);
  if (await tableExists(client, 'history', table))
    await client.query(`ALTER TABLE history.${pgi(table)} RENAME TO ${pgi(`${table}@${syncId}`.slice(0, 63))}`);
}

/**
 * With CDC_MIRROR_FOREIGN_KEYS: MySQL's foreign keys between mirrored tables, DEFERRABLE
 * INITIALLY DEFERRED (a cycle applies parents and children in any order; checks run at commit)
 * and NOT VALID (a parent being rebuilt is empty for a moment; new writes are still checked).
 */
export async function ensureForeignKeys(client: PoolClient, plans: TablePlan[], o: MirrorOptions): Promise<void> {
  const mirrored = new Set(plans.map((p) => p.name));
  for (const plan of plans) {
    for (const fk of plan.schema.foreignKeys.filter((k) => mirrored.has(k.refTable))) {
      const name = objectName(plan.name, fk.name);
      const { rows } = await client.query(
        'SELECT 1 FROM pg_constraint WHERE conname = $1 AND conrelid = $2::regclass',
        [name, mirrorName(plan, o)],
      );
      if (rows.length > 0) continue;
      await client.query(
        `ALTER TABLE ${mirrorName(plan, o)} ADD CONSTRAINT ${pgi(name)} FOREIGN KEY (${fk.columns.map(pgi).join(', ')})
         REFERENCES ${pgi(o.targetSchema)}.${pgi(fk.refTable)} (${fk.refColumns.map(pgi).join(', ')}) DEFERRABLE INITIALLY DEFERRED NOT VALID`,
      );
    }
  }
}

/** Parents before children, so loads with foreign keys never commit an orphan. */
export function parentsFirst(plans: TablePlan[]): TablePlan[] {
  const byName = new Map(plans.map((p) => [p.name, p]));
  const out: TablePlan[] = [];
  const seen = new Set<string>();
  const visit = (p: TablePlan, path: Set<string>) => {
    if (seen.has(p.name) || path.has(p.name)) return;
    path.add(p.name);
    for (const fk of p.schema.foreignKeys) {
      const parent = byName.get(fk.refTable);
      if (parent && parent !== p) visit(parent, path);
    }
    seen.add(p.name);
    out.push(p);
  };
  for (const p of plans) visit(p, new Set());
  return out;
}
