import type mysql from 'mysql2/promise';
import { createCdcFixture, type CdcFixture } from './cdc-fixture';

// A chunk's fingerprint concatenates its rows' canonical forms, and MySQL cuts GROUP_CONCAT at
// max_allowed_packet: chunks of wide rows are cut by bytes, and a chunk that grew past the limit
// between two cycles is read (its cut-short fingerprint never matches) and split, never trusted.
let f: CdcFixture;
let packet: number;
const ROW = 16_000;
beforeAll(async () => {
  f = await createCdcFixture({ CDC_SKIP_HINTS: 'false' });
  await f.my.query('CREATE TABLE wide (id INT PRIMARY KEY, s VARCHAR(16000) CHARACTER SET ascii NOT NULL)');
  const [rows] = await f.my.query<mysql.RowDataPacket[]>('SELECT @@max_allowed_packet AS n');
  packet = Number(rows[0]!.n);
});
afterAll(() => f.close());

async function insertRows(from: number, n: number) {
  for (let i = 0; i < n; i += 100) {
    const batch = Array.from({ length: Math.min(100, n - i) }, (_, k) => [
      from + i + k,
      String.fromCharCode(97 + ((from + i + k) % 26)).repeat(ROW),
    ]);
    await f.my.query('INSERT INTO wide (id, s) VALUES ?', [batch]);
  }
}

async function chunkCount(): Promise<number> {
  const { rows } = await f.pool.query("SELECT count(*)::int AS n FROM cdc.chunks WHERE table_name = 'wide'");
  return rows[0].n;
}

test('wide rows: chunks are cut by bytes, and one grown past max_allowed_packet is split, not trusted', async () => {
  const first = Math.ceil((0.6 * packet) / ROW);
  await insertRows(1, first);
  const load = await f.cycle();
  expect(load.stats.table('wide').rowsLoaded).toBe(first);
  expect(await chunkCount()).toBeGreaterThanOrEqual(3);
  const quiet = await f.cycle();
  expect(quiet.stats.table('wide')).toMatchObject({ rowsFetched: 0, chunksChanged: 0 });

  // More than max_allowed_packet lands in the last chunk (open upper bound), then one of its
  // rows far past the limit changes too.
  const grown = Math.ceil((1.2 * packet) / ROW);
  await insertRows(first + 1, grown);
  await f.my.query("UPDATE wide SET s = REPEAT('z', 16000) WHERE id = ?", [first + grown - 1]);
  const big = await f.cycle();
  expect(big.stats.totals()).toMatchObject({ inserts: grown, updates: 0, deletes: 0 });
  expect(await chunkCount()).toBeGreaterThanOrEqual(Math.ceil(((first + grown) * ROW) / (packet / 4)));
  const after = await f.cycle();
  expect(after.stats.table('wide')).toMatchObject({ rowsFetched: 0, chunksChanged: 0 });
  await f.my.query("UPDATE wide SET s = REPEAT('y', 16000) WHERE id = ?", [first + grown]);
  const tail = await f.cycle();
  expect(tail.stats.totals().updates).toBe(1);
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});
