import { createHash } from 'node:crypto';
import type { RowDataPacket } from 'mysql2';
import type { Connection } from 'mysql2/promise';
import type { MysqlColumn, TableSchema } from './table-schema';
import { isMariadb } from '../snapshot/mysql-source';

interface Filter {
  tables?: string[];
  excludeTables: string[];
  /** `table.column` names left out of the mirror (not read at all); key columns stay. */
  excludeColumns?: string[];
}

/**
 * Reads every base table of the current database from information_schema (SELECT privilege is
 * enough) and picks each table's row identity: the primary key, else the first unique key whose
 * columns are all NOT NULL, else none (rows are then a multiset of full-row hashes).
 */
export async function readCatalog(conn: Connection, filter: Filter): Promise<TableSchema[]> {
  const [tableRows] = await conn.query<RowDataPacket[]>(
    "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
  );
  const wanted = tableRows
    .map((r) => String(r.name))
    .filter((t) => (filter.tables ? filter.tables.includes(t) : true) && !filter.excludeTables.includes(t));
  if (wanted.length === 0) return [];

  const [columnRows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_NAME AS t, COLUMN_NAME AS name, LOWER(DATA_TYPE) AS dataType, LOWER(COLUMN_TYPE) AS columnType, IS_NULLABLE AS nullable,
            CHARACTER_MAXIMUM_LENGTH AS charMax, NUMERIC_PRECISION AS numPrec, NUMERIC_SCALE AS numScale, DATETIME_PRECISION AS dtPrec,
            CHARACTER_SET_NAME AS charset
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION`,
  );
  const [indexRows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_NAME AS t, INDEX_NAME AS idx, NON_UNIQUE AS nonUnique, COLUMN_NAME AS col, SUB_PART AS subPart
       FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
  );
  const [fkRows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_NAME AS t, CONSTRAINT_NAME AS name, COLUMN_NAME AS col, REFERENCED_TABLE_NAME AS refTable, REFERENCED_COLUMN_NAME AS refCol
       FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`,
  );
  const jsonColumns = await readMariadbJsonColumns(conn);

  return wanted.map((name) => {
    const columns: MysqlColumn[] = columnRows
      .filter((r) => r.t === name)
      .map((r) => ({
        name: String(r.name),
        dataType: String(r.dataType),
        columnType: String(r.columnType),
        nullable: r.nullable === 'YES',
        jsonCheck: jsonColumns.has(`${name}.${r.name}`),
        charMaxLength: r.charMax === null ? null : Number(r.charMax),
        numericPrecision: r.numPrec === null ? null : Number(r.numPrec),
        numericScale: r.numScale === null ? null : Number(r.numScale),
        datetimePrecision: r.dtPrec === null ? null : Number(r.dtPrec),
        charset: r.charset === null ? null : String(r.charset),
      }));
    const indexes = new Map<string, { unique: boolean; columns: string[]; prefix: boolean }>();
    for (const r of indexRows.filter((x) => x.t === name)) {
      const idx = indexes.get(r.idx) ?? { unique: Number(r.nonUnique) === 0, columns: [], prefix: false };
      idx.columns.push(String(r.col));
      idx.prefix ||= r.subPart !== null;
      indexes.set(String(r.idx), idx);
    }
    const notNull = new Set(columns.filter((c) => !c.nullable).map((c) => c.name));
    const primary = indexes.get('PRIMARY');
    const uniques = [...indexes.entries()]
      .filter(([n, i]) => n !== 'PRIMARY' && i.unique)
      .map(([n, i]) => ({ name: n, ...i }));
    const identity = primary
      ? { name: 'PRIMARY', ...primary }
      : uniques.find((u) => !u.prefix && u.columns.every((c) => notNull.has(c)));
    const fks = new Map<string, TableSchema['foreignKeys'][number]>();
    for (const r of fkRows.filter((x) => x.t === name)) {
      const fk = fks.get(r.name) ?? { name: String(r.name), columns: [], refTable: String(r.refTable), refColumns: [] };
      fk.columns.push(String(r.col));
      fk.refColumns.push(String(r.refCol));
      fks.set(String(r.name), fk);
    }
    // Excluded columns go before anything is planned: the mirror, its history, the outbox and
    // the sinks never see them. The row identity keeps its columns whatever the list says.
    const left = new Set(
      columns
        .map((c) => c.name)
        .filter((c) => !filter.excludeColumns?.includes(`${name}.${c}`) || identity?.columns.includes(c)),
    );
    const kept = (cols: string[]) => cols.every((c) => left.has(c));
    return {
      name,
      columns: columns.filter((c) => left.has(c.name)),
      keyKind: primary ? 'primary' : identity ? 'unique' : 'none',
      keyColumns: identity?.columns ?? [],
      ...(identity ? { keyIndex: identity.name } : {}),
      uniqueKeys: uniques
        .filter((u) => u.name !== identity?.name && kept(u.columns))
        .map((u) => ({ name: u.name, columns: u.columns })),
      foreignKeys: [...fks.values()].filter((fk) => kept(fk.columns)),
    };
  });
}

/** MariaDB's JSON type is LONGTEXT plus a json_valid() CHECK; MySQL 8 has a real JSON type. */
async function readMariadbJsonColumns(conn: Connection): Promise<Set<string>> {
  if (!(await isMariadb(conn))) return new Set();
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT TABLE_NAME AS t, CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()',
  );
  const out = new Set<string>();
  for (const r of rows) {
    const m = /^json_valid\(`((?:[^`]|``)+)`\)$/i.exec(String(r.clause).trim());
    if (m?.[1]) out.add(`${r.t}.${m[1].replace(/``/g, '`')}`);
  }
  return out;
}

/** Changes when a column is added, dropped, retyped or reordered, or the row identity changes. */
export function schemaFingerprint(t: TableSchema): string {
  const shape = {
    columns: t.columns.map((c) => [c.name, c.columnType, c.nullable, c.jsonCheck]),
    keyKind: t.keyKind,
    key: t.keyColumns,
  };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 32);
}
