/**
 * Random writes for the model-based CDC test: a seeded PRNG, edge values per MySQL type, and
 * an independent model of what changed (rows read with plain SELECTs, compared as text).
 */
import type mysql from 'mysql2/promise';

export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T,
    chance: (p: number) => next() < p,
  };
}
export type Rng = ReturnType<typeof prng>;

export const ALL_TYPES_DDL = `CREATE TABLE all_types (
  id INT NOT NULL PRIMARY KEY,
  t_tiny TINYINT NULL, t_utiny TINYINT UNSIGNED NULL, t_bool TINYINT(1) NULL, t_usmall SMALLINT UNSIGNED NULL, t_medium MEDIUMINT NULL,
  t_uint INT UNSIGNED NULL, t_big BIGINT NULL, t_ubig BIGINT UNSIGNED NULL,
  t_dec DECIMAL(65,30) NULL, t_money DECIMAL(10,2) NULL, t_float FLOAT NULL, t_double DOUBLE NULL,
  t_bit1 BIT(1) NULL, t_bit10 BIT(10) NULL,
  t_char CHAR(10) NULL, t_varchar VARCHAR(50) NULL, t_text TEXT NULL, t_long LONGTEXT NULL,
  t_binary BINARY(4) NULL, t_varbinary VARBINARY(20) NULL, t_blob MEDIUMBLOB NULL,
  t_date DATE NULL, t_datetime DATETIME(6) NULL, t_ts TIMESTAMP(3) NULL DEFAULT NULL, t_time TIME(6) NULL, t_year YEAR NULL,
  t_json JSON NULL, t_enum ENUM('x','y','z z') NULL, t_set SET('a','b c','d') NULL
) DEFAULT CHARSET=utf8mb4`;

const STRINGS = [
  '',
  'NULL',
  '\\N',
  'a\tb',
  'line\nbreak\r',
  '#',
  'a#b',
  '3#abc',
  '😀 emoji 𝄞',
  'trailing  ',
  'ＡＢＣ',
  'back\\slash',
  'quote\'"',
  'x',
];
const COLUMNS: Record<string, (r: Rng) => unknown> = {
  t_tiny: (r) => r.pick([-128, 127, 0, r.int(-100, 100)]),
  t_utiny: (r) => r.pick([0, 255, r.int(0, 255)]),
  t_bool: (r) => r.pick([0, 1, 2, 127, -1]),
  t_usmall: (r) => r.pick([0, 65535, r.int(0, 65535)]),
  t_medium: (r) => r.pick([-8388608, 8388607, r.int(-1000, 1000)]),
  t_uint: (r) => r.pick(['0', '4294967295', String(r.int(0, 2 ** 31))]),
  t_big: (r) => r.pick(['-9223372036854775808', '9223372036854775807', String(r.int(-1e9, 1e9))]),
  t_ubig: (r) => r.pick(['0', '18446744073709551615', '9223372036854775808', String(r.int(0, 1e9))]),
  t_dec: (r) =>
    r.pick([
      '0',
      '-0.000000000000000000000000000001',
      '99999999999999999999999999999999999.999999999999999999999999999999',
      '-12345.5',
      `${r.int(-1e6, 1e6)}.${r.int(0, 999999)}`,
    ]),
  t_money: (r) => r.pick(['0.00', '-99999999.99', '99999999.99', `${r.int(0, 99999)}.${r.int(0, 99)}`]),
  // 16777216/16777218 and 0.1/0.10000001 are distinct floats with the same 6-digit text.
  t_float: (r) => r.pick([16777216, 16777218, 3.4028234e38, 1.17549435e-38, 0.1, 0.10000001, -0.0, r.next() * 1000]),
  t_double: (r) => r.pick([1.7976931348623157e308, 5e-324, 0.1, 1.0000000000000002, -r.next() * 1e6]),
  t_bit1: (r) => r.pick([0, 1]),
  t_bit10: (r) => r.pick([0, 1023, 512, r.int(0, 1023)]),
  t_char: (r) => r.pick(['', 'abc', 'ten chars!', 'é', ' lead']),
  t_varchar: (r) => r.pick(STRINGS),
  t_text: (r) => r.pick([...STRINGS, 'y'.repeat(65)]),
  t_long: (r) => r.pick(['', 'short', 'z'.repeat(100_000), `${'long '.repeat(5000)}${r.int(0, 9)}`]),
  t_binary: (r) => r.pick([Buffer.from([0, 0, 0, 0]), Buffer.from([1, 2]), Buffer.from([255, 0, 255, 0])]),
  t_varbinary: (r) =>
    r.pick([
      Buffer.alloc(0),
      Buffer.from([0]),
      Buffer.from('bytes\n\t\\'),
      Buffer.from([r.int(0, 255), r.int(0, 255)]),
    ]),
  t_blob: (r) => r.pick([Buffer.alloc(0), Buffer.alloc(70_000, r.int(0, 255)), Buffer.from([0, 92, 10, 9])]),
  t_date: (r) => r.pick(['1000-01-01', '9999-12-31', '0000-00-00', '2024-02-29']),
  t_datetime: (r) =>
    r.pick([
      '1000-01-01 00:00:00.000000',
      '9999-12-31 23:59:59.999999',
      '2024-06-01 12:30:45.123456',
      '0000-00-00 00:00:00',
    ]),
  t_ts: (r) => r.pick(['1970-01-01 00:00:01.000', '2038-01-19 03:14:07.999', '2024-03-10 02:30:00.5']),
  t_time: (r) => r.pick(['-838:59:59.000000', '838:59:59.000000', '00:00:00.000001', '-00:00:01.5', '12:34:56']),
  t_year: (r) => r.pick([1901, 2155, 0, 2024]),
  t_json: (r) =>
    r.pick([
      '{"b":1,"a":2}',
      '{"a":2,"b":1}',
      '[]',
      'null',
      '"é\\u00e9"',
      '{"n":12345678901234567890123,"f":1.5e300}',
      '{"deep":{"x":[1,{"y":null}]}}',
    ]),
  t_enum: (r) => r.pick(['x', 'y', 'z z']),
  t_set: (r) => r.pick(['', 'a', 'a,b c', 'b c,d', 'a,b c,d']),
};
export const ALL_TYPE_COLUMNS = Object.keys(COLUMNS);

