import { prng, scatteredWrites } from './random-model';
import { createCdcFixture, type CdcFixture } from './cdc-fixture';

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

test('random sparse writes, inserts and deletes among them, over fine pieces and whole chunks: the mirror stays equal', async () => {
  const seed = Number(process.env.FINE_SEED ?? Date.now() % 1_000_000);
  console.log(`fine-pieces seed ${seed}`);
  const r = prng(seed);
  await f.my.query('CREATE TABLE scattered (id INT PRIMARY KEY, v INT NOT NULL)');
  // Even ids only, so inserts can land between stored rows of any piece.
  await f.my.query('INSERT INTO scattered VALUES ?', [Array.from({ length: 8_000 }, (_, i) => [2 * (i + 1), 0])]);
  await f.cycle();
  await f.cycle();
  for (let round = 0; round < 10; round++) {
    // Mostly a few writes; now and then a burst that makes the round dense.
    const writes = round % 4 === 3 ? r.int(150, 300) : r.int(1, 8);
    const expected = await scatteredWrites(f.my, 'scattered', r, writes, 16_400);
    const outcome = await f.cycle();
    expect({ round, ...outcome.stats.totals() }).toMatchObject({ round, ...expected });
    expect(await drift()).toEqual([]);
  }
  // Whatever the rounds cut or merged: pieces merged last are read once (their fingerprint is not
  // known), and then a cycle without writes reads nothing.
  await f.cycle();
  expect((await f.cycle()).stats.table('scattered')).toMatchObject({ chunksChanged: 0, rowsFetched: 0 });
  const pieces = await sizes('scattered');
  expect(pieces.reduce((a, n) => a + n, 0)).toBe(
    Number(((await f.my.query('SELECT COUNT(*) AS n FROM scattered')) as unknown as [{ n: number }[]])[0][0]!.n),
  );
});
