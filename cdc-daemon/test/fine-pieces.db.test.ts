import { prng, scatteredWrites } from './random-model';
import { createCdcFixture, type CdcFixture } from './cdc-fixture';
import { PieceHeat } from '../src/diff/piece-heat';

// A busy table written a row here and there between every two cycles (enrollments in
// registration week) has its changed chunks cut into fine pieces (sync-table.ts's fineRows):
// 2,000-row chunks into 500-row pieces here.
let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture({ CDC_CHUNK_ROWS: '2000', CDC_SKIP_HINTS: 'false' });
});
afterAll(() => f.close());

const sizes = async (table: string) =>
  (
    await f.pool.query<{ n: number }>(
      'SELECT row_count::int AS n FROM cdc.chunks WHERE table_name = $1 ORDER BY position',
      [table],
    )
  ).rows.map((r) => r.n);

/** A table of `rows` rows (ids 1..rows, v = 0), loaded and then verified by a cycle, its chunks whole. */
async function mirrored(table: string, rows: number): Promise<void> {
  await f.my.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v INT NOT NULL)`);
  await f.my.query(`INSERT INTO ${table} VALUES ?`, [Array.from({ length: rows }, (_, i) => [i + 1, 0])]);
  await f.cycle();
  await f.cycle();
}

const drift = async () => (await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0);

test('a row changed in each chunk: the chunks after the first are cut into fine pieces, and the next writes walk one piece each', async () => {
  await mirrored('busy', 10_000);
  expect(await sizes('busy')).toEqual([2000, 2000, 2000, 2000, 2000]);

  await f.my.query('UPDATE busy SET v = 1 WHERE id IN (100, 2100, 4100, 6100, 8100)');
  const first = (await f.cycle()).stats.table('busy');
  expect(first).toMatchObject({ updates: 5, chunksChanged: 5, rowsFetched: 10_000 });
  // The first chunk read gives no measure yet: it stays whole.
  expect(await sizes('busy')).toEqual([2000, ...Array<number>(16).fill(500)]);
  expect(await drift()).toEqual([]);

  await f.my.query('UPDATE busy SET v = 2 WHERE id IN (2600, 9900)');
  const next = (await f.cycle()).stats.table('busy');
  expect(next).toMatchObject({ updates: 2, chunksChanged: 2, rowsFetched: 1000 });
  expect(await drift()).toEqual([]);

  // Nothing changed: every piece matches its fingerprint.
  expect((await f.cycle()).stats.table('busy')).toMatchObject({ chunksChanged: 0, rowsFetched: 0 });
});

test('scattered writes over fine pieces: a run of pieces with few changed lets the next fingerprint statement grow', async () => {
  await mirrored('spread', 40_000);
  // A row in each chunk: the chunks after the first are cut into 500-row pieces (77 in all).
  await f.my.query('UPDATE spread SET v = 1 WHERE id % 2000 = 100');
  await f.cycle();
  expect(await sizes('spread')).toHaveLength(77);
  // One write every 8 pieces. Runs kept at their first size took 11 statements here.
  await f.my.query('UPDATE spread SET v = 2 WHERE id % 4000 = 3700');
  const t = (await f.cycle()).stats.table('spread');
  expect(t).toMatchObject({ updates: 10, chunksChanged: 10, chunksScanned: 77, rowsFetched: 5000 });
  expect(t.fingerprintQueries).toBeLessThanOrEqual(6);
  expect(await drift()).toEqual([]);
});

test('changes dense in every chunk (uniform churn) keep the chunks whole', async () => {
  await mirrored('churn', 10_000);
  await f.my.query('UPDATE churn SET v = v + 1 WHERE id % 100 = 7');
  expect((await f.cycle()).stats.table('churn')).toMatchObject({ updates: 100, chunksChanged: 5 });
  expect(await sizes('churn')).toEqual([2000, 2000, 2000, 2000, 2000]);
  expect(await drift()).toEqual([]);
});

test('a fine piece written again in the next cycle is cut finer, and folded back once it has stayed unchanged', async () => {
  await mirrored('again', 10_000);
  // What the daemon keeps across its cycles; here a piece is cold after 3 syncs without a change.
  const kept = { heat: new PieceHeat(3) };
  // The first changed chunk read gives no measure and stays whole; the second is cut into 500-row
  // pieces (rows 2001-2500 keep its id).
  await f.my.query('UPDATE again SET v = 1 WHERE id IN (100, 2100)');
  await f.cycle(kept);
  expect(await sizes('again')).toEqual([2000, 500, 500, 500, 500, 2000, 2000, 2000]);
  // The same piece changed again: cut into 125-row pieces (a fine piece's quarter) as it is walked.
  await f.my.query('UPDATE again SET v = 2 WHERE id IN (100, 2100)');
  expect((await f.cycle(kept)).stats.table('again')).toMatchObject({ updates: 2, rowsFetched: 2500 });
  expect(await sizes('again')).toEqual([2000, 125, 125, 125, 125, 500, 500, 500, 2000, 2000, 2000]);
  expect(await drift()).toEqual([]);
  // Its next write walks 125 rows, not 500.
  await f.my.query('UPDATE again SET v = 3 WHERE id = 2110');
  expect((await f.cycle(kept)).stats.table('again')).toMatchObject({ updates: 1, chunksChanged: 1, rowsFetched: 125 });
  expect(await drift()).toEqual([]);

  // Writes elsewhere only (the first chunk, read whole): once the small pieces have stayed
  // unchanged for 3 syncs, neighbours are folded together (each fold read once to learn its
  // fingerprint, then folded further), back into one piece of 500 rows.
  for (let k = 0; k < 4; k++) {
    await f.my.query('UPDATE again SET v = v + 1 WHERE id = 100');
    await f.cycle(kept);
  }
  expect(await sizes('again')).toEqual([2000, 500, 500, 500, 500, 2000, 2000, 2000]);
  const reread = (await f.cycle(kept)).stats.table('again');
  expect(reread).toMatchObject({ chunksChanged: 1, rowsFetched: 500, updates: 0 });
  expect(await sizes('again')).toEqual([2000, 500, 500, 500, 500, 2000, 2000, 2000]);
  expect((await f.cycle(kept)).stats.table('again')).toMatchObject({ chunksChanged: 0, rowsFetched: 0 });
  expect(await drift()).toEqual([]);
});

test.each([
  ['', undefined],
  // Pieces written again cut finer, and folded back after 2 syncs without a change.
  [', busy pieces cut finer and folded back', 2],
])(
  'random sparse writes, inserts and deletes among them, over fine pieces and whole chunks%s: the mirror stays equal',
  async (_, coldSyncs) => {
    const seed = Number(process.env.FINE_SEED ?? Date.now() % 1_000_000);
    console.log(`fine-pieces seed ${seed}`);
    const r = prng(seed);
    const table = coldSyncs === undefined ? 'scattered' : 'scattered_heat';
    const kept = coldSyncs === undefined ? undefined : { heat: new PieceHeat(coldSyncs) };
    await f.my.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v INT NOT NULL)`);
    // Even ids only, so inserts can land between stored rows of any piece.
    await f.my.query(`INSERT INTO ${table} VALUES ?`, [Array.from({ length: 8_000 }, (_, i) => [2 * (i + 1), 0])]);
    await f.cycle(kept);
    await f.cycle(kept);
    // A few rows written round after round (a busy student's), besides the random ones.
    const again = [r.int(1, 4_000) * 2, r.int(4_001, 8_000) * 2];
    for (let round = 0; round < 10; round++) {
      // Mostly a few writes; now and then a burst that makes the round dense.
      const writes = round % 4 === 3 ? r.int(150, 300) : r.int(1, 8);
      const expected = await scatteredWrites(f.my, table, r, writes, 16_400, again);
      const [{ affectedRows }] = (await f.my.query(`UPDATE ${table} SET v = v + 1 WHERE id IN (?)`, [
        again,
      ])) as unknown as [{ affectedRows: number }];
      expected.updates = (expected.updates ?? 0) + affectedRows;
      const outcome = await f.cycle(kept);
      expect({ round, ...outcome.stats.totals() }).toMatchObject({ round, ...expected });
      expect(await drift()).toEqual([]);
    }
    // Whatever the rounds cut or merged: pieces merged last are read once (their fingerprint is not
    // known; a fold of cold pieces may follow in that cycle, read in the next), and then a cycle
    // without writes reads nothing.
    let quiet = 0;
    while ((await f.cycle(kept)).stats.table(table).rowsFetched > 0) expect(++quiet).toBeLessThan(8);
    expect((await f.cycle(kept)).stats.table(table)).toMatchObject({ chunksChanged: 0, rowsFetched: 0 });
    expect(await drift()).toEqual([]);
    const pieces = await sizes(table);
    expect(pieces.reduce((a, n) => a + n, 0)).toBe(
      Number(((await f.my.query(`SELECT COUNT(*) AS n FROM ${table}`)) as unknown as [{ n: number }[]])[0][0]!.n),
    );
  },
);
