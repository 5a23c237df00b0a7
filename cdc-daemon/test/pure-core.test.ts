import { createHash } from 'node:crypto';
import { format } from 'mysql2';
import { ChunkRowsBuilder, StoredChunkRows, decodeChunkRows, encodeChunkRows } from '../src/apply/chunk-rows';
import { addedColumnsOnly } from '../src/apply/reconcile-tables';
import { planTable } from '../src/catalog/plan-table';
import type { MysqlColumn, TableSchema } from '../src/catalog/table-schema';
import { mapColumn, parseEnumValues } from '../src/catalog/type-mapping';
import { ChunkCutter } from '../src/diff/chunk-cut';
import { keysFromCanon } from '../src/diff/row-keys';
import { encodeField, encodeRow, escapeCopy, isCalendarDate } from '../src/diff/encode-row';
import { CanonDigest, hexToSignedDecimal } from '../src/diff/hash64';
import { keyRangePredicate, rowCanonExpr } from '../src/snapshot/mysql-sql';
import { scalingSpec } from '../../bench/plot';

const col = (over: Partial<MysqlColumn>): MysqlColumn => ({
  name: 'c',
  dataType: 'int',
  columnType: 'int',
  nullable: true,
  jsonCheck: false,
  charMaxLength: null,
  numericPrecision: null,
  numericScale: null,
  datetimePrecision: null,
  ...over,
});
const opts = { tinyint1AsBoolean: false };

describe('type mapping', () => {
  test.each([
    [{ dataType: 'int', columnType: 'int(10) unsigned' }, 'bigint'],
    [{ dataType: 'bigint', columnType: 'bigint(20) unsigned' }, 'numeric(20)'],
    [{ dataType: 'smallint', columnType: 'smallint unsigned' }, 'integer'],
    [{ dataType: 'tinyint', columnType: 'tinyint(1)' }, 'smallint'],
    [{ dataType: 'decimal', columnType: 'decimal(65,30)', numericPrecision: 65, numericScale: 30 }, 'numeric(65,30)'],
    [{ dataType: 'float', columnType: 'float' }, 'real'],
    [{ dataType: 'bit', columnType: 'bit(1)', numericPrecision: 1 }, 'boolean'],
    [{ dataType: 'bit', columnType: 'bit(10)', numericPrecision: 10 }, 'bit(10)'],
    [{ dataType: 'char', columnType: 'char(10)', charMaxLength: 10 }, 'varchar(10)'],
    [{ dataType: 'mediumblob', columnType: 'mediumblob' }, 'bytea'],
    [{ dataType: 'datetime', columnType: 'datetime(6)', datetimePrecision: 6 }, 'timestamp(6)'],
    [{ dataType: 'timestamp', columnType: 'timestamp(3)', datetimePrecision: 3 }, 'timestamptz(3)'],
    [{ dataType: 'time', columnType: 'time(6)' }, 'interval'],
    [{ dataType: 'year', columnType: 'year' }, 'smallint'],
    [{ dataType: 'longtext', columnType: 'longtext', jsonCheck: true }, 'jsonb'],
    [{ dataType: 'set', columnType: "set('a','b')" }, 'text[]'],
  ])('%j -> %s', (c, pg) => {
    expect(mapColumn(col(c), opts).pgType).toBe(pg);
  });

  test('TINYINT(1) as boolean only when configured; FLOAT read through DOUBLE; ENUM checked', () => {
    expect(mapColumn(col({ dataType: 'tinyint', columnType: 'tinyint(1)' }), { tinyint1AsBoolean: true }).pgType).toBe(
      'boolean',
    );
    expect(mapColumn(col({ dataType: 'float', columnType: 'float' }), opts).select('`f`')).toBe('CAST(`f` AS DOUBLE)');
    expect(parseEnumValues("enum('a','it''s','z z')")).toEqual(['a', "it's", 'z z']);
    expect(mapColumn(col({ dataType: 'enum', columnType: "enum('x','y')" }), opts).check).toBe("%I IN ('', 'x', 'y')");
    expect(() => mapColumn(col({ dataType: 'vector', columnType: 'vector(3)' }), opts)).toThrow(/cannot map/);
  });
});

