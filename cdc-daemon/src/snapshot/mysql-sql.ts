import { mysqlIdent } from '../../../lib/sql-identifiers';
import type { MappedColumn } from '../catalog/type-mapping';

/** A MySQL identifier, quoted (the daemon's short name for lib's mysqlIdent). */
export const qi = mysqlIdent;

/**
 * The 64-bit row hash MySQL computes for chunk fingerprints. The canonical form is collision-free:
 * every variable-length value is preceded by its byte length (no separator ambiguity), NULLs are
 * carried by a bitmap (NULL, '' and 'NULL' all differ), long values are pre-hashed (CONCAT never
 * reaches max_allowed_packet), and the binary separator keeps every value's own bytes.
 * The hash is SHA-1: non-linear, so the XOR of many rows still sees a value swapped between two
 * of them (CRC32's XOR cannot), and measured here twice as fast as MD5 (700,000 rows: 0.62 s
 * against 1.21 s; MySQL's CRC32 scan 0.31 s), CPUs having SHA instructions and none for MD5.
 */
export function rowHashExpr(columns: MappedColumn[]): string {
  return `CAST(CONV(${rowHashHexExpr(columns)}, 16, 10) AS UNSIGNED)`;
}

/** The same 64 bits as 16 hex digits: what row fetches return (no number conversion per row). */
export function rowHashHexExpr(columns: MappedColumn[]): string {
  const pieces: string[] = [];
  for (const c of columns) {
    const v = c.select(qi(c.name));
    if (!c.variableLength) {
      pieces.push(v);
      continue;
    }
    pieces.push(`LENGTH(${v})`, c.longValue ? `IF(LENGTH(${v}) > 64, SHA1(${v}), ${v})` : v);
  }
  const nullable = columns.filter((c) => c.nullable);
  if (nullable.length > 0) pieces.push(`CONCAT(${nullable.map((c) => `ISNULL(${qi(c.name)})`).join(', ')})`);
  return `LEFT(SHA1(CONCAT_WS(_binary'#', ${pieces.join(', ')})), 16)`;
}

/** A key value as stored in chunk bounds: text, or bytes for binary key columns. */
export type KeyValue = string | { hex: string };
export type KeyTuple = KeyValue[];

export function keyParam(v: KeyValue): string | Buffer {
  return typeof v === 'string' ? v : Buffer.from(v.hex, 'hex');
}

/**
 * `key >= lower` (inclusive) and `key < upper` (exclusive) over a composite key, expanded into
 * ORs of equalities (pt-table-checksum's form: MySQL and MariaDB both use the index for it).
 * Comparison happens in MySQL only, so its collation decides, as it must.
 */
export function keyRangePredicate(
  keyColumns: string[],
  lower: KeyTuple | null,
  upper: KeyTuple | null,
): { sql: string; params: (string | Buffer)[] } {
  const parts: string[] = [];
  const params: (string | Buffer)[] = [];
  const bound = (tuple: KeyTuple, lastOp: '>=' | '<', strictOp: '>' | '<') => {
    const ors: string[] = [];
    for (let i = 0; i < keyColumns.length; i++) {
      const ands: string[] = [];
      for (let j = 0; j < i; j++) {
        ands.push(`${qi(keyColumns[j]!)} = ?`);
        params.push(keyParam(tuple[j]!));
      }
      ands.push(`${qi(keyColumns[i]!)} ${i === keyColumns.length - 1 ? lastOp : strictOp} ?`);
      params.push(keyParam(tuple[i]!));
      ors.push(ands.length === 1 ? ands[0]! : `(${ands.join(' AND ')})`);
    }
    parts.push(ors.length === 1 ? ors[0]! : `(${ors.join(' OR ')})`);
  };
  if (lower) bound(lower, '>=', '>');
  if (upper) bound(upper, '<', '<');
  return { sql: parts.length > 0 ? parts.join(' AND ') : '1 = 1', params };
}

export function orderByKey(keyColumns: string[]): string {
  return keyColumns.map(qi).join(', ');
}