/** A row for all_types: each column a random edge value, or NULL now and then. */
export function randomAllTypesRow(r: Rng): Record<string, unknown> {
  return Object.fromEntries(ALL_TYPE_COLUMNS.map((c) => [c, r.chance(0.12) ? null : COLUMNS[c]!(r)]));
}

export function randomColumnValue(r: Rng, column: string): unknown {
  return r.chance(0.15) ? null : COLUMNS[column]!(r);
}

export const OTHER_DDL = [
  'CREATE TABLE composite (a INT NOT NULL, b VARCHAR(20) NOT NULL, c DATE NOT NULL, val INT NULL, PRIMARY KEY (a, b, c)) DEFAULT CHARSET=utf8mb4',
  'CREATE TABLE ci_keys (k VARCHAR(20) COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, v INT NULL, u VARCHAR(20) NULL, UNIQUE KEY uq_u (u)) DEFAULT CHARSET=utf8mb4',
  'CREATE TABLE nokey (a INT NULL, b VARCHAR(10) NULL) DEFAULT CHARSET=utf8mb4',
  'CREATE TABLE parents (id INT NOT NULL PRIMARY KEY, name VARCHAR(30) NOT NULL) DEFAULT CHARSET=utf8mb4',
  'CREATE TABLE children (id INT NOT NULL PRIMARY KEY, parent_id INT NOT NULL, name VARCHAR(30) NULL, KEY ix_parent (parent_id), CONSTRAINT fk_children_parent FOREIGN KEY (parent_id) REFERENCES parents (id) ON DELETE CASCADE) DEFAULT CHARSET=utf8mb4',
];