describe('COPY encoding', () => {
  const where = { table: 't', keyIndexes: [], values: [], offset: 0 };
  test('escapes what would end a field, keeps NULL distinct from its look-alikes', () => {
    expect(escapeCopy('a\tb\nc\\d\r')).toBe('a\\tb\\nc\\\\d\\r');
    expect(escapeCopy('x\u0000y')).toBeUndefined();
    expect(escapeCopy('plain text, 12.5')).toBe('plain text, 12.5');
    const text = mapColumn(col({ dataType: 'varchar', columnType: 'varchar(5)', charMaxLength: 5 }), opts);
    expect([null, '', 'NULL', '\\N'].map((v) => encodeField(text, v, where))).toEqual(['\\N', '', 'NULL', '\\\\N']);
  });
  test('calendar dates are told from what PostgreSQL refuses', () => {
    const ok = ['2024-02-29', '2023-12-31 23:59:59', '0001-01-01', '9999-12-31'];
    const refused = ['2023-02-29', '2024-02-30', '2024-04-31', '0000-01-01', '2024-13-01', '2024-00-10', 'abcd-01-01'];
    expect(ok.map(isCalendarDate)).toEqual(ok.map(() => true));
    expect(refused.map(isCalendarDate)).toEqual(refused.map(() => false));
  });
  test('zero dates become NULL (a warning), TIMESTAMP gets its UTC offset, SET becomes an array', () => {
    const date = mapColumn(col({ dataType: 'date', columnType: 'date' }), opts);
    expect(encodeField(date, '0000-00-00', where)).toBeNull();
    expect(encodeField(date, '2024-00-10', where)).toBeNull();
    expect(encodeField(date, '2024-02-29', where)).toBe('2024-02-29');
    expect(
      encodeField(
        mapColumn(col({ dataType: 'timestamp', columnType: 'timestamp' }), opts),
        '2038-01-19 03:14:07',
        where,
      ),
    ).toBe('2038-01-19 03:14:07+00');
    expect(encodeField(mapColumn(col({ dataType: 'set', columnType: "set('a','b c')" }), opts), 'a,b c', where)).toBe(
      '{"a","b c"}',
    );
    expect(
      encodeField(mapColumn(col({ dataType: 'blob', columnType: 'blob' }), opts), Buffer.from([0, 255]), where),
    ).toBe('\\\\x00ff');
  });
  test('a row encodes field by field as encodeField does, its numbers and NULLs included', () => {
    const columns = [
      mapColumn(col({ name: 'id', dataType: 'bigint', columnType: 'bigint unsigned', nullable: false }), opts),
      mapColumn(col({ name: 'amount', dataType: 'decimal', columnType: 'decimal(12,2)', numericPrecision: 12 }), opts),
      mapColumn(col({ name: 'score', dataType: 'double', columnType: 'double' }), opts),
      mapColumn(col({ name: 'name', dataType: 'varchar', columnType: 'varchar(40)', charMaxLength: 40 }), opts),
      mapColumn(col({ name: 'at', dataType: 'datetime', columnType: 'datetime(3)', datetimePrecision: 3 }), opts),
      mapColumn(col({ name: 'seen', dataType: 'timestamp', columnType: 'timestamp' }), opts),
      mapColumn(col({ name: 'y', dataType: 'year', columnType: 'year(4)' }), opts),
    ];
    expect(columns.map((c) => c.numeric ?? false)).toEqual([true, true, true, false, false, false, true]);
    const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]!;
    const values = [
      ['1', '18446744073709551615'],
      ['-12.50', '0.00', null],
      ['1.5e-7', '-0', null],
      ['plain', 'tab\there', 'back\\slash', 'new\nline\r', '', 'NULL', '\\N', null],
      ['2024-02-29 23:59:59.999', '0000-00-00 00:00:00.000', '2023-01-00 10:00:00.000'],
      ['2038-01-19 03:14:07', null],
      ['2155', '1901', null],
    ];
    for (let i = 0; i < 200; i++) {
      const row = [null, ...values.map(pick)];
      const fields = columns.map((c, k) => encodeField(c, row[k + 1] ?? null, { ...where, values: row, offset: 1 }));
      expect(encodeRow('t', columns, [0], row)).toEqual({
        line: fields.map((f) => f ?? '\\N').join('\t'),
        key: fields[0],
        warnings: fields.filter((f) => f === null).length,
      });
    }
    expect(() =>
      encodeRow('t', columns, [0], [null, '7', null, null, null, '2024-02-30 00:00:00.000', null, null]),
    ).toThrow('table t, key 7: column at holds the invalid date 2024-02-30');
  });
});

