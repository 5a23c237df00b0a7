import * as source from '../src/snapshot/mysql-source';
import { createCdcFixture, type CdcFixture } from './cdc-fixture';

// Each changed chunk's walk is sent to MySQL behind the walk before it, or behind the last read
// of the group of chunks before it (diff/walk-ahead.ts; sync-table.ts's CHUNKS_PER_READ: 16).
// These cycles take every way a group's changed rows are read whole, each followed by further
// changed chunks, and check that nothing is missed or read twice.
let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture({ CDC_CHUNK_ROWS: '3000', CDC_SKIP_HINTS: 'false' });
});
afterAll(() => f.close());

const drifted = async () => (await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0);

test('changed rows read by several key lookups, by one, by the range, or not at all: every chunk after them is walked right', async () => {
  await f.my.query('CREATE TABLE many (id INT PRIMARY KEY, v INT NOT NULL)');
  await f.my.query('INSERT INTO many VALUES ?', [Array.from({ length: 15_000 }, (_, i) => [i + 1, 0])]);
  await f.cycle();
  await f.cycle(); // verifies the load
  // Chunk 1 (ids 1-3000): 600 changed rows, two lookups of at most 500 keys. Chunk 2: one row.
  // Chunk 3: a third of it, read by its range. Chunk 4: an insert between stored rows and a
  // delete, nothing to read whole. Chunk 5: one row.
  await f.my.query('UPDATE many SET v = 1 WHERE id <= 3000 AND id % 5 = 0');
  await f.my.query('UPDATE many SET v = 2 WHERE id = 4500');
  await f.my.query('UPDATE many SET v = 3 WHERE id BETWEEN 6001 AND 9000 AND id % 3 = 0');
  await f.my.query('DELETE FROM many WHERE id = 9500');
  await f.my.query('UPDATE many SET v = 4 WHERE id = 14000');
  const outcome = await f.cycle();
  expect(outcome.stats.tables.get('many')!.chunksChanged).toBe(5);
  expect(outcome.stats.totals()).toMatchObject({ updates: 600 + 1 + 1000 + 1, inserts: 0, deletes: 1 });
  expect(await drifted()).toEqual([]);
  const quiet = await f.cycle();
  expect(quiet.stats.totals()).toMatchObject({ updates: 0, inserts: 0, deletes: 0 });
});

test("a changed row a key lookup does not return is read with its chunk's range, ahead of the next group's walk", async () => {
  // No key type is known to miss its own row; a lookup that drops one stands in for it. The
  // range read must then go before the walk already sent for the next group, which is sent again.
  await f.my.query('CREATE TABLE lookups (id INT PRIMARY KEY, v INT NOT NULL)');
  await f.my.query('INSERT INTO lookups VALUES ?', [Array.from({ length: 60_000 }, (_, i) => [i + 1, 0])]);
  await f.cycle();
  await f.cycle();
  const real = source.streamRowsByKey;
  const lookups = jest
    .spyOn(source, 'streamRowsByKey')
    .mockImplementation(async function* (conn, plan, keys, lastSent) {
      for await (const batch of real(conn, plan, keys, lastSent)) yield batch.slice(1);
    });
  try {
    // A row in each of the ~20 chunks, two in the first: two groups.
    await f.my.query('UPDATE lookups SET v = 1 WHERE id % 3000 = 100 OR id = 10');
    const outcome = await f.cycle();
    expect(lookups).toHaveBeenCalledTimes(2);
    expect(outcome.stats.tables.get('lookups')!.chunksChanged).toBeGreaterThan(16);
    expect(outcome.stats.totals()).toMatchObject({ updates: 21, inserts: 0, deletes: 0 });
  } finally {
    lookups.mockRestore();
  }
  expect(await drifted()).toEqual([]);
  expect((await f.cycle()).stats.totals()).toMatchObject({ updates: 0, inserts: 0, deletes: 0 });
});

test('a group whose changed rows pass 2,000 is read at once; the walk sent ahead is sent again, and the next chunks are walked right', async () => {
  await f.my.query('CREATE TABLE heavy (id INT PRIMARY KEY, v INT NOT NULL)');
  await f.my.query('INSERT INTO heavy VALUES ?', [Array.from({ length: 15_000 }, (_, i) => [i + 1, 0])]);
  await f.cycle();
  await f.cycle();
  // Chunk 1 (ids 1-3000): one row. Chunk 2: 2,500 rows, past the group's 2,000 once walked, with
  // chunk 3's walk already sent. Chunk 3: 2,500 more (read alone: the chunk before had as many).
  // Chunks 4 and 5: a row each, an insert and a delete.
  await f.my.query('UPDATE heavy SET v = 1 WHERE id = 7');
  await f.my.query('UPDATE heavy SET v = 2 WHERE id BETWEEN 3001 AND 5500');
  await f.my.query('UPDATE heavy SET v = 3 WHERE id BETWEEN 6001 AND 8500');
  await f.my.query('UPDATE heavy SET v = 4 WHERE id = 9100');
  await f.my.query('DELETE FROM heavy WHERE id = 12500');
  await f.my.query('INSERT INTO heavy VALUES (20000, 5)');
  const outcome = await f.cycle();
  expect(outcome.stats.tables.get('heavy')!.chunksChanged).toBe(5);
  expect(outcome.stats.totals()).toMatchObject({ updates: 1 + 2500 + 2500 + 1, inserts: 1, deletes: 1 });
  expect(await drifted()).toEqual([]);
  expect((await f.cycle()).stats.totals()).toMatchObject({ updates: 0, inserts: 0, deletes: 0 });
});

test('a table emptied writes its deletes while its chunks are walked, and the mirror empties', async () => {
  // 100,000 deletes of 57-character keys: about 13 MB of stage lines, past a write's 4 MB within
  // one group of chunks.
  await f.my.query('CREATE TABLE emptied (k VARCHAR(60) PRIMARY KEY, v INT NOT NULL)');
  const rows = Array.from({ length: 100_000 }, (_, i) => [`key-${String(i).padStart(8, '0')}-${'x'.repeat(40)}`, i]);
  for (let i = 0; i < rows.length; i += 20_000)
    await f.my.query('INSERT INTO emptied VALUES ?', [rows.slice(i, i + 20_000)]);
  await f.cycle();
  await f.cycle();
  await f.my.query('DELETE FROM emptied');
  const outcome = await f.cycle();
  expect(outcome.stats.totals()).toMatchObject({ updates: 0, inserts: 0, deletes: 100_000 });
  expect((await f.pool.query('SELECT count(*)::int AS n FROM public.emptied')).rows[0].n).toBe(0);
  expect(await drifted()).toEqual([]);
});
