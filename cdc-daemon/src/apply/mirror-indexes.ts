import type { PoolClient } from 'pg';
import type { TablePlan } from '../catalog/plan-table';
import type { TableSchema } from '../catalog/table-schema';
import { type MirrorOptions, historyName, identityColumns, mirrorName, objectName } from './mirror-names';
import { pgi } from './pg-copy';

/** A unique key other than the row identity: checked at commit (a value may move between rows within one cycle). */
export function uniqueKeyDdl(name: string, columns: string[]): string {
  return `CONSTRAINT ${pgi(name)} UNIQUE (${columns.map(pgi).join(', ')}) DEFERRABLE INITIALLY DEFERRED`;
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