describe('hashes and chunk state', () => {
  test("CanonDigest is the first 64 bits of the SHA-1 of the rows' forms in order, as MySQL's GROUP_CONCAT has them", () => {
    const rows = ['1#a\u0000', '2#\u00ff\u00e9', 'x'.repeat(70_000), '3#'];
    const d = new CanonDigest();
    for (const r of rows) d.add(r);
    const sha = createHash('sha1')
      .update(Buffer.from(rows.join(''), 'latin1'))
      .digest('hex');
    expect(d.count).toBe(4);
    expect(d.bytes).toBe(rows.join('').length);
    expect(d.toDecimal()).toBe(BigInt(`0x${sha.slice(0, 16)}`).toString());
    const swapped = new CanonDigest();
    for (const r of [rows[1]!, rows[0]!, rows[2]!, rows[3]!]) swapped.add(r);
    expect(swapped.toDecimal()).not.toBe(d.toDecimal());
    expect(new CanonDigest().toDecimal()).toBe('0');
    expect(hexToSignedDecimal('ffffffffffffffff')).toBe('-1');
  });
  test('the chunk-state codec round-trips, and two blobs concatenate into one chunk', () => {
    const a = encodeChunkRows([
      ['1', { mh: '00000000000000ff', hash: 'abcdefabcdefabcd', copies: 1 }],
      ['é\tkey', { mh: 'ffffffffffffffff', hash: '0000000000000000', copies: 3 }],
    ]);
    const b = encodeChunkRows([['2', { mh: '0101010101010101', hash: '1111111111111111', copies: 1 }]]);
    const both = decodeChunkRows(Buffer.concat([a, b]));
    expect([...both.keys()]).toEqual(['1', 'é\tkey', '2']);
    expect(both.get('é\tkey')).toEqual({ mh: 'ffffffffffffffff', hash: '0000000000000000', copies: 3 });
  });
  test('stored rows: unchanged ones carry over as bytes in order, and the walk goes on past a delete or an insert', () => {
    const entry = (i: number) => ({ mh: `${i}`.padStart(16, '0'), hash: `${i}`.padStart(16, 'a'), copies: 1 });
    const blob = encodeChunkRows([1, 2, 3, 4, 5, 6].map((i) => [`k${i}`, entry(i)]));
    const mh = (i: number) => BigInt(i);
    const stored = new StoredChunkRows(blob);
    const out = new ChunkRowsBuilder();
    expect(stored.carryIfNext(mh(1), out)).toBe(true);
    // k2 changed: not carried by hash, found at the cursor by its key.
    expect(stored.carryIfNext(mh(99), out)).toBe(false);
    expect(stored.take('k2')).toEqual(entry(2));
    // k3 was deleted in MySQL, k9 inserted: k9 is stored nowhere.
    expect(stored.take('k9')).toBeUndefined();
    // k4 is not the next stored row (k3 is): found past it, k3 stepped over...
    expect(stored.carryIfNext(mh(4), out)).toBe(false);
    expect(stored.take('k4')).toEqual(entry(4));
    // ...and the rows after it carry over as bytes again.
    expect(stored.carryIfNext(mh(5), out)).toBe(true);
    expect(stored.carryIfNext(mh(6), out)).toBe(true);
    expect([...stored.untaken()]).toEqual(['k3']);
    expect([...decodeChunkRows(out.take()).entries()]).toEqual([
      ['k1', entry(1)],
      ['k5', entry(5)],
      ['k6', entry(6)],
    ]);
    const tail = new StoredChunkRows(blob);
    expect(tail.carryIfNext(mh(1), new ChunkRowsBuilder())).toBe(true);
    expect([...tail.untaken()]).toEqual(['k2', 'k3', 'k4', 'k5', 'k6']);
  });
  test('stored rows: any sequence of MySQL rows, in order or not, takes each stored row once and leaves the rest untaken', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const entry = (i: number, v: number) => ({
      mh: (i * 1000 + v).toString(16).padStart(16, '0'),
      hash: '0'.repeat(16),
      copies: 1,
    });
    for (let round = 0; round < 300; round++) {
      const n = Math.floor(random() * 60);
      const ids = Array.from({ length: n }, (_, i) => 2 * i + 1);
      const blob = encodeChunkRows(ids.map((i) => [`k${i}`, entry(i, 0)]));
      // MySQL now: some rows deleted, some changed, some inserted between them; a few rounds out of order.
      const now: { i: number; v: number }[] = [];
      for (const i of ids) {
        if (random() < 0.15) now.push({ i: i - 1, v: 0 });
        if (random() < 0.2) continue;
        now.push({ i, v: random() < 0.2 ? 1 : 0 });
      }
      if (round % 5 === 0) now.sort(() => random() - 0.5);
      const stored = new StoredChunkRows(blob);
      const out = new ChunkRowsBuilder();
      const found = new Map<number, number>();
      for (const { i, v } of now) {
        const mh = BigInt(`0x${entry(i, v).mh}`);
        if (stored.carryIfNext(mh, out)) {
          found.set(i, 0);
          continue;
        }
        const e = stored.take(`k${i}`);
        if (e) found.set(i, Number.parseInt(e.mh, 16) - i * 1000);
      }
      const present = new Set(now.map((r) => r.i));
      expect([...found.keys()].sort((x, y) => x - y)).toEqual(ids.filter((i) => present.has(i)));
      expect([...found.values()].every((v) => v === 0)).toBe(true);
      expect([...stored.untaken()].sort()).toEqual(
        ids
          .filter((i) => !present.has(i))
          .map((i) => `k${i}`)
          .sort(),
      );
    }
  });
  test('a record added with bigint hashes reads back as one added with their hex digits', () => {
    const hashed = new ChunkRowsBuilder();
    hashed.addHashed('é\tkey', 0xff00000000000001n, 0x0123456789abcdefn);
    const blob = hashed.take();
    expect([...decodeChunkRows(blob).entries()]).toEqual([
      ['é\tkey', { mh: 'ff00000000000001', hash: '0123456789abcdef', copies: 1 }],
    ]);
    // Carried over by that same 64-bit hash only, high half included.
    expect(new StoredChunkRows(blob).carryIfNext(0x0000000000000001n, new ChunkRowsBuilder())).toBe(false);
    expect(new StoredChunkRows(blob).carryIfNext(0xff00000000000000n, new ChunkRowsBuilder())).toBe(false);
    expect(new StoredChunkRows(blob).carryIfNext(0xff00000000000001n, new ChunkRowsBuilder())).toBe(true);
  });
  test('carried runs keep their place among added records, across pieces and blobs', () => {
    const entry = (i: number) => ({ mh: `${i}`.padStart(16, '0'), hash: `${i}`.padStart(16, 'a'), copies: 1 });
    const blob = encodeChunkRows([1, 2, 3, 4, 5, 6].map((i) => [`k${i}`, entry(i)]));
    const other = encodeChunkRows([[`k7`, entry(7)]]);
    const stored = new StoredChunkRows(blob);
    const out = new ChunkRowsBuilder();
    const keys = (b: Buffer) => [...decodeChunkRows(b).keys()];
    expect(stored.carryIfNext(1n, out) && stored.carryIfNext(2n, out)).toBe(true);
    out.add('k2b', entry(9));
    expect(stored.carryIfNext(3n, out)).toBe(true);
    // A piece ends mid-run: its blob holds the run so far, the next piece starts empty.
    expect(keys(out.take())).toEqual(['k1', 'k2', 'k2b', 'k3']);
    expect(stored.carryIfNext(4n, out) && stored.carryIfNext(5n, out)).toBe(true);
    out.addRaw(other, 0, other.length);
    expect(stored.carryIfNext(6n, out)).toBe(true);
    expect(keys(out.take())).toEqual(['k4', 'k5', 'k7', 'k6']);
    expect(out.take().length).toBe(0);
  });
});