/** How each table is read for the model: floats through DOUBLE (their text is rounded), bytes as hex. */
const MODEL_SELECT: Record<string, { sql: string; key: string[] }> = {
  // Zero dates read as NULL, as the mirror holds them: '0000-00-00' -> NULL is no change there.
  all_types: {
    sql: `SELECT ${['id', ...ALL_TYPE_COLUMNS]
      .map((c) =>
        c === 't_float'
          ? 'CAST(t_float AS DOUBLE) AS t_float'
          : /bit/.test(c)
            ? `(${c} + 0) AS ${c}`
            : /binary|blob/.test(c)
              ? `HEX(${c}) AS ${c}`
              : c === 't_date' || c === 't_datetime'
                ? `IF(${c} LIKE '0000-%', NULL, ${c}) AS ${c}`
                : // As text: the driver would parse JSON, and JSON null would look like SQL NULL.
                  c === 't_json'
                  ? 'CAST(t_json AS CHAR) AS t_json'
                  : c,
      )
      .join(', ')} FROM all_types`,
    key: ['id'],
  },
  composite: { sql: 'SELECT * FROM composite', key: ['a', 'b', 'c'] },
  ci_keys: { sql: 'SELECT CAST(k AS BINARY) AS k, v, u FROM ci_keys', key: ['k'] },
  nokey: { sql: 'SELECT * FROM nokey', key: [] },
  parents: { sql: 'SELECT * FROM parents', key: ['id'] },
  children: { sql: 'SELECT * FROM children', key: ['id'] },
};

export type ModelSnapshot = Map<string, Map<string, number | string>>;

/** What MySQL holds now, per table: key -> row text (keyless: row text -> copies). */
export async function readModel(conn: mysql.Connection): Promise<ModelSnapshot> {
  const out: ModelSnapshot = new Map();
  for (const [table, m] of Object.entries(MODEL_SELECT)) {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(m.sql);
    const map = new Map<string, number | string>();
    for (const row of rows) {
      const text = JSON.stringify(row, (_k, v) => (v && v.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v));
      if (m.key.length === 0) map.set(text, ((map.get(text) as number) ?? 0) + 1);
      else map.set(m.key.map((k) => String(Buffer.isBuffer(row[k]) ? row[k].toString('hex') : row[k])).join('|'), text);
    }
    out.set(table, map);
  }
  return out;
}

/** Inserts, updates and deletes between two model snapshots, per table. */
export function modelDiff(
  before: ModelSnapshot,
  after: ModelSnapshot,
): Map<string, { inserts: number; updates: number; deletes: number }> {
  const out = new Map<string, { inserts: number; updates: number; deletes: number }>();
  for (const [table, now] of after) {
    const was = before.get(table) ?? new Map();
    const d = { inserts: 0, updates: 0, deletes: 0 };
    const keyless = MODEL_SELECT[table]!.key.length === 0;
    for (const [k, v] of now) {
      const old = was.get(k);
      if (keyless) {
        const diff = (v as number) - ((old as number) ?? 0);
        if (diff > 0) d.inserts += diff;
        else d.deletes -= diff;
      } else if (old === undefined) d.inserts++;
      else if (old !== v) d.updates++;
    }
    for (const [k, v] of was) if (!now.has(k)) d.deletes += keyless ? (v as number) : 1;
    out.set(table, d);
  }
  return out;
}

/**
 * `writes` random writes to `table (id INT PRIMARY KEY, v INT NOT NULL)` at ids 1..`maxId`, each
 * id at most once: an insert where no row is, else a delete (one in three) or an update of `v`.
 * Returns how many of each, as a cycle should count them.
 */
export async function scatteredWrites(
  conn: mysql.Connection,
  table: string,
  r: Rng,
  writes: number,
  maxId: number,
  /** Ids left alone (the caller writes them itself). */
  avoid: number[] = [],
): Promise<{ inserts: number; updates: number; deletes: number }> {
  const done = { inserts: 0, updates: 0, deletes: 0 };
  const touched = new Set<number>(avoid);
  for (let k = writes; k > 0; k--) {
    const id = r.int(1, maxId);
    if (touched.has(id)) continue;
    touched.add(id);
    const [rows] = (await conn.query('SELECT v FROM ?? WHERE id = ?', [table, id])) as unknown as [{ v: number }[]];
    if (rows.length === 0) {
      await conn.query('INSERT INTO ?? VALUES (?, ?)', [table, id, r.int(1, 99)]);
      done.inserts++;
    } else if (r.int(0, 2) === 0) {
      await conn.query('DELETE FROM ?? WHERE id = ?', [table, id]);
      done.deletes++;
    } else {
      await conn.query('UPDATE ?? SET v = ? WHERE id = ?', [table, rows[0]!.v + 1, id]);
      done.updates++;
    }
  }
  return done;
}
