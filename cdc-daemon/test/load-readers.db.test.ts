import { loadCdcConfig } from '../src/config';
import { runCycle } from '../src/sync-cycle';
import { planTable } from '../src/catalog/plan-table';
import { readCatalog } from '../src/catalog/read-catalog';
import { classifyError } from '../src/errors';
import { initRowHash } from '../src/diff/row-hash';
import { connectMysql, keyAfter } from '../src/snapshot/mysql-source';
import type { KeyTuple } from '../src/snapshot/mysql-sql';
import { ReaderPool, inProcessReader } from '../src/load/load-readers';
import { createCdcFixture, quietLogger, type CdcFixture } from './cdc-fixture';

// A big table's load batches are read several key ranges at once, by the main thread and threads (load-readers.ts).
let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture();
  await f.my.query(
    'CREATE TABLE mixed (b VARBINARY(8) NOT NULL, at DATETIME(3) NOT NULL, k VARCHAR(20) COLLATE utf8mb4_general_ci NOT NULL, v TEXT NULL, PRIMARY KEY (b, at, k)) DEFAULT CHARSET=utf8mb4',
  );
  await f.my.query('INSERT INTO mixed VALUES ?', [
    Array.from({ length: 3_000 }, (_, i) => [
      Buffer.from([i % 7, 0, 255 - (i % 5)]),
      new Date(Date.UTC(2024, 0, 1, 0, 0, 0, (i * 37) % 1000) + i * 60_000),
      `Key ${i % 3 ? 'é' : 'e'} ${i}`,
      // NULLs, text COPY must escape, and one value PostgreSQL refuses (a NUL byte).
      i % 4 === 0 ? null : i === 1234 ? 'nul \0 byte' : `value\t${i}\\${'x'.repeat(i % 300)}`,
    ]),
  ]);
  await f.my.query('CREATE TABLE many (id INT PRIMARY KEY, v VARCHAR(40) NOT NULL, n DECIMAL(12, 3) NULL)');
  await f.my.query('INSERT INTO many VALUES ?', [
    Array.from({ length: 6_000 }, (_, i) => [i + 1, `row ${i + 1}`, i % 5 ? (i * 1.25).toFixed(3) : null]),
  ]);
  // The load hands big tables to the threads by MySQL's row estimate.
  await f.my.query('ANALYZE TABLE mixed, many');
});
afterAll(() => f.close());

test('a reader thread reads each key range exactly as the cycle connection does', async () => {
  await initRowHash();
  const conn = await connectMysql(f.env.CDC_MYSQL_URL!);
  const pool = new ReaderPool({ mysqlUrl: f.env.CDC_MYSQL_URL!, mapping: { tinyint1AsBoolean: false } }, 2);
  try {
    const [schema] = await readCatalog(conn, { tables: ['mixed'], excludeTables: [], excludeColumns: [] });
    const plan = planTable(schema!, { tinyint1AsBoolean: false });
    const threads = pool.forTable(plan);
    const here = inProcessReader(conn, plan);
    // Ranges of 700 rows, their bounds as the load asks for them; the last one is open.
    const bounds: (KeyTuple | null)[] = [null];
    for (let b = await keyAfter(conn, plan, null, 700); b; b = await keyAfter(conn, plan, b, 700)) bounds.push(b);
    expect(bounds).toHaveLength(5);
    const ranges = bounds.map((lower, i) => ({ lower, upper: bounds[i + 1] ?? null }));
    const read = await Promise.all(ranges.map((r) => threads.read(r, 1_400, 300)));
    let rows = 0;
    for (const [i, r] of ranges.entries()) {
      const expected = await here.read(r, 1_400, 300);
      expect(read[i]).toEqual(expected);
      expect(read[i]!.cut).toBe(false);
      expect(read[i]!.next).toEqual(r.upper);
      rows += read[i]!.rows + read[i]!.quarantined.length;
    }
    expect(rows).toBe(3_000);
    expect(read.flatMap((b) => b.quarantined.map((q) => q.column))).toEqual(['v']);
    // A range read short says where the rest starts.
    const short = await threads.read(ranges[0]!, 500, 300);
    expect(short).toMatchObject({ rows: 500, cut: true });
    expect(short.next).toEqual((await keyAfter(conn, plan, null, 500))!);
  } finally {
    await pool.close();
    await conn.end();
  }
});

test('readers that cannot reach MySQL fail their reads as MySQL unavailable, and close', async () => {
  const url = new URL(f.env.CDC_MYSQL_URL!);
  url.hostname = '127.0.0.1';
  url.port = '1';
  const [schema] = await readCatalog(f.my, { tables: ['many'], excludeTables: [], excludeColumns: [] });
  const plan = planTable(schema!, { tinyint1AsBoolean: false });
  // One thread, and the main thread on a connection of its own: both fail alike.
  const pool = new ReaderPool({ mysqlUrl: url.href, mapping: { tinyint1AsBoolean: false } }, 1, connectMysql(url.href));
  try {
    const reads = [0, 1].map(() => pool.read(plan, { lower: null, upper: null }, 100, 50).catch((e: unknown) => e));
    for (const failed of await Promise.all(reads)) {
      expect(classifyError(failed, 'mysql').code).toBe('MYSQL_UNAVAILABLE');
      expect(String((failed as Error).message)).not.toContain(url.password || 'campus_ci');
    }
  } finally {
    await pool.close();
  }
});

test('a load by several readers commits its ranges in key order and is verified by the next cycle', async () => {
  const read = jest.spyOn(ReaderPool.prototype, 'read');
  try {
    const config = loadCdcConfig({
      ...f.env,
      CDC_TABLES: 'mixed,many',
      CDC_CHUNK_ROWS: '250',
      CDC_LOAD_BATCH_ROWS: '500',
    });
    const cycle = () => runCycle({ pool: f.pool, config, logger: quietLogger });
    const loaded = await cycle();
    expect(loaded.stats.table('many').rowsLoaded).toBe(6_000);
    expect(loaded.stats.table('mixed')).toMatchObject({ rowsLoaded: 2_999, quarantined: 1 });
    expect(read.mock.calls.length).toBeGreaterThanOrEqual(12 + 6);
    const { rows: chunks } = await f.pool.query(
      "SELECT lower_key, row_count FROM cdc.chunks WHERE table_name = 'many' ORDER BY position",
    );
    expect(chunks.map((c) => (c.lower_key === null ? 1 : Number(c.lower_key[0])))).toEqual(
      Array.from({ length: 24 }, (_, i) => i * 250 + 1),
    );
    await f.my.query("UPDATE many SET v = 'changed' WHERE id = 4321");
    const next = await cycle();
    expect(next.stats.table('many')).toMatchObject({ updates: 1, chunksChanged: 1 });
    // The quarantined row's chunk is read again each cycle; nothing else.
    expect(next.stats.table('mixed')).toMatchObject({ updates: 0, inserts: 0, chunksChanged: 1 });
    expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
    const { rows: quarantined } = await f.pool.query('SELECT table_name, column_name FROM cdc.quarantine');
    expect(quarantined).toEqual([{ table_name: 'mixed', column_name: 'v' }]);
  } finally {
    read.mockRestore();
  }
});