describe('MySQL SQL', () => {
  test('composite key ranges expand to ORs the index can use', () => {
    const r = keyRangePredicate(['a', 'b'], ['1', 'x'], ['2', { hex: 'ff' }]);
    expect(r.sql).toBe('(`a` > ? OR (`a` = ? AND `b` >= ?)) AND (`a` < ? OR (`a` = ? AND `b` < ?))');
    expect(r.params).toEqual(['1', '1', 'x', '2', '2', Buffer.from([0xff])]);
    expect(keyRangePredicate(['id'], null, null).sql).toBe('1 = 1');
  });
  test('a bound shorter than the key is a prefix: one comparison on the columns it has', () => {
    const r = keyRangePredicate(['a', 'b', 'c'], ['7'], ['9', '2'], [true, true, true]);
    expect(format(`WHERE ${r.sql}`, r.params)).toBe('WHERE `a` >= 7 AND (`a` < 9 OR (`a` = 9 AND `b` < 2))');
  });
  test('a chunk of a key led by an integer ends where that value changes, or at the whole key past its slack', () => {
    // Rows' first key values, and where a cutter of size 4 (slack 1) ends chunks before them.
    const cuts = (byPrefix: boolean, firsts: string[]) => {
      const cutter = new ChunkCutter(byPrefix, 4);
      const out: string[] = [];
      let count = 0;
      for (const first of firsts) {
        const cut = cutter.before(count, () => first);
        if (cut) count = 0;
        out.push(cut ? `${cut}:${first}` : first);
        count++;
      }
      return out.join(' ');
    };
    expect(cuts(true, ['1', '1', '2', '2', '3', '3', '3', '4', '5'])).toBe('1 1 2 2 prefix:3 3 3 4 prefix:5');
    // The fifth row shares the fourth's value: one row of slack, then the whole key.
    expect(cuts(true, ['1', '2', '3', '3', '3', '3', '4'])).toBe('1 2 3 3 3 key:3 4');
    expect(cuts(false, ['1', '1', '2', '2', '3', '3', '3', '4', '5'])).toBe('1 1 2 2 key:3 3 3 4 key:5');
  });
  test('integer key bounds are written as numeric literals, whatever else stays a quoted value', () => {
    const r = keyRangePredicate(['a', 'b'], ['18446744073709551615', 'x'], null, [true, false]);
    expect(format(`WHERE ${r.sql}`, r.params)).toBe(
      "WHERE (`a` > 18446744073709551615 OR (`a` = 18446744073709551615 AND `b` >= 'x'))",
    );
    // Only digits become literals: anything else stays a quoted, escaped value.
    const odd = keyRangePredicate(['a'], ["1' OR 1=1 -- "], null, [true]);
    expect(format(`WHERE ${odd.sql}`, odd.params)).toBe("WHERE `a` >= '1\\' OR 1=1 -- '");
  });
  test("a keyless row's form length-prefixes variable values, pre-hashes long ones, and carries a NULL bitmap", () => {
    const cols = [
      mapColumn(col({ name: 'id', nullable: false }), opts),
      mapColumn(col({ name: 's', dataType: 'varchar', columnType: 'varchar(5)', charMaxLength: 5 }), opts),
      mapColumn(col({ name: 't', dataType: 'text', columnType: 'text' }), opts),
    ];
    expect(rowCanonExpr(cols)).toBe(
      "CAST(CONCAT_WS(_binary'#', `id`, LENGTH(`s`), `s`, LENGTH(`t`), IF(LENGTH(`t`) > 64, SHA1(`t`), `t`), CONCAT(ISNULL(`s`), ISNULL(`t`))) AS BINARY)",
    );
  });
  test("a keyed row's form: FF between pieces, FE for NULL, UTF-8 text as it is, other text after its length", () => {
    const text = (name: string, charset: string, nullable = true) =>
      mapColumn(
        col({ name, nullable, dataType: 'varchar', columnType: 'varchar(5)', charMaxLength: 5, charset }),
        opts,
      );
    const cols = [
      mapColumn(col({ name: 'id', nullable: false }), opts),
      text('u', 'utf8mb4', false),
      text('n', 'utf8mb3'),
      text('l', 'latin1'),
      mapColumn(col({ name: 't', dataType: 'text', columnType: 'text', charset: 'utf8mb4' }), opts),
      mapColumn(col({ name: 'e', dataType: 'enum', columnType: "enum('a','b')" }), opts),
    ];
    expect(rowCanonExpr(cols, true)).toBe(
      "CAST(CONCAT_WS(_binary X'FF', `id`, CAST(`u` AS BINARY), IFNULL(CAST(`n` AS BINARY), _binary X'FE'), " +
        "IFNULL(LENGTH(`l`), _binary X'FE'), CAST(`l` AS BINARY), " +
        "IFNULL(LENGTH(`t`), _binary X'FE'), CAST(IF(LENGTH(`t`) > 64, SHA1(`t`), `t`) AS BINARY), " +
        "IFNULL((`e` + 0), _binary X'FE')) AS BINARY)",
    );
    // A column of unknown character set is taken as any bytes: length-prefixed.
    expect(rowCanonExpr([text('x', '')], true)).toBe(
      "CAST(CONCAT_WS(_binary X'FF', IFNULL(LENGTH(`x`), _binary X'FE'), CAST(`x` AS BINARY)) AS BINARY)",
    );
  });
});

