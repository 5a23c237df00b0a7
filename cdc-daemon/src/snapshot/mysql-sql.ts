import { mysqlIdent } from '../../../lib/sql-identifiers';
import type { MappedColumn } from '../catalog/type-mapping';

/** A MySQL identifier, quoted (the daemon's short name for lib's mysqlIdent). */
export const qi = mysqlIdent;

/**
 * The byte between the pieces of a keyed row's canonical form, as the latin1 text rows are read
 * in (one char per byte): FF, which no piece without a length prefix can hold.
 */
export const CANON_SEPARATOR = '\u00ff';
const SEPARATOR = "_binary X'FF'";
/** A NULL's piece: the byte FE alone, which no value's piece is (see rowCanonExpr). */
const NULL_PIECE = "_binary X'FE'";

/**
 * A row's canonical form, the bytes every fingerprint hashes. It is collision-free, and the
 * result is bytes: no piece is converted on its way to Node or to GROUP_CONCAT.
 *
 * Keyed tables (`compact`; MySQL alone computes these forms, and rows are compared by them
 * only to find what to read whole) join one piece per column with the byte FF:
 * - numbers, dates and times as MySQL writes them (ASCII), ENUMs and SETs by their number,
 *   DOUBLEs (and FLOATs) as two integers (type-mapping.ts's exactDouble), TIMESTAMPs as their
 *   epoch seconds;
 * - UTF-8 text as it is stored: valid UTF-8 never holds the bytes FE or FF;
 * - any other variable value (bytes, latin1 text, long values) after its byte length, which
 *   says where it ends; a long value (over 64 bytes) is pre-hashed, so a form stays short;
 * - a NULL as the byte FE alone (for a length-prefixed value, in place of its length).
 * Read piece by piece, the form gives back every column's value or NULL, so two rows that
 * differ have different forms. Against the first form (length prefixes on all text, a NULL
 * bitmap) a full sweep of the 1M-row bench table, whose text is UTF-8, takes 11-18% less.
 *
 * Keyless tables keep that first form, `#`-separated: their mirrored rows carry its hash.
 */
export function rowCanonExpr(columns: MappedColumn[], compact = false): string {
  return compact ? `CAST(${keyedCanonBytes(columns)} AS BINARY)` : keylessCanonExpr(columns);
}

/**
 * A keyed row's form without the CAST: already bytes, since its separator is a binary string and
 * every other piece a number or bytes (MySQL 8's rule: any binary argument makes CONCAT_WS's
 * result binary; MariaDB gave the same 53 fingerprint results of the university's sweep with it
 * and without it). Chunk fingerprints hash it inside MySQL: the CAST copied every row's form
 * once more (`attendance`, 4.8M rows: 1,921-2,146 ms against 2,058-2,279, 8 alternating rounds).
 * Where forms are sent to Node, the CAST stays: the driver must be told they are bytes.
 */
function keyedCanonBytes(columns: MappedColumn[]): string {
  const pieces: string[] = [];
  for (const c of columns) {
    const orNull = (e: string) => (c.nullable ? `IFNULL(${e}, ${NULL_PIECE})` : e);
    const v = c.select(qi(c.name));
    if (c.canon) pieces.push(orNull(c.canon(qi(c.name))));
    else if (!c.variableLength) pieces.push(orNull(v));
    else if (c.utf8 && !c.longValue) pieces.push(orNull(`CAST(${v} AS BINARY)`));
    else pieces.push(orNull(`LENGTH(${v})`), `CAST(${c.longValue ? preHashed(v) : v} AS BINARY)`);
  }
  return `CONCAT_WS(${SEPARATOR}, ${pieces.join(', ')})`;
}

function preHashed(v: string): string {
  return `IF(LENGTH(${v}) > 64, SHA1(${v}), ${v})`;
}

/**
 * Keyless rows' form: every variable-length value preceded by its byte length, a NULL bitmap
 * (NULL, '' and 'NULL' all differ), long values pre-hashed, `#` between the pieces.
 */
function keylessCanonExpr(columns: MappedColumn[]): string {
  const pieces: string[] = [];
  for (const c of columns) {
    const v = c.select(qi(c.name));
    if (!c.variableLength) pieces.push(v);
    else pieces.push(`LENGTH(${v})`, c.longValue ? preHashed(v) : v);
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
 * chunks are cut well below that (diff/chunk-input.ts), and a longer one only ever fails to match.
 * Integer arithmetic instead of the text form loses: MySQL evaluates each operator as an item of
 * its own, and a DATETIME made an integer costs more than written as text. Over `enrollments`
 * (700k rows, 6 columns, 10,000-row ranges 32 to a statement): this SHA-1 825-826 ms, the columns
 * combined modulo a prime (Horner) and summed 992-1,033 ms, squared before the sum (so a value
 * swapped between two rows shows) 1,682-1,730 ms; `COUNT(*)` alone 245-247 ms.
 */
export function chunkFingerprintExpr(columns: MappedColumn[]): string {
  return `COALESCE(CAST(CONV(LEFT(SHA1(GROUP_CONCAT(${keyedCanonBytes(columns)} SEPARATOR '')), 16), 16, 10) AS UNSIGNED), 0)`;
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

/** A key column's value as read (text, or bytes for binary columns) in the form bounds are stored. */
export function keyValueOf(v: string | Buffer | null | undefined): KeyValue {
  return Buffer.isBuffer(v) ? { hex: v.toString('hex') } : String(v);
}

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
 * the key columns whose bounds are written as numeric literals (see keyParam). A bound shorter
 * than the key is a prefix, which stands before every key that starts with it: `[7]` gives
 * `a >= 7` or `a < 7`, which MySQL checks for each row a range reads with one comparison fewer
 * per key column than the full bound (see diff/chunk-cut.ts's ChunkCutter).
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
    const n = Math.min(tuple.length, keyColumns.length);
    for (let i = 0; i < n; i++) {
      const ands: string[] = [];
      for (let j = 0; j < i; j++) {
        ands.push(`${qi(keyColumns[j]!)} = ?`);
        params.push(keyParam(tuple[j]!, integerKeys[j]));
      }
      ands.push(`${qi(keyColumns[i]!)} ${i === n - 1 ? lastOp : strictOp} ?`);
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
