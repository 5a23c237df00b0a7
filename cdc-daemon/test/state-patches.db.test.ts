import { loadCdcConfig } from '../src/config';
import { runCycle } from '../src/sync-cycle';
import { createCdcFixture, quietLogger, type CdcFixture } from './cdc-fixture';

// A chunk whose rows only changed in place saves a patch of their hashes, not its whole
// row-state blob (apply/state-store.ts); the next walk reads the blob with the patch applied.
let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture();
});
afterAll(() => f.close());

/** How many history versions each of `ids` has in `history.<table>`, by id. */
const versionCounts = async (table: string, ids: number[]) =>
  (
    await f.pool.query(
      `SELECT id, count(*)::int AS n FROM history.${table} WHERE id = ANY($1::int[]) GROUP BY id ORDER BY id`,
      [ids],
    )
  ).rows;

const patches = async () =>
  (
    await f.pool.query<{ chunk: number; rows: number; patch: number }>(
      `SELECT (SELECT position FROM cdc.chunks c WHERE c.table_name = r.table_name AND c.chunk_id = r.chunk_id)::int AS chunk,
              length(rows) AS rows, length(patch) AS patch
         FROM cdc.chunk_rows r WHERE table_name = 'marks' ORDER BY 1`,
    )
  ).rows;

test('updates in place append a patch; the next walk applies it; an insert or a grown patch writes the blob whole', async () => {
  // Each test makes and loads its own table (they pass in any order: the checks verify every table).
  await f.my.query('CREATE TABLE marks (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(20) NULL)');
  await f.my.query('INSERT INTO marks VALUES ?', [Array.from({ length: 1_000 }, (_, i) => [i + 1, 0, null])]);
  const config = loadCdcConfig({ ...f.env, CDC_TABLES: 'marks', CDC_CHUNK_ROWS: '250', CDC_SKIP_HINTS: 'false' });
  const cycle = async () => (await runCycle({ pool: f.pool, config, logger: quietLogger })).stats.table('marks');
  await cycle();
  expect((await patches()).map((p) => p.patch)).toEqual([0, 0, 0, 0]);

  // Three rows of the second chunk: a patch of three records, and the other chunks untouched.
  await f.my.query('UPDATE marks SET v = 1 WHERE id IN (260, 300, 480)');
  expect(await cycle()).toMatchObject({ updates: 3, chunksChanged: 1 });
  const [, second] = await patches();
  expect(second).toMatchObject({ chunk: 2, patch: 3 * 20 });

  // Another row of that chunk: the walk carries the three patched rows as they are now (were the
  // patch not applied, they would be read again and staged once more).
  await f.my.query("UPDATE marks SET note = 'x' WHERE id = 400");
  expect(await cycle()).toMatchObject({ updates: 1, chunksChanged: 1, rowsFetched: 250 });
  expect((await patches())[1]!.patch).toBe(4 * 20);
  expect(await versionCounts('marks', [260, 300, 400, 480])).toEqual([
    { id: 260, n: 2 },
    { id: 300, n: 2 },
    { id: 400, n: 2 },
    { id: 480, n: 2 },
  ]);

  // An insert changes the layout: the blob is written whole, its patch folded in.
  await f.my.query('INSERT INTO marks VALUES (1001, 5, NULL)');
  await f.my.query('UPDATE marks SET v = 2 WHERE id = 900');
  expect(await cycle()).toMatchObject({ inserts: 1, updates: 1 });
  expect((await patches()).map((p) => p.patch)).toEqual([0, 4 * 20, 0, 0]);

  // A patch past an eighth of its blob is folded in too.
  const before = (await patches())[0]!;
  let folded = false;
  for (let round = 0; round < 12 && !folded; round++) {
    await f.my.query('UPDATE marks SET v = v + 1 WHERE id BETWEEN ? AND ?', [round * 20 + 1, round * 20 + 20]);
    expect(await cycle()).toMatchObject({ updates: 20 });
    const first = (await patches())[0]!;
    expect(first.rows).toBe(before.rows);
    if (round === 0) expect(first.patch).toBe(20 * 20);
    folded = first.patch < (round + 1) * 20 * 20;
    expect(first.patch).toBeLessThanOrEqual(first.rows / 8);
  }
  expect(folded).toBe(true);
  expect(await cycle()).toMatchObject({ updates: 0, inserts: 0, deletes: 0 });
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});

test('neighbours that shrank are merged with their row states, patches applied: the next cycle stages nothing', async () => {
  await f.my.query('CREATE TABLE folds (id INT PRIMARY KEY, v INT NOT NULL)');
  await f.my.query('INSERT INTO folds VALUES ?', [Array.from({ length: 400 }, (_, i) => [i + 1, 0])]);
  // Its own table only: `marks` is the other test's to load, in its chunks.
  const config = loadCdcConfig({ ...f.env, CDC_TABLES: 'folds', CDC_CHUNK_ROWS: '100', CDC_SKIP_HINTS: 'false' });
  const cycle = async () => (await runCycle({ pool: f.pool, config, logger: quietLogger })).stats.table('folds');
  const chunks = async () =>
    (
      await f.pool.query<{ n: number }>(
        "SELECT row_count AS n FROM cdc.chunks WHERE table_name = 'folds' ORDER BY position",
      )
    ).rows.map((r) => Number(r.n));
  await cycle();
  expect(await chunks()).toEqual([100, 100, 100, 100]);

  // The third chunk shrinks to 20 rows; beside a full neighbour it stays on its own.
  await f.my.query('DELETE FROM folds WHERE id BETWEEN 221 AND 300');
  expect(await cycle()).toMatchObject({ deletes: 80 });
  expect(await chunks()).toEqual([100, 100, 20, 100]);
  // One of its rows changes in place: its state is saved as a patch.
  await f.my.query('UPDATE folds SET v = 1 WHERE id = 210');
  expect(await cycle()).toMatchObject({ updates: 1, chunksChanged: 1 });
  // The second chunk shrinks too: the two are merged, the third's states (its patch applied)
  // appended to the second's.
  await f.my.query('DELETE FROM folds WHERE id BETWEEN 101 AND 180');
  expect(await cycle()).toMatchObject({ deletes: 80 });
  expect(await chunks()).toEqual([100, 40, 100]);

  // The merged chunk is read once (its fingerprint is unknown) and every row matches its state.
  expect(await cycle()).toMatchObject({ inserts: 0, updates: 0, deletes: 0, chunksChanged: 1 });
  expect(await versionCounts('folds', [190, 201, 210])).toEqual([
    { id: 190, n: 1 },
    { id: 201, n: 1 },
    { id: 210, n: 2 },
  ]);
  expect(await cycle()).toMatchObject({ chunksChanged: 0 });
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});