test('a walk takes the keys from the form only when they are its first pieces: leading, plain integers', () => {
  const table = (columns: MysqlColumn[], keyColumns: string[]): TableSchema => ({
    name: 't',
    columns,
    keyKind: 'primary',
    keyColumns,
    uniqueKeys: [],
    foreignKeys: [],
  });
  const key = (over: Partial<MysqlColumn>) => col({ nullable: false, ...over });
  const v = col({ name: 'v', dataType: 'varchar', columnType: 'varchar(9)', charMaxLength: 9 });
  const leads = (columns: MysqlColumn[], keyColumns: string[]) =>
    planTable(table(columns, keyColumns), opts).keysLeadCanon;
  const a = key({ name: 'a', dataType: 'bigint', columnType: 'bigint(20) unsigned' });
  const b = key({ name: 'b', dataType: 'tinyint', columnType: 'tinyint(4)' });
  expect(leads([a, b, v], ['a', 'b'])).toBe(true);
  expect(leads([b, a, v], ['a', 'b'])).toBe(false); // out of order
  expect(leads([v, a], ['a'])).toBe(false); // not first
  expect(leads([key({ name: 'a', dataType: 'varchar', columnType: 'varchar(9)' }), v], ['a'])).toBe(false);
  expect(leads([key({ name: 'a', columnType: 'int(5) unsigned zerofill' }), v], ['a'])).toBe(false);
  expect(leads([key({ name: 'a', dataType: 'decimal', columnType: 'decimal(10,0)' }), v], ['a'])).toBe(false);
  expect(leads([key({ name: 'a', dataType: 'enum', columnType: "enum('x','y')" }), v], ['a'])).toBe(false);

  const plan = planTable(table([a, b, v], ['a', 'b']), opts);
  // Pieces are joined by the byte FF (the char U+00FF as forms are read); a NULL `v` is FE.
  const form = (...pieces: string[]) => pieces.join('\u00ff');
  expect(keysFromCanon(plan, [form('18446744073709551615', '-128', '5', 'ab#cde')])).toEqual([
    form('18446744073709551615', '-128', '5', 'ab#cde'),
    '18446744073709551615',
    '-128',
  ]);
  expect(keysFromCanon(plan, [form('7', '1', '\u00fe')])).toEqual([form('7', '1', '\u00fe'), '7', '1']);
  // Rows that carry their keys are taken as they are.
  expect(keysFromCanon(plan, ['7#1#1', '7', '1'])).toEqual(['7#1#1', '7', '1']);
});

