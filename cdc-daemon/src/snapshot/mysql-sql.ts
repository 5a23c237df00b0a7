import { mysqlIdent } from '../../../lib/sql-identifiers';
import type { MappedColumn } from '../catalog/type-mapping';

/** A MySQL identifier, quoted (the daemon's short name for lib's mysqlIdent). */
export const qi = mysqlIdent;

/**
 * A row's canonical form, the bytes every fingerprint hashes. It is collision-free: every
 * variable-length value is preceded by its byte length (no separator ambiguity), NULLs are
 * carried by a bitmap (NULL, '' and 'NULL' all differ), long values are pre-hashed (a row's form
 * stays short whatever it holds), and the binary separator keeps every value's own bytes. The
 * result is cast to bytes: CONCAT_WS takes the charset of its text columns (latin1 for a latin1
 * table), which a row fetch would convert to the connection's utf8mb4 while GROUP_CONCAT hashes
 * it unconverted. `compact` (keyed tables, whose forms MySQL alone computes) takes ENUMs and
 * SETs by their number, digits without a length prefix; keyless tables keep the text, since
 * their mirrored rows carry the form's hash.
 */
export function rowCanonExpr(columns: MappedColumn[], compact = false): string {
  const pieces: string[] = [];
  for (const c of columns) {
    if (compact && c.canon) {
      pieces.push(c.canon(qi(c.name)));
      continue;
    }
    const v = c.select(qi(c.name));
    if (!c.variableLength) {
      pieces.push(v);
      continue;
    }
    pieces.push(`LENGTH(${v})`, c.longValue ? `IF(LENGTH(${v}) > 64, SHA1(${v}), ${v})` : v);
  }
  const nullable = columns.filter((c) => c.nullable);
  if (nullable.length > 0) pieces.push(`CONCAT(${nullable.map((c) => `ISNULL(${qi(c.name)})`).join(', ')})`);
  return `CAST(CONCAT_WS(_binary'#', ${pieces.join(', ')}) AS BINARY)`;
}

/**
 * A keyed chunk's fingerprint: the first 64 bits of the SHA-1 of its rows' canonical forms,
 * concatenated in key order, as an unsigned integer (diff/hash64.ts's CanonDigest computes the
 * same from rows read). SHA-1 over the sequence sees any change, a value swapped between two
 * rows included, which an XOR of affine row hashes (CRC32) cannot; and it costs MySQL one SHA-1
 * per chunk instead of one per row and its hex-to-integer conversion (1M rows, 100 chunks:
 * 0.39-0.45 s against 0.65-0.75 s; MySQL's own CRC32 scan 0.37 s). GROUP_CONCAT adds rows in the
 * order the forced key index yields them, and never returns more than max_allowed_packet bytes:
 * chunks are cut well below that (sync-table.ts), and a longer one only ever fails to match.
 */
export function chunkFingerprintExpr(canon: string): string {
  return `COALESCE(CAST(CONV(LEFT(SHA1(GROUP_CONCAT(${canon} SEPARATOR '')), 16), 16, 10) AS UNSIGNED), 0)`;
}

/**
 * The most bytes of canonical forms a chunk is cut at, in loads and cycles: a quarter of
 * max_allowed_packet, so a chunk can grow fourfold before its fingerprint would be cut short.
 */
export function chunkByteLimit(maxAllowedPacket: number): number {
  return Math.floor(maxAllowedPacket / 4);
}

/**
 * Keyless tables (rows a multiset, read ordered by their hash): a 64-bit row hash, its SUM the
 * fingerprint. SHA-1 keeps the sum non-linear.
 */
export function rowHashExpr(columns: MappedColumn[]): string {
  return `CAST(CONV(${rowHashHexExpr(columns)}, 16, 10) AS UNSIGNED)`;
}

/** The same 64 bits as 16 hex digits: what keyless row fetches return. */
export function rowHashHexExpr(columns: MappedColumn[]): string {
  return `LEFT(SHA1(${rowCanonExpr(columns)}), 16)`;
}

/** A key value as stored in chunk bounds: text, or bytes for binary key columns. */
export type KeyValue = string | { hex: string };
export type KeyTuple = KeyValue[];

/** A key value as a statement parameter: text, bytes, or an integer written as a numeric literal. */
export type KeyParam = string | Buffer | { toSqlString(): string };

const INTEGER = /^-?\d+$/;

/**
 * A key value as a statement parameter. An integer key column's value is written as a numeric
 * literal: against a quoted one MySQL converts per row, and every row a range scan reads is
 * compared with its bounds (4.8M rows of `attendance`: 0.67-0.97 s against 1.04-1.26 s).
 */
export function keyParam(v: KeyValue, integer = false): KeyParam {
  if (typeof v !== 'string') return Buffer.from(v.hex, 'hex');
  return integer && INTEGER.test(v) ? { toSqlString: () => v } : v;
}

/**
 * `key >= lower` (inclusive) and `key < upper` (exclusive) over a composite key, expanded into
 * ORs of equalities (pt-table-checksum's form: MySQL and MariaDB both use the index for it).
 * Comparison happens in MySQL only, so its collation decides, as it must. `integerKeys` marks
 * the key columns whose bounds are written as numeric literals (see keyParam).
 */
export function keyRangePredicate(
  keyColumns: string[],
  lower: KeyTuple | null,
  upper: KeyTuple | null,
  integerKeys: readonly boolean[] = [],
): { sql: string; params: KeyParam[] } {
  const parts: string[] = [];
  const params: KeyParam[] = [];
  const bound = (tuple: KeyTuple, lastOp: '>=' | '<', strictOp: '>' | '<') => {
    const ors: string[] = [];
    for (let i = 0; i < keyColumns.length; i++) {
      const ands: string[] = [];
      for (let j = 0; j < i; j++) {
        ands.push(`${qi(keyColumns[j]!)} = ?`);
        params.push(keyParam(tuple[j]!, integerKeys[j]));
      }
      ands.push(`${qi(keyColumns[i]!)} ${i === keyColumns.length - 1 ? lastOp : strictOp} ?`);
      params.push(keyParam(tuple[i]!, integerKeys[i]));
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
