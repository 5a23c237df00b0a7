import type mysql from 'mysql2/promise';
import { planTable } from '../src/catalog/plan-table';
import { readCatalog } from '../src/catalog/read-catalog';
import { exactDouble } from '../src/catalog/type-mapping';
import { qi } from '../src/snapshot/mysql-sql';
import { createCdcFixture, type CdcFixture } from './cdc-fixture';

let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture();
  await f.my.query(
    `CREATE TABLE traps (id INT PRIMARY KEY, a VARCHAR(20) NULL, b VARCHAR(20) NULL, t MEDIUMTEXT NULL, fl FLOAT NULL, bl BLOB NULL, vb VARBINARY(20) NULL, l1 VARCHAR(20) CHARACTER SET latin1 NULL, e ENUM('a', 'b', '1') NULL, st SET('p', 'q') NULL, d DOUBLE NULL, ts TIMESTAMP(3) NULL, t0 TIMESTAMP NULL) DEFAULT CHARSET=utf8mb4`,
  );
});
afterAll(() => f.close());

// Pairs of rows that naive canonical forms (CONCAT_WS, no NULL bitmap, text of FLOAT, CONCAT of
// long values) hash the same. The id is equal within a pair, as for an update of that row.
const PAIRS: [string, Record<string, unknown>, Record<string, unknown>][] = [
  ['separator moved', { a: 'a#b', b: 'c' }, { a: 'a', b: 'b#c' }],
  ['separator moved (length-like text)', { a: '1#x', b: null }, { a: '1', b: 'x' }],
  ['NULL moved', { a: null, b: 'x' }, { a: 'x', b: null }],
  ["NULL vs ''", { a: null }, { a: '' }],
  ["NULL vs 'NULL'", { a: null }, { a: 'NULL' }],
  ["'' vs 'NULL'", { a: '' }, { a: 'NULL' }],
  ['trailing space', { a: 'x' }, { a: 'x ' }],
  ['case only', { a: 'x' }, { a: 'X' }],
  ['long text differs after 64 bytes', { t: `${'p'.repeat(100)}1` }, { t: `${'p'.repeat(100)}2` }],
  ['long text differs at the end (1 MB)', { t: `${'q'.repeat(1_000_000)}1` }, { t: `${'q'.repeat(1_000_000)}2` }],
  ['float beyond 6 digits', { fl: 16777216 }, { fl: 16777218 }],
  // DOUBLEs enter keyed forms as `hi lo` (v = hi + lo/2^62), or as `~` and their text.
  ['double: the last bit of 1', { d: 1 }, { d: 1.0000000000000002 }],
  ['double: 0.1 and its neighbour', { d: 0.1 }, { d: 0.10000000000000002 }],
  ['double: sign of a fraction', { d: 0.5 }, { d: -0.5 }],
  ['double: rounded half up or down', { d: 2.5 }, { d: 1.5 }],
  ['double: 2^53 and the next double', { d: 2 ** 53 }, { d: 2 ** 53 + 2 }],
  ['double: split and text forms at 2^-10', { d: 2 ** -10 }, { d: 2 ** -10 - 2 ** -63 }],
  ['double: the smallest subnormals', { d: 5e-324 }, { d: 1e-323 }],
  ['double: 0 vs NULL', { d: 0 }, { d: null }],
  ['double: largest finite and its neighbour', { d: 1.7976931348623157e308 }, { d: 1.7976931348623155e308 }],
  // TIMESTAMPs enter keyed forms as their epoch seconds, with the column's fraction digits.
  ['timestamp: a millisecond apart', { ts: '2024-03-31 01:59:59.999' }, { ts: '2024-03-31 02:00:00.000' }],
  ['timestamp: .5 vs .05 of a second', { ts: '2024-01-01 00:00:00.5' }, { ts: '2024-01-01 00:00:00.05' }],
  ['timestamp: NULL vs the first second after the epoch', { t0: null }, { t0: '1970-01-01 00:00:01' }],
  ['timestamp: its epoch seconds vs the same digits in a text column', { t0: '1970-01-01 00:00:01' }, { a: '1' }],
  ['blob NUL byte vs empty', { bl: Buffer.from([0]) }, { bl: Buffer.alloc(0) }],
  ['blob high bytes', { bl: Buffer.from([0xc3, 0xa9]) }, { bl: Buffer.from([0xe9]) }],
  ['latin1 accent', { l1: 'é' }, { l1: 'e' }],
  // ENUMs and SETs enter keyed forms by their number, digits without a length prefix.
  ['enum value', { e: 'a' }, { e: 'b' }],
  ['enum NULL vs its first value', { e: null }, { e: 'a' }],
  ['enum index vs the same digit in a text column', { e: 'a', a: null }, { e: null, a: '1' }],
  ["enum '1' (third value) vs index 1", { e: '1' }, { e: 'a' }],
  ['set members', { st: 'p,q' }, { st: 'p' }],
  ["set '' vs NULL", { st: '' }, { st: null }],
  // Keyed forms mark NULL with the byte FE and join pieces with FF; UTF-8 text holds neither,
  // so it has no length prefix. Bytes and latin1 text can hold both.
  ['latin1 þ (the byte FE) vs NULL', { l1: 'þ' }, { l1: null }],
  ['bytes: the byte FE vs NULL', { vb: Buffer.from([0xfe]) }, { vb: null }],
  ['UTF-8 þ vs NULL', { a: 'þ' }, { a: null }],
  ["UTF-8 '' vs NULL", { b: '' }, { b: null }],
  [
    'a byte FF moved from bytes into latin1 text',
    { vb: Buffer.from([0x61, 0xff, 0x31]), l1: 'x' },
    { vb: Buffer.from('a'), l1: '1ÿx' },
  ],
];

