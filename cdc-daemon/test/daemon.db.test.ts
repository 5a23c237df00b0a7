import mysql from 'mysql2/promise';
import { loadCdcConfig } from '../src/config';
import { CdcDaemon } from '../src/daemon';
import { capturingLogger, createCdcFixture, quietLogger, type CdcFixture } from './cdc-fixture';
import { waitFor } from './cli-runner';

let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture();
  await f.my.query('CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL)');
  await f.my.query('INSERT INTO t VALUES ?', [Array.from({ length: 3000 }, (_, i) => [i + 1, 0])]);
});
afterAll(() => f.close());

function daemon(env: Record<string, string> = {}) {
  return new CdcDaemon({
    config: loadCdcConfig({ ...f.env, ...env }),
    pool: f.pool,
    logger: quietLogger,
    standbyPollMs: 100,
  });
}
const historyCount = async (status: string) =>
  Number((await f.pool.query('SELECT count(*) AS n FROM cdc.sync_history WHERE status = $1', [status])).rows[0].n);

test('the daemon account holds SELECT only, and cycles work with it', async () => {
  const ro = await mysql.createConnection({ uri: f.readOnlyUrl });
  try {
    const [grants] = await ro.query<mysql.RowDataPacket[]>('SHOW GRANTS');
    const text = grants.map((g) => String(Object.values(g)[0])).join('\n');
    expect(text).toMatch(/GRANT SELECT ON `[^`]+`\.\* TO/);
    expect(text).not.toMatch(/INSERT|UPDATE|DELETE|ALL PRIVILEGES|CREATE|DROP|ALTER|RELOAD|SUPER/);
    await expect(ro.query('INSERT INTO t VALUES (99999, 1)')).rejects.toThrow(/command denied/);
  } finally {
    await ro.end();
  }
  // A load when this test runs first, a cycle with nothing to do when it follows the others.
  expect((await f.cycle()).status).toMatch(/^(succeeded|no_changes)$/);
});

test('a tick during a running cycle is skipped and recorded; cycles never overlap', async () => {
  const d = daemon({ CDC_SCHEDULE: '0 0 1 1 *' });
  await d.start();
  try {
    await f.my.query('UPDATE t SET v = v + 1');
    const skippedBefore = await historyCount('skipped');
    const [first, second, third] = await Promise.all([d.runNow(), d.runNow(), d.runNow()]);
    expect(first?.status).toBe('succeeded');
    expect(second).toBeUndefined();
    expect(third).toBeUndefined();
    expect(d.status().skippedTicks).toBe(2);
    expect((await historyCount('skipped')) - skippedBefore).toBe(2);
  } finally {
    await d.stop();
  }
});

test('cycles that keep overrunning the schedule warn once a minute, with the ticks skipped since', async () => {
  const { logger, lines: warnings } = capturingLogger<{ message: string; skippedTicks?: number }>();
  let cycles = 0;
  const d = new CdcDaemon({
    config: loadCdcConfig({ ...f.env, CDC_SCHEDULE: '0 0 1 1 *' }),
    pool: f.pool,
    logger,
    standbyPollMs: 100,
    onCycle: () => cycles++,
  });
  await d.start();
  try {
    expect(await waitFor(async () => !d.status().running, 10_000)).toBe(true);
    // Three cycles, each with two ticks that found it running; each round's missed tick starts
    // one more cycle as soon as it ends, waited for before the next round.
    for (let round = 0; round < 3; round++) {
      await f.my.query('UPDATE t SET v = v + 1 WHERE id = 1');
      const before = cycles;
      const [ran] = await Promise.all([d.runNow(), d.runNow('tick'), d.runNow('tick')]);
      expect(ran?.status).toBe('succeeded');
      expect(await waitFor(async () => cycles === before + 2 && !d.status().running, 10_000)).toBe(true);
    }
    expect(d.status().skippedTicks).toBe(6);
    const skipped = warnings.filter((w) => /skipped/.test(w.message));
    expect(skipped).toEqual([expect.objectContaining({ skippedTicks: 1 })]);
    expect(skipped[0]!.message).toMatch(/cycles are taking longer than the schedule/);
  } finally {
    await d.stop();
  }
});

test('a tick that finds a cycle running is not lost: the next cycle starts as soon as that one ends', async () => {
  const ended: number[] = [];
  const d = new CdcDaemon({
    config: loadCdcConfig({ ...f.env, CDC_SCHEDULE: '*/5 * * * * *' }),
    pool: f.pool,
    logger: quietLogger,
    standbyPollMs: 100,
    onCycle: () => ended.push(Date.now()),
  });
  const locker = await mysql.createConnection({ uri: f.mysqlDb.url });
  try {
    await f.my.query('UPDATE t SET v = v + 1');
    // The next tick's cycle waits for this lock; the tick after it (5 s later) finds it running.
    await locker.query('LOCK TABLES t WRITE');
    const skipped = await historyCount('skipped');
    const failed = await historyCount('failed');
    await d.start();
    expect(await waitFor(async () => (await historyCount('skipped')) > skipped, 20_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    const unlockedAt = Date.now();
    await locker.query('UNLOCK TABLES');
    // The held cycle ends, and the next starts at once, not at the next tick ~4.7 s later.
    expect(await waitFor(async () => ended.filter((t) => t >= unlockedAt).length >= 2, 3_000)).toBe(true);
    expect(await historyCount('failed')).toBe(failed);
  } finally {
    await locker.end();
    await d.stop();
  }
});

test('a second daemon waits as a standby and takes over when the first stops', async () => {
  const a = daemon({ CDC_SCHEDULE: '0 0 1 1 *' });
  const b = daemon({ CDC_SCHEDULE: '0 0 1 1 *' });
  await a.start();
  await b.start();
  try {
    expect(a.status().state).toBe('active');
    expect(b.status().state).toBe('standby');
    await expect(b.runNow()).rejects.toThrow(/standby/);
    await a.stop();
    expect(await waitFor(async () => b.status().state === 'active', 5000)).toBe(true);
    expect((await b.runNow())?.status).toMatch(/succeeded|no_changes/);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('cycles run on the schedule; a failing MySQL means backoff, then recovery; pause holds ticks', async () => {
  const d = daemon({ CDC_SCHEDULE: '* * * * * *' });
  await d.start();
  try {
    await f.my.query('UPDATE t SET v = v + 1 WHERE id = 1');
    expect(await waitFor(async () => d.status().lastOutcome?.status === 'succeeded', 5000)).toBe(true);
    await d.pause();
    await new Promise((r) => setTimeout(r, 300));
    const before = Number((await f.pool.query('SELECT max(id) AS n FROM cdc.sync_history')).rows[0].n);
    await new Promise((r) => setTimeout(r, 2200));
    expect(Number((await f.pool.query('SELECT max(id) AS n FROM cdc.sync_history')).rows[0].n)).toBe(before);
    // The pause outlives the process: a daemon started after it (a restart, a standby's takeover) stays paused.
    await d.stop();
    await d.start();
    expect(d.status()).toMatchObject({ state: 'active', paused: true });
    await new Promise((r) => setTimeout(r, 2200));
    expect(Number((await f.pool.query('SELECT max(id) AS n FROM cdc.sync_history')).rows[0].n)).toBe(before);
    await d.resume();
    expect(
      await waitFor(
        async () => Number((await f.pool.query('SELECT max(id) AS n FROM cdc.sync_history')).rows[0].n) > before,
        5000,
      ),
    ).toBe(true);
  } finally {
    await d.stop();
  }

  const broken = daemon({
    CDC_SCHEDULE: '* * * * * *',
    CDC_MYSQL_URL: 'mysql://root@127.0.0.1:1/none',
    CDC_BACKOFF_MS: '2000',
  });
  await broken.start();
  try {
    expect(await waitFor(async () => broken.status().consecutiveFailures >= 1, 5000)).toBe(true);
    const s = broken.status();
    expect(s.lastError?.code).toBe('MYSQL_UNAVAILABLE');
    expect(s.retryAt!.getTime()).toBeGreaterThan(Date.now());
    // Ticks inside the backoff window do not run: one failure recorded, not one per second.
    await new Promise((r) => setTimeout(r, 1500));
    expect(broken.status().consecutiveFailures).toBe(1);
  } finally {
    await broken.stop();
  }
  expect(
    Number(
      (await f.pool.query("SELECT count(*) AS n FROM cdc.sync_history WHERE error_code = 'MYSQL_UNAVAILABLE'")).rows[0]
        .n,
    ),
  ).toBe(1);
});

test('stop() aborts a long cycle at a safe point: it rolls back and is recorded', async () => {
  await f.my.query('CREATE TABLE slow (id INT PRIMARY KEY, v VARCHAR(100))');
  await f.my.query('INSERT INTO slow VALUES ?', [Array.from({ length: 20_000 }, (_, i) => [i + 1, 'x'.repeat(90)])]);
  const d = daemon({ CDC_SCHEDULE: '0 0 1 1 *', CDC_LOAD_BATCH_ROWS: '500', CDC_CHUNK_ROWS: '100' });
  await d.start();
  const running = d.runNow();
  await waitFor(
    async () =>
      Number(
        (await f.pool.query("SELECT COALESCE(max(loaded_rows), 0) AS n FROM cdc.tables WHERE table_name = 'slow'"))
          .rows[0].n,
      ) > 0,
    10_000,
  );
  await d.stop();
  expect(await running).toBeUndefined();
  const { rows } = await f.pool.query('SELECT status, error_code FROM cdc.sync_history ORDER BY id DESC LIMIT 1');
  expect(rows[0]).toEqual({ status: 'failed', error_code: 'ABORTED' });
  const loaded = Number(
    (await f.pool.query("SELECT loaded_rows AS n FROM cdc.tables WHERE table_name = 'slow'")).rows[0].n,
  );
  expect(loaded).toBeGreaterThan(0);
  expect(loaded).toBeLessThan(20_000);
  // The next cycle finishes the load from there.
  expect((await f.cycle()).status).toBe('succeeded');
  expect((await f.verifyAll()).filter((x) => x.missing + x.extra + x.different > 0)).toEqual([]);
});
