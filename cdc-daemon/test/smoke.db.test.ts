import { createCdcFixture, type CdcFixture } from './cdc-fixture';

let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture({ CDC_CHUNK_ROWS: '10', CDC_LOAD_BATCH_ROWS: '25' });
});
afterAll(() => f.close());

test('load, then insert/update/delete, mirror equals MySQL', async () => {
  await f.my.query('CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20), price DECIMAL(8,2), note TEXT NULL)');
  const rows = Array.from({ length: 60 }, (_, i) => [
    i + 1,
    `item ${i + 1}`,
    (i * 1.25).toFixed(2),
    i % 3 ? null : 'x'.repeat(i * 10),
  ]);
  await f.my.query('INSERT INTO items VALUES ?', [rows]);
  const first = await f.cycle();
  expect(first.status).toBe('succeeded');
  expect((await f.pool.query('SELECT count(*)::int n FROM public.items')).rows[0].n).toBe(60);
  expect(await f.verifyAll()).toEqual([
    expect.objectContaining({ table: 'items', missing: 0, extra: 0, different: 0 }),
  ]);
  // Every loaded row's first version: one insert by the load's cycle, one valid_from for all
  // three batches, still open; the load leaves no column default behind on the history table.
  const loaded = await f.pool.query(
    'SELECT op, sync_id::text AS sync, count(DISTINCT valid_from)::int AS instants, count(*)::int AS n, count(valid_to)::int AS closed FROM history.items GROUP BY 1, 2',
  );
  expect(loaded.rows).toEqual([{ op: 'insert', sync: String(first.syncId), instants: 1, n: 60, closed: 0 }]);
  const defaults = await f.pool.query(
    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'history' AND table_name = 'items' AND column_name IN ('valid_from', 'op', 'sync_id') AND column_default IS NOT NULL",
  );
  expect(defaults.rows).toEqual([]);

  const second = await f.cycle();
  expect(second.status).toBe('no_changes');

  await f.my.query(
    "UPDATE items SET name = 'changed' WHERE id IN (5, 55); DELETE FROM items WHERE id = 30; INSERT INTO items VALUES (100, 'new', 1.00, NULL)",
  );
  const third = await f.cycle();
  expect(third.status).toBe('succeeded');
  expect(third.stats.totals()).toMatchObject({ inserts: 1, updates: 2, deletes: 1 });
  expect(await f.verifyAll()).toEqual([expect.objectContaining({ missing: 0, extra: 0, different: 0 })]);
  const outbox = await f.pool.query('SELECT op, row_key FROM cdc.outbox WHERE sync_id = $1 ORDER BY id', [
    third.syncId,
  ]);
  expect(outbox.rows.map((r) => r.op).sort()).toEqual(['delete', 'insert', 'update', 'update']);
  const hist = await f.pool.query('SELECT op, name FROM history.items WHERE id = 5 ORDER BY valid_from');
  expect(hist.rows).toEqual([
    { op: 'insert', name: 'item 5' },
    { op: 'update', name: 'changed' },
  ]);
});
