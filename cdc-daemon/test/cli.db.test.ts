import { DAEMON_LOCK_KEY } from '../src/daemon';
import { recordScheduleSetting } from '../src/record/cycle-record';
import { createCdcFixture, type CdcFixture } from './cdc-fixture';
import { runCli, startCli, waitFor } from './cli-runner';
import { randomName } from '../../test/support/databases';
import { serviceUrls } from '../../test/support/services';
import { RedisSink } from '../src/sinks/redis/redis-sink';
import { quietLogger } from './cdc-fixture';

let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture();
  await f.my.query('CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, born DATE NULL)');
  await f.my.query("INSERT INTO people VALUES (1, 'Ada', '1815-12-10'), (2, 'Alan', '1912-06-23'), (3, 'Grace', NULL)");
  // Loaded here, so the tests that read the mirror pass in any order.
  await f.cycle();
});
afterAll(() => f.close());

test('once --json loads the tables and prints one JSON object as its last line', async () => {
  // A mirror of its own: the first `once` is its load.
  const g = await createCdcFixture();
  try {
    await g.my.query('CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, born DATE NULL)');
    await g.my.query("INSERT INTO people VALUES (1, 'Ada', '1815-12-10'), (3, 'Grace', NULL)");
    await onceAsJson(g);
  } finally {
    await g.close();
  }
});

async function onceAsJson(f: CdcFixture): Promise<void> {
  const r = await runCli(['once', '--json'], f.env);
  expect(r.code).toBe(0);
  const last = JSON.parse(r.stdout.trim().split('\n').pop()!);
  expect(last).toEqual({
    syncId: expect.any(Number),
    status: 'succeeded',
    inserts: 0,
    updates: 0,
    deletes: 0,
    durationMs: expect.any(Number),
    // No table here is big enough to have its history's first versions deferred.
    backfillMs: 0,
    tables: { people: { inserts: 0, updates: 0, deletes: 0 } },
    triggers: [],
  });
  await f.my.query(
    "UPDATE people SET name = 'Ada Lovelace' WHERE id = 1; DELETE FROM people WHERE id = 3; INSERT INTO people VALUES (4, 'Edsger', '1930-05-11')",
  );
  const second = JSON.parse((await runCli(['once', '--json'], f.env)).stdout.trim().split('\n').pop()!);
  expect(second).toMatchObject({
    status: 'succeeded',
    inserts: 1,
    updates: 1,
    deletes: 1,
    tables: { people: { inserts: 1, updates: 1, deletes: 1 } },
  });
  expect(second.durationMs).toBeGreaterThanOrEqual(0);
}

test('verify exits 0 without drift and 1 with a per-table report when the mirror drifted', async () => {
  const clean = await runCli(['verify'], f.env);
  expect(clean.code).toBe(0);
  expect(clean.stdout).toContain('no drift: the mirror equals MySQL');
  await f.pool.query("UPDATE public.people SET name = 'tampered' WHERE id = 2");
  await f.pool.query('DELETE FROM public.people WHERE id = 3');
  const drift = await runCli(['verify', '--table', 'people', '--json'], f.env);
  expect(drift.code).toBe(1);
  expect(JSON.parse(drift.stdout.trim())).toMatchObject({
    ok: false,
    tables: [{ table: 'people', missing: 1, extra: 0, different: 1 }],
  });
  const unknown = await runCli(['verify', '--table', 'nope'], f.env);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain('No mirrored MySQL table is called "nope"');
});

test('resync reloads a table; the next cycle repairs the drift', async () => {
  const r = await runCli(['resync', 'people'], f.env);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('the next cycle loads it again');
  expect((await runCli(['once'], f.env)).code).toBe(0);
  expect((await runCli(['verify'], f.env)).code).toBe(0);
  const missing = await runCli(['resync', 'ghosts'], f.env);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain('No mirrored table is called "ghosts"');
});