/** The row's canonical form (what every fingerprint hashes) and its chunk's fingerprint. */
async function formOf(conn: mysql.Connection, row: Record<string, unknown>): Promise<string[]> {
  await conn.query('DELETE FROM traps');
  await conn.query('INSERT INTO traps SET ?', [
    {
      id: 1,
      a: null,
      b: null,
      t: null,
      fl: null,
      bl: null,
      vb: null,
      l1: null,
      e: null,
      st: null,
      d: null,
      ts: null,
      t0: null,
      ...row,
    },
  ]);
  const [schema] = await readCatalog(f.my, { tables: ['traps'], excludeTables: [] });
  const plan = planTable(schema!, { tinyint1AsBoolean: false });
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT HEX(${plan.canonExpr}) AS h, (SELECT ${plan.fingerprintExpr} FROM ${qi('traps')}) AS fp FROM ${qi('traps')}`,
  );
  return [String(rows[0]!.h), String(rows[0]!.fp)];
}

test.each(PAIRS)('the canonical form and the chunk fingerprint tell apart: %s', async (_name, a, b) => {
  const [formA, fpA] = await formOf(f.my, a);
  const [formB, fpB] = await formOf(f.my, b);
  expect(formA).not.toBe(formB);
  expect(fpA).not.toBe(fpB);
});

test("the zero TIMESTAMP (stored outside strict mode) has a piece of its own: not NULL's, not the epoch's", async () => {
  await f.my.query("SET SESSION sql_mode = ''");
  try {
    const forms = new Set<string>();
    for (const t0 of ['0000-00-00 00:00:00', null, '1970-01-01 00:00:01']) forms.add((await formOf(f.my, { t0 }))[0]!);
    expect(forms.size).toBe(3);
  } finally {
    await f.my.query('SET SESSION sql_mode = DEFAULT');
  }
});

test('a cycle detects each such update as exactly one update', async () => {
  await f.my.query('DELETE FROM traps');
  for (const [i, [, a]] of PAIRS.entries()) await f.my.query('INSERT INTO traps SET ?', [{ id: i + 1, ...a }]);
  await f.cycle();
  for (const [i, [name, a, b]] of PAIRS.entries()) {
    const reset = Object.fromEntries(Object.keys({ ...a, ...b }).map((k) => [k, null]));
    await f.my.query('UPDATE traps SET ? WHERE id = ?', [{ ...reset, ...b }, i + 1]);
    const outcome = await f.cycle();
    expect({ name, updates: outcome.stats.totals().updates }).toEqual({ name, updates: 1 });
    // The fingerprint Node took from the rows read is the one MySQL computes: nothing is read again.
    expect({ name, fetched: (await f.cycle()).stats.totals().rowsFetched }).toEqual({ name, fetched: 0 });
  }
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});

test('a value swapped between two rows, or two rows trading all their values, is seen', async () => {
  await f.my.query('DELETE FROM traps');
  await f.my.query("INSERT INTO traps (id, a, b) VALUES (1, 'x', 'p'), (2, 'y', 'q')");
  await f.cycle();
  await f.my.query("UPDATE traps SET a = IF(id = 1, 'y', 'x')");
  expect((await f.cycle()).stats.totals().updates).toBe(2);
  await f.my.query("UPDATE traps SET a = IF(id = 1, 'x', 'y'), b = IF(id = 1, 'q', 'p')");
  expect((await f.cycle()).stats.totals().updates).toBe(2);
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});

test('a table of latin1 text only: the fingerprint Node takes from the rows read is the one MySQL computes', async () => {
  await f.my.query(
    'CREATE TABLE latin (id INT PRIMARY KEY, s VARCHAR(20) NOT NULL, t VARCHAR(20) NULL) DEFAULT CHARSET=latin1',
  );
  await f.my.query("INSERT INTO latin VALUES (1, 'café', NULL), (2, 'naïve', 'ß'), (3, '', 'x')");
  await f.cycle();
  await f.my.query("UPDATE latin SET s = 'crème' WHERE id = 2");
  const changed = await f.cycle();
  expect(changed.status).toBe('succeeded');
  expect(changed.stats.totals().updates).toBe(1);
  expect((await f.cycle()).stats.table('latin')).toMatchObject({ rowsFetched: 0, chunksChanged: 0 });
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});

/** v * 2^62 exactly, for a finite double with |v| >= 2^-10 (an integer then). */
function scaled(v: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, v);
  const bits = view.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn) - 1075;
  const mantissa = (bits & ((1n << 52n) - 1n)) | (1n << 52n);
  const magnitude = mantissa << BigInt(exponent + 62);
  return v < 0 ? -magnitude : magnitude;
}

test("a DOUBLE's piece gives back its exact value: 20,000 values over every exponent, with their neighbours", async () => {
  await f.my.query('CREATE TABLE doubles (id INT PRIMARY KEY, d DOUBLE NOT NULL)');
  const values: number[] = [0, 2 ** -10, 4.6e18, -(2 ** 62), 0.5, -1.5, 2.5];
  let seed = 7;
  const random = () => ((seed = (seed * 48271) % 2147483647) - 1) / 2147483646;
  const view = new DataView(new ArrayBuffer(8));
  while (values.length < 20_000) {
    const v = (random() < 0.5 ? -1 : 1) * (1 + random()) * 2 ** Math.floor(random() * 140 - 70);
    // Its neighbour: the next double up in magnitude.
    view.setFloat64(0, v);
    view.setBigUint64(0, view.getBigUint64(0) + 1n);
    values.push(v, view.getFloat64(0));
  }
  for (let i = 0; i < values.length; i += 1000)
    await f.my.query('INSERT INTO doubles VALUES ?', [values.slice(i, i + 1000).map((v, k) => [i + k, v])]);
  const [rows] = await f.my.execute<mysql.RowDataPacket[]>(`SELECT d, ${exactDouble('d')} AS p FROM doubles`);
  const pieces = new Set<string>();
  let split = 0;
  for (const r of rows) {
    const v = r.d as number;
    const p = String(r.p);
    pieces.add(p);
    if (Math.abs(v) >= 2 ** -10 && Math.abs(v) <= 4.6e18) {
      const [hi, lo] = p.split(' ').map(BigInt);
      expect({ v, p, exact: (hi! << 62n) + lo! === scaled(v) }).toEqual({ v, p, exact: true });
      split++;
    } else expect(p.startsWith('~')).toBe(true);
  }
  expect(split).toBeGreaterThan(10_000);
  expect(new Set(values).size).toBe(pieces.size);
});
