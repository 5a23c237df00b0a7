import { createCdcFixture, type CdcFixture } from './cdc-fixture';

let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture({ CDC_FULL_SWEEP_SECONDS: '3', CDC_HINT_MARGIN_SECONDS: '1' });
  await f.my.query('CREATE TABLE quiet (id INT PRIMARY KEY, v INT); CREATE TABLE busy (id INT PRIMARY KEY, v INT)');
  await f.my.query('INSERT INTO quiet VALUES (1, 1), (2, 2); INSERT INTO busy VALUES (1, 1)');
});
afterAll(() => f.close());

const skippedIn = async (fixture: CdcFixture, syncId: string) =>
  (
    await fixture.pool.query(
      'SELECT table_name FROM cdc.sync_history_tables WHERE sync_id = $1 AND skipped ORDER BY 1',
      [syncId],
    )
  ).rows.map((r) => r.table_name);
const skipped = (syncId: string) => skippedIn(f, syncId);

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

test('a write the hints miss is found by the rolling re-verification of the skipped table, no cycle scanning it whole', async () => {
  // 100 rows in 10 chunks; a pass over them takes a third of the 6 s full-sweep period.
  const g = await createCdcFixture({ CDC_FULL_SWEEP_SECONDS: '6', CDC_HINT_MARGIN_SECONDS: '1', CDC_CHUNK_ROWS: '10' });
  try {
    await g.my.query('CREATE TABLE rolled (id INT PRIMARY KEY, v INT)');
    await g.my.query(`INSERT INTO rolled VALUES ${Array.from({ length: 100 }, (_, i) => `(${i + 1}, 0)`).join(', ')}`);
    await g.cycle(); // loads
    await new Promise((r) => setTimeout(r, 2200));
    await g.cycle(); // scans and records a hint older than its reading by more than the margin
    expect(await skippedIn(g, (await g.cycle()).syncId)).toEqual(['rolled']);
    // A write whose UPDATE_TIME the stored hint already holds, as a transaction open longer than
    // the margin would leave it: the hint cannot see it.
    await g.my.query('UPDATE rolled SET v = 999 WHERE id = 95');
    const [[stamp]] = (await g.my.query(
      "SELECT DATE_FORMAT(UPDATE_TIME, '%Y-%m-%d %H:%i:%s') AS u, DATE_FORMAT(UPDATE_TIME + INTERVAL 5 SECOND, '%Y-%m-%d %H:%i:%s') AS r FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'rolled'",
    )) as unknown as [[{ u: string; r: string }]];
    await g.pool.query(
      `UPDATE cdc.tables SET skip_hint = skip_hint || jsonb_build_object('updateTime', $1::text, 'readAt', $2::text) WHERE table_name = 'rolled'`,
      [stamp.u, stamp.r],
    );
    const scanned: number[] = [];
    const until = Date.now() + 5000;
    let v = 0;
    while (v !== 999 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
      const c = await g.cycle();
      const { rows } = await g.pool.query(
        "SELECT skipped, chunks_scanned FROM cdc.sync_history_tables WHERE sync_id = $1 AND table_name = 'rolled'",
        [c.syncId],
      );
      expect(rows[0].skipped).toBe(true);
      scanned.push(rows[0].chunks_scanned);
      v = (await g.pool.query('SELECT v FROM public.rolled WHERE id = 95')).rows[0].v;
    }
    expect(v).toBe(999);
    expect(Math.max(...scanned)).toBeLessThan(10);
    expect(scanned.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect((await g.verifyAll()).filter((d) => d.missing + d.extra + d.different > 0)).toEqual([]);
  } finally {
    await g.close();
  }
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

test('a table with no UPDATE_TIME (not written since the server loaded it) is skipped until its first write', async () => {
  const g = await createCdcFixture({ CDC_HINT_MARGIN_SECONDS: '1' });
  try {
    // MariaDB forgets UPDATE_TIME on a restart and on a rebuild: ALTER TABLE ... FORCE shows it here.
    await g.my.query('CREATE TABLE unwritten (id INT PRIMARY KEY, v INT); INSERT INTO unwritten VALUES (1, 1), (2, 2)');
    await g.my.query('ALTER TABLE unwritten FORCE');
    const [[{ u }]] = (await g.my.query(
      "SELECT UPDATE_TIME AS u FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'unwritten'",
    )) as unknown as [[{ u: Date | null }]];
    expect(u).toBeNull();
    await g.cycle(); // loads
    await g.cycle(); // scans and records the NULL reading
    const quiet = await g.cycle();
    expect(await skippedIn(g, quiet.syncId)).toEqual(['unwritten']);
    await g.my.query('UPDATE unwritten SET v = 20 WHERE id = 2');
    const written = await g.cycle();
    expect(await skippedIn(g, written.syncId)).toEqual([]);
    expect((await g.pool.query('SELECT id, v FROM public.unwritten ORDER BY id')).rows).toEqual([
      { id: 1, v: 1 },
      { id: 2, v: 20 },
    ]);
    // A write and then a rebuild (OPTIMIZE on InnoDB) between two cycles leaves UPDATE_TIME NULL
    // again, but CREATE_TIME moved: scanned, not lost.
    await g.my.query('ALTER TABLE unwritten FORCE');
    await g.cycle();
    expect(await skippedIn(g, (await g.cycle()).syncId)).toEqual(['unwritten']);
    await new Promise((r) => setTimeout(r, 1100)); // CREATE_TIME has second resolution
    await g.my.query('UPDATE unwritten SET v = 10 WHERE id = 1');
    await g.my.query('OPTIMIZE TABLE unwritten');
    const rebuilt = await g.cycle();
    expect(await skippedIn(g, rebuilt.syncId)).toEqual([]);
    expect((await g.pool.query('SELECT v FROM public.unwritten WHERE id = 1')).rows).toEqual([{ v: 10 }]);
  } finally {
    await g.close();
  }
});