test("a sink's commands load its driver when asked: retry redis answers; a sink without its URL is named", async () => {
  const prefix = `${randomName('cs_t')}:`;
  const redis = { REDIS_URL: serviceUrls().redisUrl, CDC_REDIS_PREFIX: prefix, SINKS: 'redis,mongo' };
  try {
    const retried = await runCli(['retry', 'redis'], { ...f.env, ...redis });
    expect(retried).toMatchObject({ code: 0, stdout: 'redis: 0 parked events delivered, 0 still parked\n' });
    const mongo = await runCli(['retry', 'mongo'], { ...f.env, ...redis, MONGO_URL: '' });
    expect(mongo.code).toBe(1);
    expect(mongo.stderr).toContain('The mongo sink has no URL configured.');
    expect(mongo.stderr).not.toMatch(/\n\s+at /);
  } finally {
    // The shared Redis keeps nothing of this test: the retry's sink bootstrapped its prefix.
    const sink = new RedisSink(redis.REDIS_URL, prefix, quietLogger);
    await sink.reset().finally(() => sink.close());
  }
});

test('status and history show what operators look for', async () => {
  await f.cycle(); // a second cycle, whichever tests ran before
  const status = await runCli(['status'], f.env);
  expect(status.code).toBe(0);
  expect(status.stdout).toMatch(/daemon: not running/);
  expect(status.stdout).toMatch(/people\s+active/);
  const history = await runCli(['history', '--limit', '2', '--json'], f.env);
  const rows = JSON.parse(history.stdout);
  expect(rows).toHaveLength(2);
  expect(rows[0]).toMatchObject({ status: expect.stringMatching(/succeeded|no_changes/) });
  const bad = await runCli(['history', '--limit', 'lots'], f.env);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain('expected a whole number, got "lots"');
});

