import { cdcError } from '../errors';
import type { MysqlColumn } from './table-schema';

/**
 * How one value travels: `kind` picks the encoder, `binary` says the driver must hand over raw
 * bytes (never text), `longValue` marks types whose fingerprint piece is pre-hashed.
 */
export const VALUE_KINDS = ['text', 'binary', 'date', 'timestamp', 'timestamptz', 'set', 'bool', 'json'] as const;
export type ValueKind = (typeof VALUE_KINDS)[number];

export interface MappedColumn {
  name: string;
  pgType: string;
  nullable: boolean;
  kind: ValueKind;
  /** The MySQL expression that reads the value exactly (e.g. FLOAT through DOUBLE). */
  select: (col: string) => string;
  /** True when the value may contain any byte, so the fingerprint length-prefixes it. */
  variableLength: boolean;
  /**
   * A cheaper expression for the value in keyed fingerprints, ASCII only (no length prefix): an
   * ENUM's index, a SET's bit mask (MySQL holds them so; no string is built per row), a DOUBLE
   * as two integers (see exactDouble), a TIMESTAMP as its epoch seconds (see epochSeconds).
   */
  canon?: (col: string) => string;
  longValue: boolean;
  /**
   * Text in a UTF-8 character set: MySQL stores only valid UTF-8 there (it refuses or replaces
   * anything else, strict mode or not), which never holds the bytes FE and FF. A keyed
   * fingerprint takes such a value without a length prefix (see rowCanonExpr).
   */
  utf8?: true;
  /**
   * True when MySQL's text of every value is digits and signs only (numbers, bits, years), so
   * COPY escaping never changes it and the load skips looking (see encodeRow).
   */
  numeric?: true;
  /** A CHECK clause body for the mirror (ENUM values), with `%I` for the quoted column. */
  check?: string;
}

export interface MappingOptions {
  tinyint1AsBoolean: boolean;
}

const identity = (col: string) => col;
const asNumber = (col: string) => `(${col} + 0)`;

/** 2^-10 and 2^62, as DOUBLE literals. */
const SMALLEST_SPLIT = '0.0009765625e0';
const FRACTION_SCALE = '4611686018427387904e0';

/**
 * A DOUBLE's piece of a keyed canonical form: `v` as `hi lo`, two integers with v = hi + lo/2^62,
 * where hi is v rounded to an integer and lo the rest scaled by 2^62. MySQL writes a DOUBLE's text
 * by searching for its shortest round-trip digits, 420 ns a value here: that one column cost
 * more than the other nine of the 1M-row bench table together, and `hi lo` costs a third of it
 * (its fingerprint sweep 1,416 against 1,671 ms). Exact in DOUBLE arithmetic for 2^-10 <= |v| <
 * 4.6e18: v - hi is exact (Sterbenz: hi lies within half of v, or is 0), its bits reach no lower
 * than 2^-62, so lo is an integer, and |lo| <= 2^61. Other values (0, tiny, huge) keep their
 * text after a `~`, which no `hi lo` starts with: distinct values always give distinct pieces.
 */
export function exactDouble(v: string): string {
  const split = `CONCAT(CAST(${v} AS SIGNED), ' ', CAST((${v} - CAST(${v} AS SIGNED)) * ${FRACTION_SCALE} AS SIGNED))`;
  return `IF(ABS(${v}) BETWEEN ${SMALLEST_SPLIT} AND 4.6e18, ${split}, CONCAT('~', ${v}))`;
}

/**
 * A TIMESTAMP's piece of a keyed canonical form: the seconds since the epoch that MySQL stores
 * (with the column's fraction digits; the zero value gives 0, which no other TIMESTAMP holds).
 * Its text goes through the session's time zone and a calendar date: the sweep of the university's
 * `attendance` (4.8M rows) took 2,102 ms with this piece against 2,165 (medians of 8 rounds).
 */
function epochSeconds(col: string): string {
  return `UNIX_TIMESTAMP(${col})`;
}

const LONG_TYPES = new Set([
  'tinytext',
  'text',
  'mediumtext',
  'longtext',
  'tinyblob',
  'blob',
  'mediumblob',
  'longblob',
  'json',
]);
const BINARY_TYPES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob']);
const GEOMETRY_TYPES = new Set([
  'geometry',
  'point',
  'linestring',
  'polygon',
  'multipoint',
  'multilinestring',
  'multipolygon',
  'geometrycollection',
  'geomcollection',
]);

/** Values of an enum('a','b''c') or set(...) column type, unquoted. */
export function parseEnumValues(columnType: string): string[] {
  const inner = columnType.slice(columnType.indexOf('(') + 1, columnType.lastIndexOf(')'));
  const values: string[] = [];
  const re = /'((?:[^']|'')*)'/g;
  for (let m = re.exec(inner); m; m = re.exec(inner))
    values.push((m[1] ?? '').replace(/''/g, "'").replace(/\\\\/g, '\\'));
  return values;
}

function pgLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function intType(c: MysqlColumn): string {
  const unsigned = c.columnType.includes('unsigned');
  switch (c.dataType) {
    case 'tinyint':
      return 'smallint';
    case 'smallint':
      return unsigned ? 'integer' : 'smallint';
    case 'mediumint':
      return 'integer';
    case 'int':
      return unsigned ? 'bigint' : 'integer';
    default:
      return unsigned ? 'numeric(20)' : 'bigint';
  }
}

function base(
  c: MysqlColumn,
  pgType: string,
  kind: ValueKind = 'text',
  select = identity,
  variableLength = false,
): MappedColumn {
  return { name: c.name, pgType, nullable: c.nullable, kind, select, variableLength, longValue: false };
}

const UTF8_CHARSETS = new Set(['utf8mb4', 'utf8mb3', 'utf8']);

function utf8(c: MysqlColumn, m: MappedColumn): MappedColumn {
  return c.charset && UTF8_CHARSETS.has(c.charset) ? { ...m, utf8: true } : m;
}

function numeric(c: MappedColumn): MappedColumn {
  return { ...c, numeric: true };
}

/**
 * Maps one MySQL column to its PostgreSQL column and to the expressions that read it. Exact by
 * design: integers widen when unsigned, DECIMAL keeps precision, FLOAT is read through DOUBLE
 * (its text form is rounded to 6 digits), TIME becomes interval (MySQL spans +/-838 h),
 * zero dates become NULL, TIMESTAMP is read in the UTC session.
 */
export function mapColumn(c: MysqlColumn, options: MappingOptions): MappedColumn {
  const t = c.dataType;
  if (c.jsonCheck && (t === 'longtext' || t === 'text' || t === 'mediumtext'))
    return { ...base(c, 'jsonb', 'json', identity, true), longValue: true };
  switch (t) {
    case 'tinyint':
      if (options.tinyint1AsBoolean && /^tinyint\(1\)/.test(c.columnType)) return base(c, 'boolean', 'bool');
      return numeric(base(c, intType(c)));
    case 'smallint':
    case 'mediumint':
    case 'int':
    case 'bigint':
      return numeric(base(c, intType(c)));
    case 'decimal':
      return numeric(base(c, `numeric(${c.numericPrecision ?? 10},${c.numericScale ?? 0})`));
    case 'float': {
      const asDouble = (col: string) => `CAST(${col} AS DOUBLE)`;
      return { ...numeric(base(c, 'real', 'text', asDouble)), canon: (col) => exactDouble(asDouble(col)) };
    }
    case 'double':
      return { ...numeric(base(c, 'double precision')), canon: exactDouble };
    case 'bit': {
      const n = c.numericPrecision ?? 1;
      if (n === 1) return base(c, 'boolean', 'bool', (col) => `(${col} + 0)`);
      return numeric(base(c, `bit(${n})`, 'text', (col) => `LPAD(BIN(${col}), ${n}, '0')`));
    }
    case 'char':
    case 'varchar':
      // MySQL returns CHAR without its trailing pad: varchar(n) keeps exactly what it returns.
      return utf8(c, base(c, `varchar(${c.charMaxLength ?? 255})`, 'text', identity, true));
    case 'tinytext':
    case 'text':
    case 'mediumtext':
    case 'longtext':
      return { ...base(c, 'text', 'text', identity, true), longValue: true };
    case 'binary':
    case 'varbinary':
    case 'tinyblob':
    case 'blob':
    case 'mediumblob':
    case 'longblob':
      return { ...base(c, 'bytea', 'binary', identity, true), longValue: LONG_TYPES.has(t) && BINARY_TYPES.has(t) };
    case 'date':
      return base(c, 'date', 'date');
    case 'datetime':
      return base(c, `timestamp(${c.datetimePrecision ?? 0})`, 'timestamp');
    case 'timestamp':
      return { ...base(c, `timestamptz(${c.datetimePrecision ?? 0})`, 'timestamptz'), canon: epochSeconds };
    case 'time':
      return base(c, 'interval');
    case 'year':
      return numeric(base(c, 'smallint', 'text', (col) => `(${col} + 0)`));
    case 'json':
      return { ...base(c, 'jsonb', 'json', identity, true), longValue: true };
    case 'enum': {
      const values = parseEnumValues(c.columnType);
      // '' is what MySQL stores for an invalid value outside strict mode: the mirror takes it too.
      return {
        ...base(c, 'text', 'text', identity, true),
        check: `%I IN (${['', ...values].map(pgLiteral).join(', ')})`,
        canon: asNumber,
      };
    }
    case 'set':
      return { ...base(c, 'text[]', 'set', identity, true), canon: asNumber };
    default:
      if (GEOMETRY_TYPES.has(t))
        return { ...base(c, 'bytea', 'binary', (col) => `ST_AsBinary(${col})`, true), longValue: true };
      throw cdcError(
        'UNSUPPORTED_TYPE',
        `Column ${c.name} has MySQL type ${c.columnType}, which the mirror cannot map; exclude the table with CDC_EXCLUDE_TABLES or open an issue.`,
        { column: c.name, type: c.columnType },
      );
  }
}
