import { prng, scatteredWrites } from './random-model';
import { createCdcFixture, type CdcFixture } from './cdc-fixture';

let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture({ CDC_CHUNK_ROWS: '20', CDC_SKIP_HINTS: 'false' });
  await f.my.query('CREATE TABLE wide (id INT PRIMARY KEY, v INT NOT NULL)');
  await f.my.query('INSERT INTO wide VALUES ?', [Array.from({ length: 1000 }, (_, i) => [i + 1, 0])]);
  await f.cycle();
  await f.cycle(); // verifies the load
});
afterAll(() => f.close());

test('changes spread over every chunk are read without a fingerprint pass, and nothing is missed', async () => {
  await f.my.query('UPDATE wide SET v = v + 1 WHERE id % 10 = 3');
  await f.my.query('INSERT INTO wide SELECT id + 5000, 7 FROM wide WHERE id BETWEEN 400 AND 470'); // one chunk grows a lot
  const outcome = await f.cycle();
  const t = outcome.stats.tables.get('wide')!;
  expect(t.chunksScanned).toBe(8);
  expect(t.chunksChanged).toBe(50);
  expect(outcome.stats.totals()).toMatchObject({ updates: 100, inserts: 71, deletes: 0 });
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
  // A cycle with few changes goes back to fingerprinting every chunk.
  await f.my.query('UPDATE wide SET v = 9 WHERE id = 999');
  const quiet = await f.cycle();
  expect(quiet.stats.totals().updates).toBe(1);
  expect(quiet.stats.tables.get('wide')!.chunksChanged).toBe(1);
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});

test('sparse random changes over many chunks: matching neighbours are fingerprinted together, no change is missed', async () => {
  const seed = Number(process.env.SPARSE_SEED ?? Date.now() % 1_000_000);
  console.log(`sparse-change seed ${seed}`);
  const r = prng(seed);
  await f.my.query('CREATE TABLE sparse (id INT PRIMARY KEY, v INT NOT NULL)');
  // Even ids only, so inserts can land between stored rows of any chunk.
  await f.my.query('INSERT INTO sparse VALUES ?', [Array.from({ length: 1200 }, (_, i) => [2 * (i + 1), 0])]);
  await f.cycle();
  await f.cycle();
  for (let round = 0; round < 12; round++) {
    const expected = await scatteredWrites(f.my, 'sparse', r, r.int(0, 4), 2400);
    const outcome = await f.cycle();
    expect({ round, ...outcome.stats.totals() }).toMatchObject({ round, ...expected });
    expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
  }
});

test('a row state PostgreSQL refuses fails the cycle with its own error, not the echo of the aborted transaction, and nothing is lost', async () => {
  await f.my.query('CREATE TABLE saves (id INT PRIMARY KEY, v INT NOT NULL)');
  await f.my.query('INSERT INTO saves VALUES ?', [Array.from({ length: 400 }, (_, i) => [i + 1, 0])]);
  await f.cycle();
  await f.cycle();
  // Each changed chunk's state is written while the next chunk is read: the first write fails.
  await f.pool.query(`CREATE FUNCTION cdc.refuse_saves() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.table_name = 'saves' THEN RAISE EXCEPTION 'row state refused by the test'; END IF; RETURN NEW; END $$`);
  await f.pool.query(
    'CREATE TRIGGER refuse_saves BEFORE INSERT OR UPDATE ON cdc.chunk_rows FOR EACH ROW EXECUTE FUNCTION cdc.refuse_saves()',
  );
  await f.my.query('UPDATE saves SET v = v + 1 WHERE id % 10 = 1');
  await expect(f.cycle()).rejects.toThrow('row state refused by the test');
  const { rows } = await f.pool.query('SELECT status, error_message FROM cdc.sync_history ORDER BY id DESC LIMIT 1');
  expect(rows[0].status).toBe('failed');
  expect(rows[0].error_message).toContain('row state refused by the test');
  expect(rows[0].error_message).not.toContain('current transaction is aborted');
  await f.pool.query('DROP TRIGGER refuse_saves ON cdc.chunk_rows');
  const retried = await f.cycle();
  expect(retried.stats.totals()).toMatchObject({ updates: 40, inserts: 0, deletes: 0 });
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});