test('once refuses while a daemon holds the lock', async () => {
  const holder = await f.pool.connect();
  try {
    await holder.query('SELECT pg_advisory_lock($1)', [DAEMON_LOCK_KEY]);
    const r = await runCli(['once'], f.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('A daemon is running against this mirror');
  } finally {
    await holder.query('SELECT pg_advisory_unlock($1)', [DAEMON_LOCK_KEY]);
    holder.release();
  }
});

test('bad configuration and unreachable databases fail with clear messages and exit 1', async () => {
  const badConfig = await runCli(['once'], { CDC_MYSQL_URL: 'http://x', CDC_CHUNK_ROWS: '0' });
  expect(badConfig.code).toBe(1);
  expect(badConfig.stderr).toContain('CDC_MYSQL_URL: expected a URL starting with mysql://');
  expect(badConfig.stderr).toContain('POSTGRES_URL');
  expect(badConfig.stderr).toContain('CDC_CHUNK_ROWS');
  const noMysql = await runCli(['once', '--json'], { ...f.env, CDC_MYSQL_URL: 'mysql://root@127.0.0.1:1/nothing' });
  expect(noMysql.code).toBe(1);
  expect(noMysql.stderr).toContain('MySQL is unreachable');
  const { rows } = await f.pool.query('SELECT status, error_code FROM cdc.sync_history ORDER BY id DESC LIMIT 1');
  expect(rows[0]).toEqual({ status: 'failed', error_code: 'MYSQL_UNAVAILABLE' });
  const noPg = await runCli(['once'], { ...f.env, POSTGRES_URL: 'postgres://postgres@127.0.0.1:1/nothing' });
  expect(noPg.code).toBe(1);
  expect(noPg.stderr).toMatch(/ECONNREFUSED|unreachable/);
  const backoff = await runCli(['once'], { ...f.env, CDC_BACKOFF_MS: '5000', CDC_BACKOFF_MAX_MS: '1000' });
  expect(backoff.code).toBe(1);
  expect(backoff.stderr).toContain('CDC_BACKOFF_MAX_MS: must be at least CDC_BACKOFF_MS');
});

test('a PostgreSQL database that does not exist: one clear line for a command, retries for the daemon', async () => {
  const missing = new URL(f.pgDb.url);
  missing.pathname = '/cs_no_such_database';
  const once = await runCli(['once'], { ...f.env, POSTGRES_URL: missing.toString() });
  expect(once.code).toBe(1);
  expect(once.stderr.trim().split('\n')).toEqual([
    expect.stringContaining('The POSTGRES_URL database does not exist; create it'),
  ]);
  expect(once.stderr).not.toMatch(/\n\s+at /);
  const run = startCli(['run'], {
    ...f.env,
    POSTGRES_URL: missing.toString(),
    CDC_BACKOFF_MS: '100',
    LOG_LEVEL: 'warn',
  });
  let stderr = '';
  run.child.stderr!.on('data', (d) => (stderr += d));
  const retries = () => stderr.split('\n').filter((l) => l.includes('The POSTGRES_URL database does not exist')).length;
  expect(await waitFor(async () => retries() >= 2, 30_000, 100)).toBe(true);
  expect(run.child.exitCode).toBeNull();
  run.child.kill('SIGTERM');
  const result = await run.done;
  expect(result.stderr).not.toMatch(/\n\s+at /);
});

test('pause and resume from the CLI reach the running daemon at once, and a daemon started later', async () => {
  const finished = async () =>
    Number((await f.pool.query("SELECT max(id) AS n FROM cdc.sync_history WHERE status <> 'running'")).rows[0].n);
  const run = startCli(['run'], { ...f.env, CDC_SCHEDULE: '* * * * * *', LOG_LEVEL: 'info' });
  try {
    const start = await finished();
    expect(await waitFor(async () => (await finished()) > start, 15_000)).toBe(true);
    const paused = await runCli(['pause'], f.env);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toContain('paused: the running daemon starts no more cycles on its schedule');
    await new Promise((r) => setTimeout(r, 1_500)); // a cycle in flight finishes
    const before = await finished();
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await finished()).toBe(before);
    expect((await runCli(['status'], f.env)).stdout).toMatch(/^schedule: paused since /m);
    const resumed = await runCli(['resume'], f.env);
    expect(resumed.stdout).toContain('resumed: the running daemon runs its cycles on its schedule again');
    expect(await waitFor(async () => (await finished()) > before, 10_000)).toBe(true);
  } finally {
    run.child.kill('SIGTERM');
    await run.done;
  }
  // With no daemon running, a pause waits for the next one.
  const alone = await runCli(['pause'], f.env);
  expect(alone.stdout).toContain('paused: no daemon is running; the next one starts paused');
  expect((await runCli(['resume'], f.env)).stdout).toContain('resumed: no daemon is running');
});

test('run holds the lock, cycles on its schedule, and stops cleanly on SIGTERM', async () => {
  const run = startCli(['run'], { ...f.env, CDC_SCHEDULE: '* * * * * *' });
  const before = Number((await f.pool.query('SELECT max(id) AS n FROM cdc.sync_history')).rows[0].n);
  expect(
    await waitFor(
      async () =>
        Number((await f.pool.query("SELECT max(id) AS n FROM cdc.sync_history WHERE status <> 'running'")).rows[0].n) >
        before,
      15_000,
    ),
  ).toBe(true);
  expect((await runCli(['status'], f.env)).stdout).toContain('daemon: running (holds the lock)');
  run.child.kill('SIGTERM');
  const done = await run.done;
  expect(done.code).toBe(0);
  expect((await runCli(['status'], f.env)).stdout).toContain('daemon: not running');
  // A pause an operator left (through the console or the admin API) is shown, since the next run keeps it.
  await recordScheduleSetting(f.pool, true);
  expect((await runCli(['status'], f.env)).stdout).toMatch(/^schedule: paused since \d{4}-\d\d-\d\dT/m);
  await recordScheduleSetting(f.pool, false);
  expect((await runCli(['status'], f.env)).stdout).not.toContain('schedule: paused');
  const bad = await runCli(['run'], { ...f.env, CDC_SCHEDULE: 'every minute' });
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain('CDC_SCHEDULE: not a valid cron expression');
});