test('schema changes: only pure column additions count as an ALTER', () => {
  const base: TableSchema = {
    name: 't',
    columns: [col({ name: 'id' }), col({ name: 'a' })],
    keyKind: 'primary',
    keyColumns: ['id'],
    uniqueKeys: [],
    foreignKeys: [],
  };
  expect(
    addedColumnsOnly(base, { ...base, columns: [col({ name: 'id' }), col({ name: 'n' }), col({ name: 'a' })] }),
  ).toEqual(['n']);
  expect(addedColumnsOnly(base, { ...base, columns: [col({ name: 'id' })] })).toBeUndefined();
  expect(
    addedColumnsOnly(base, { ...base, columns: [col({ name: 'id' }), col({ name: 'a', columnType: 'bigint' })] }),
  ).toBeUndefined();
  expect(addedColumnsOnly(base, { ...base, keyColumns: ['a'] })).toBeUndefined();
});

test('the scaling chart spec plots every figure at every size', () => {
  const spec = scalingSpec([{ rows: 1000, loadS: 1, fullSweepS: 0.5, churnS: 0.7, peakRssMb: 120 }]) as {
    hconcat: { data: { values: unknown[] } }[];
  };
  expect(spec.hconcat[0]!.data.values).toHaveLength(3);
  expect(spec.hconcat[1]!.data.values).toEqual([{ rows: 1000, mb: 120 }]);
});
