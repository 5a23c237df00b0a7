import type { PoolClient } from 'pg';
import type { TablePlan } from '../catalog/plan-table';
import type { MappedColumn } from '../catalog/type-mapping';
import { cdcError } from '../errors';
import { createHistoryIndexes, createMirrorIndexes, uniqueKeyDdl } from './mirror-indexes';
import {
  type MirrorOptions,
  ROW_HASH_COLUMN,
  historyName,
  identityColumns,
  mirrorName,
  objectName,
} from './mirror-names';
import { pgi } from './pg-copy';

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
