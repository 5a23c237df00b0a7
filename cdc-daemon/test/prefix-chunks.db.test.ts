import { createCdcFixture, type CdcFixture } from './cdc-fixture';

// Chunks of a key led by an integer column end where that column's value changes, with a bound
// of that value alone (diff/chunk-cut.ts). Rows written next to such a bound, before the first
// row it was cut at, must land in the right chunk, and splits must cut the same way.
let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture({ CDC_CHUNK_ROWS: '50', CDC_LOAD_BATCH_ROWS: '400', CDC_SKIP_HINTS: 'false' });
});
afterAll(() => f.close());

const drifted = async () => (await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0);

async function chunksOf(table: string): Promise<{ bound: number | null; rows: number }[]> {
  const { rows } = await f.pool.query(
    'SELECT lower_key, row_count FROM cdc.chunks WHERE table_name = $1 ORDER BY position',
    [table],
  );
  return rows.map((r) => ({ bound: r.lower_key === null ? null : r.lower_key.length, rows: Number(r.row_count) }));
}

/** A random integer in [0, n), from a seeded generator so that a failure can be replayed. */
function seeded(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % n;
  };
}

test('a load cuts at value changes; writes beside the bounds and a grown chunk split keep the mirror equal', async () => {
  await f.my.query('CREATE TABLE marks (s INT NOT NULL, st INT NOT NULL, v INT NULL, PRIMARY KEY (s, st))');
  // 1 to 4 rows per value of s (within a chunk's slack of 50 / 16 rows): 2,000 rows.
  const rows: number[][] = [];
  for (let s = 1; rows.length < 2000; s++)
    for (let st = 1; st <= 1 + (s % 4) && rows.length < 2000; st++) rows.push([s, st, 0]);
  await f.my.query('INSERT INTO marks VALUES ?', [rows]);
  await f.cycle();
  const loaded = await chunksOf('marks');
  // Every chunk but the first starts at a value of s alone, load ranges included (but the
  // first one's end: the table's start may hold the value it reached), and none is past 50 rows
  // by more than the slack.
  expect(loaded[0]!.bound).toBeNull();
  expect(loaded.filter((c) => c.bound === 2).length).toBe(1);
  expect(loaded.every((c) => c.rows <= 50 + 3)).toBe(true);
  expect(loaded.reduce((a, c) => a + c.rows, 0)).toBe(2000);
  const verify = await f.cycle();
  expect(verify.status).toBe('no_changes');
  expect(verify.stats.table('marks').rowsFetched).toBe(0);

  const random = seeded(7);
  const maxS = rows[rows.length - 1]![0]!;
  for (let round = 0; round < 8; round++) {
    for (let k = 0; k < 20; k++) {
      const s = 1 + random(maxS + 5);
      switch (random(4)) {
        case 0: // before the first row of its value: the bound [s] must take it
          await f.my.query('INSERT IGNORE INTO marks VALUES (?, ?, ?)', [s, -random(3), round]);
          break;
        case 1:
          await f.my.query('DELETE FROM marks WHERE s = ?', [s]);
          break;
        case 2:
          await f.my.query('UPDATE marks SET v = ? WHERE s = ? ORDER BY st LIMIT 1', [round + 1, s]);
          break;
        default:
          await f.my.query('INSERT IGNORE INTO marks VALUES (?, ?, ?)', [s, 100 + random(50), round]);
      }
    }
    // Round 4: one value of s grows by 150 rows, so its chunk splits (pieces past the slack of
    // one value are cut at the whole key).
    if (round === 4)
      await f.my.query('INSERT IGNORE INTO marks VALUES ?', [Array.from({ length: 150 }, (_, i) => [40, 1000 + i, 1])]);
    const outcome = await f.cycle();
    expect(outcome.status).not.toBe('failed');
    expect({ round, drift: await drifted() }).toEqual({ round, drift: [] });
    // What the cycle read is what MySQL now fingerprints: the next cycle reads nothing.
    expect({ round, fetched: (await f.cycle()).stats.table('marks').rowsFetched }).toEqual({ round, fetched: 0 });
  }
  const after = await chunksOf('marks');
  expect(after.some((c) => c.bound === 2)).toBe(true);
  expect(after.every((c) => c.rows <= 2 * 50)).toBe(true);
});

test('a key led by text keeps whole-key bounds (its collation, not Node, says where a value ends)', async () => {
  await f.my.query(
    'CREATE TABLE tags (t VARCHAR(10) NOT NULL, n INT NOT NULL, PRIMARY KEY (t, n)) DEFAULT CHARSET=utf8mb4',
  );
  await f.my.query('INSERT INTO tags VALUES ?', [Array.from({ length: 300 }, (_, i) => [`t${i % 30}`, i])]);
  await f.cycle();
  const chunks = await chunksOf('tags');
  expect(chunks.length).toBeGreaterThan(1);
  expect(chunks.slice(1).every((c) => c.bound === 2)).toBe(true);
  expect(await drifted()).toEqual([]);
});
