import mysql from 'mysql2/promise';
import { serviceUrls } from '../../test/support/services';
import { planTable } from '../src/catalog/plan-table';
import { readCatalog } from '../src/catalog/read-catalog';
import { connectMysql, streamRange, streamRangeKeys, streamRowsByKey } from '../src/snapshot/mysql-source';
import { keyColumnsOnly, keysFromCanon, keyTuple, quarantineKey } from '../src/diff/row-keys';
import type { RawValue } from '../src/diff/encode-row';
import { createCdcFixture, type CdcFixture } from './cdc-fixture';

let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture();
  await f.my.query('CREATE TABLE big (id INT PRIMARY KEY, s VARCHAR(200))');
  await f.my.query('INSERT INTO big VALUES ?', [Array.from({ length: 20_000 }, (_, i) => [i + 1, 'x'.repeat(200)])]);
  await f.my.query(
    'CREATE TABLE mixed (b VARBINARY(8) NOT NULL, at DATETIME(3) NOT NULL, k VARCHAR(20) COLLATE utf8mb4_general_ci NOT NULL, v VARCHAR(40) NULL, PRIMARY KEY (b, at, k)) DEFAULT CHARSET=utf8mb4',
  );
  await f.my.query('INSERT INTO mixed VALUES ?', [
    Array.from({ length: 1_200 }, (_, i) => [
      Buffer.from([i % 7, 0, 255 - (i % 5)]),
      new Date(Date.UTC(2024, 0, 1, 0, 0, 0, (i * 37) % 1000) + i * 60_000),
      `Key ${i % 3 ? 'é' : 'e'} ${i}`,
      i % 4 ? `value ${i}` : null,
    ]),
  ]);
  // Integer keys of every width and sign.
  await f.my.query(
    'CREATE TABLE ints (a BIGINT NOT NULL, b TINYINT NOT NULL, c INT UNSIGNED NOT NULL, v VARCHAR(20) NULL, PRIMARY KEY (a, b, c)) DEFAULT CHARSET=utf8mb4',
  );
  await f.my.query('INSERT INTO ints VALUES ?', [
    Array.from({ length: 900 }, (_, i) => [
      // Each row's own, from both ends of BIGINT and either side of 2^53 (past a double's integers).
      String(
        [
          -(2n ** 63n) + BigInt(i),
          -(2n ** 53n) - 1n - BigInt(i),
          -1n - BigInt(i),
          BigInt(i),
          2n ** 53n + BigInt(i),
          2n ** 63n - 1n - BigInt(i),
        ][i % 6]!,
      ),
      [-128, -1, 0, 127][i % 4],
      [0, 4294967295, i][i % 3],
      i % 5 ? `väl ${i} ${'€'.repeat(i % 3)}` : null,
    ]),
  ]);
});
afterAll(() => f.close());

test('a MySQL connection lost in the middle of a streamed read fails the read instead of hanging', async () => {
  const conn = await connectMysql(f.readOnlyUrl);
  const admin = await mysql.createConnection({ uri: serviceUrls().mysqlAdminUrl });
  try {
    const [schema] = await readCatalog(conn, { tables: ['big'], excludeTables: [] });
    const plan = planTable(schema!, { tinyint1AsBoolean: false });
    const read = (async () => {
      let rows = 0;
      for await (const batch of streamRange(conn, plan, null, null)) {
        rows += batch.length;
        // A slow consumer: the driver pauses the socket while batches wait, as under a busy COPY.
        if (rows === batch.length) await admin.query('KILL CONNECTION ?', [conn.threadId]);
        await new Promise((r) => setTimeout(r, 50));
      }
      return rows;
    })();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      read.then(
        (rows) => `ended after ${rows} rows`,
        (err: Error) => `failed: ${err.message}`,
      ),
      new Promise((r) => (timer = setTimeout(() => r('still waiting after 15 s'), 15_000))),
    ]);
    // A pending timer would keep jest's worker alive after the run.
    clearTimeout(timer);
    expect(outcome).toMatch(/^failed: /);
  } finally {
    await admin.end();
    conn.destroy();
  }
});

test.each([
  ['a single-column key', 'big'],
  ['a composite key of bytes, a DATETIME and case-insensitive text', 'mixed'],
  ['a composite key of integers of every width and sign', 'ints'],
])(
  'rows walked by form and key are read whole by their keys, exactly as a range read has them (%s)',
  async (_, table) => {
    const conn = await connectMysql(f.readOnlyUrl);
    try {
      const [schema] = await readCatalog(conn, { tables: [table], excludeTables: [] });
      const plan = planTable(schema!, { tinyint1AsBoolean: false });
      const whole = new Map<string, RawValue[]>();
      for await (const batch of streamRange(conn, plan, null, null, undefined, false))
        for (const raw of batch) whole.set(quarantineKey(plan, raw), raw);
      // Integer keys that lead the table are not read beside the form, but taken from it.
      expect(plan.keysLeadCanon).toBe(table !== 'mixed');
      const walked: RawValue[][] = [];
      for await (const batch of streamRangeKeys(conn, plan, null, null))
        for (const raw of batch) {
          expect(raw.length).toBe(plan.keysLeadCanon ? 1 : 1 + plan.keyIndexes.length);
          walked.push(keysFromCanon(plan, raw));
        }
      const keys = keyColumnsOnly(plan);
      expect(walked.map((raw) => quarantineKey(keys, raw))).toEqual([...whole.keys()]);
      // Every 7th row, past one statement's worth of keys for the big table.
      const wanted = walked.filter((_, i) => i % 7 === 3);
      const found: RawValue[][] = [];
      for await (const batch of streamRowsByKey(
        conn,
        plan,
        wanted.map((raw) => keyTuple(keys, raw)),
      ))
        found.push(...batch);
      expect(found.length).toBe(wanted.length);
      for (const raw of found) expect(raw).toEqual(whole.get(quarantineKey(plan, raw)));
      expect(new Set(found.map((raw) => quarantineKey(plan, raw)))).toEqual(
        new Set(wanted.map((raw) => quarantineKey(keys, raw))),
      );
    } finally {
      conn.destroy();
    }
  },
);
