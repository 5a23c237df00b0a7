import { type MappedColumn, type MappingOptions, mapColumn } from './type-mapping';
import type { TableSchema } from './table-schema';
import { chunkFingerprintExpr, rowCanonExpr, rowHashExpr, rowHashHexExpr } from '../snapshot/mysql-sql';
import { schemaFingerprint } from './read-catalog';

/** Everything a cycle needs to read, diff and write one table, derived once from its schema. */
export interface TablePlan {
  schema: TableSchema;
  name: string;
  columns: MappedColumn[];
  /** Positions of the identity columns in `columns` (empty for keyless tables). */
  keyIndexes: number[];
  keyed: boolean;
  /** MySQL expression of a row's canonical form (bytes): keyed rows are fetched with it. */
  canonExpr: string;
  /** MySQL expression of a chunk's fingerprint (aggregate, unsigned integer). */
  fingerprintExpr: string;
  /** Keyless tables: the 64-bit row hash (unsigned integer; the fingerprint is its SUM)... */
  hashExpr: string;
  /** ...and the same hash as 16 hex digits, for row fetches. */
  hashHexExpr: string;
  /** Result aliases (c0, c1, ...) whose values the driver must return as bytes. */
  binaryAliases: Set<string>;
  fingerprint: string;
  /**
   * The key columns are the table's first columns, integers read as they are: their values are
   * the first pieces of the canonical form (digits, never its separator, never NULL), so a walk
   * need not fetch them besides it (see sendRangeKeys and keysFromCanon).
   */
  keysLeadCanon: boolean;
  /** Per key column: an integer type, whose bounds and lookups are numeric literals (see keyParam). */
  integerKeys: boolean[];
  /**
   * A key of several columns led by an integer one: chunks and load ranges end where its value
   * changes, at a bound of that value alone (diff/chunk-cut.ts). Text keys never do: where a
   * value ends is their collation's to say, not Node's.
   */
  prefixBounds: boolean;
}

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'bigint']);

export function planTable(schema: TableSchema, options: MappingOptions): TablePlan {
  const columns = schema.columns.map((c) => mapColumn(c, options));
  const keyIndexes = schema.keyColumns.map((k) => columns.findIndex((c) => c.name === k));
  const keyed = schema.keyKind !== 'none';
  const canonExpr = rowCanonExpr(columns, true);
  const integerKeys = keyIndexes.map((k) => INTEGER_TYPES.has(schema.columns[k]!.dataType));
  return {
    schema,
    name: schema.name,
    columns,
    keyIndexes,
    keyed,
    canonExpr,
    fingerprintExpr: keyed ? chunkFingerprintExpr(columns) : `SUM(${rowHashExpr(columns)})`,
    hashExpr: rowHashExpr(columns),
    hashHexExpr: rowHashHexExpr(columns),
    binaryAliases: new Set(columns.flatMap((c, i) => (c.kind === 'binary' ? [`c${i}`] : []))),
    fingerprint: schemaFingerprint(schema),
    integerKeys,
    prefixBounds: keyed && keyIndexes.length > 1 && integerKeys[0] === true,
    keysLeadCanon:
      keyed &&
      keyIndexes.every((k, i) => {
        const c = schema.columns[k]!;
        const m = columns[k]!;
        // ZEROFILL pads the value read but maybe not the one CONCAT_WS formats: left out.
        return (
          k === i &&
          integerKeys[i] &&
          !c.columnType.includes('zerofill') &&
          !c.nullable &&
          m.select('x') === 'x' &&
          !m.canon &&
          !m.variableLength
        );
      }),
  };
}
