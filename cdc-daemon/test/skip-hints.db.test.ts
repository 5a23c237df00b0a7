import { createCdcFixture, type CdcFixture } from './cdc-fixture';

let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture({ CDC_FULL_SWEEP_SECONDS: '3', CDC_HINT_MARGIN_SECONDS: '1' });
  await f.my.query('CREATE TABLE quiet (id INT PRIMARY KEY, v INT); CREATE TABLE busy (id INT PRIMARY KEY, v INT)');
  await f.my.query('INSERT INTO quiet VALUES (1, 1), (2, 2); INSERT INTO busy VALUES (1, 1)');
});
afterAll(() => f.close());

const skipped = async (syncId: string) =>
  (
    await f.pool.query('SELECT table_name FROM cdc.sync_history_tables WHERE sync_id = $1 AND skipped ORDER BY 1', [
      syncId,
    ])
  ).rows.map((r) => r.table_name);

test('a table with no write since its last full scan is skipped; a written one is scanned; the full sweep still comes', async () => {
  await f.cycle();
  await new Promise((r) => setTimeout(r, 2200));
  await f.cycle(); // records hints older than the reading by more than the 1 s margin
  await f.my.query('UPDATE busy SET v = v + 1');
  const third = await f.cycle();
  expect(await skipped(third.syncId)).toEqual(['quiet']);
  expect(third.stats.totals().updates).toBe(1);
  expect(
    (await f.pool.query('SELECT tables_skipped FROM cdc.sync_history WHERE id = $1', [third.syncId])).rows[0]
      .tables_skipped,
  ).toBe(1);
  await new Promise((r) => setTimeout(r, 3100));
  const swept = await f.cycle();
  expect(await skipped(swept.syncId)).toEqual([]);
  expect((await f.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
});

test('with CDC_SKIP_HINTS=false every table is scanned every cycle', async () => {
  const off = await createCdcFixture({ CDC_SKIP_HINTS: 'false' });
  try {
    await off.my.query('CREATE TABLE quiet (id INT PRIMARY KEY); INSERT INTO quiet VALUES (1)');
    await off.cycle();
    await new Promise((r) => setTimeout(r, 1100));
    await off.cycle();
    const c = await off.cycle();
    expect(c.stats.tablesSkipped()).toBe(0);
    expect(c.stats.totals().chunksScanned).toBe(1);
  } finally {
    await off.close();
  }
});

test('a transaction open across a scan is not lost to MariaDB stamping writes with their start time', async () => {
  const g = await createCdcFixture({ CDC_HINT_MARGIN_SECONDS: '2' });
  const writer = await (await import('mysql2/promise')).createConnection({ uri: g.mysqlDb.url });
  try {
    await g.my.query('CREATE TABLE slowtx (id INT PRIMARY KEY, v INT); INSERT INTO slowtx VALUES (1, 0)');
    await g.cycle();
    await new Promise((r) => setTimeout(r, 3100));
    // The transaction starts now and writes, but commits only after the next scan.
    await writer.query('START TRANSACTION');
    await writer.query('UPDATE slowtx SET v = 1 WHERE id = 1');
    await new Promise((r) => setTimeout(r, 1100));
    await g.cycle(); // scans (the stamp is too young for a hint) and records a hint
    await writer.query('COMMIT');
    await new Promise((r) => setTimeout(r, 3100));
    const after = await g.cycle();
    expect(after.stats.tablesSkipped()).toBe(0);
    expect((await g.pool.query('SELECT v FROM public.slowtx')).rows).toEqual([{ v: 1 }]);
  } finally {
    await writer.end();
    await g.close();
  }
});
