import { Pool } from 'pg';
import request from 'supertest';
import type { CdcDaemon } from '../../cdc-daemon/src/daemon';
import type { PortalApp } from '../src/app';
import { createConsoleFixture, type ConsoleFixture } from './console-fixture';
import { csrfFrom, loggedIn, testApp, type PortalFixture } from './portal-fixture';
import { createPostgresDatabase } from '../../test/support/databases';
import { freePort } from '../../lib/free-port';
import { createKnex } from '../src/db/knex';
import { waitFor } from '../../cdc-daemon/test/cli-runner';

let c: ConsoleFixture;
let f: PortalFixture;
let pool: Pool;
let daemon: CdcDaemon;
let console_: PortalApp;

beforeAll(async () => {
  c = await createConsoleFixture(6);
  ({ f, pool, daemon, portal: console_ } = c);
}, 60_000);
afterAll(() => c?.close());

const as = (username: string) => loggedIn(console_, username);

test('students and staff get 403 on the console; an operator lands on the sync history', async () => {
  for (const user of ['student1', 'staff']) {
    const agent = await as(user);
    expect((await agent.get('/ops/sync-history')).status).toBe(403);
    expect((await agent.get('/ops/sinks')).status).toBe(403);
  }
  const anon = await request(console_.app).get('/ops/sync-history');
  expect(anon.status).toBe(302);
  const op = await as('operator');
  const page = await op.get('/ops/sync-history');
  expect(page.status).toBe(200);
  expect(page.text).toContain('Last successful cycle');
  // The daemon published its bound: skip hints on by default, 120 s margin, 300 s full sweep.
  expect(page.text).toMatch(
    /open longer than 120 s can reach the mirror up to <strong>300 s<\/strong> after its commit/,
  );
  expect(page.text).toMatch(/<a href="\/ops\/sync-history\/1">1<\/a><\/td><td>succeeded/);
  // The first cycle loaded the tables: the list says how many rows, not only 0 inserted.
  const { rows: loaded } = await pool.query('SELECT rows_loaded::int AS n FROM cdc.sync_history WHERE id = 1');
  expect(loaded[0].n).toBeGreaterThan(0);
  expect(/sync-history\/1">1<\/a>.*?<td class="num">(\d+)<\/td><td><\/td><\/tr>/.exec(page.text)?.[1]).toBe(
    String(loaded[0].n),
  );
  // The overrun banner shows exactly when ticks found a cycle running lately (a later test
  // makes some; this one may run after it).
  const { rows: overran } = await pool.query(
    "SELECT count(*)::int AS n FROM cdc.sync_history WHERE status = 'skipped' AND started_at > now() - interval '10 minutes'",
  );
  expect(page.text.includes('Cycles are taking longer than the schedule')).toBe(overran[0].n > 0);
  const detail = await op.get('/ops/sync-history/1');
  expect(detail.text).toContain('Per table');
  expect(detail.text).toContain('<td>courses</td>');
});

test('filters: by status and table; bad input answered clearly', async () => {
  const op = await as('operator');
  expect((await op.get('/ops/sync-history?status=failed')).text).toContain('0 cycles');
  // The cycles that changed or loaded `courses`, or failed on it: the load, and those of the tests before.
  const { rows: touched } = await pool.query(
    `SELECT count(*)::int AS n FROM cdc.sync_history h
      WHERE EXISTS (SELECT 1 FROM cdc.sync_history_tables t WHERE t.sync_id = h.id AND t.table_name = 'courses')
         OR h.error_table = 'courses'`,
  );
  expect(touched[0].n).toBeGreaterThanOrEqual(1);
  expect((await op.get('/ops/sync-history?table=courses')).text).toContain(
    `<caption>${touched[0].n === 1 ? '1 cycle' : `${touched[0].n} cycles`}</caption>`,
  );
  const bad = await op.get('/ops/sync-history?status=bogus');
  expect(bad.status).toBe(400);
  expect(bad.text).toContain('status must be one of');
  const reversed = await op.get('/ops/sync-history?from=2026-12-01&to=2026-11-01');
  expect(reversed.status).toBe(400);
  expect(reversed.text).toContain('The date range is reversed');
  expect((await op.get('/ops/sync-history?table=nope')).status).toBe(400);
  expect((await op.get('/ops/sync-history/999999')).status).toBe(404);
});

test('ticks that found a cycle still running are shown: cycles take longer than the schedule', async () => {
  // Two ticks come while a cycle runs: the daemon records them and starts the next at once.
  const [ran] = await Promise.all([daemon.runNow(), daemon.runNow('tick'), daemon.runNow('tick')]);
  expect(ran).toBeDefined();
  const page = await (await as('operator')).get('/ops/sync-history');
  expect(page.text).toMatch(
    /Cycles are taking longer than the schedule: in the last 10 minutes 2 ticks found a cycle still running \(\d+ cycles? ran, \d+\.\d s at the median\)/,
  );
  // The missed ticks start one more cycle as soon as that one ends: the next test's manual cycle
  // would get a 409 while it runs (it did, once, on a loaded machine).
  const caughtUp = async () =>
    !daemon.status().running &&
    (
      await pool.query(
        "SELECT count(*)::int AS n FROM cdc.sync_history WHERE id > $1 AND status <> 'skipped' AND finished_at IS NOT NULL",
        [ran!.syncId],
      )
    ).rows[0].n >= 1;
  expect(await waitFor(caughtUp)).toBe(true);
});

test('controls go through the daemon admin API: pause really pauses, a cycle runs, resync needs a real table', async () => {
  const op = await as('operator');
  const page = await op.get('/ops/sync-history');
  const post = (action: string, fields: Record<string, string> = {}) =>
    op
      .post(`/ops/actions/${action}`)
      .type('form')
      .send({ ...fields, _csrf: csrfFrom(page.text) });
  expect((await op.get('/ops/sync-history')).text).not.toContain('Resume schedule');
  expect((await post('pause')).status).toBe(303);
  expect(daemon.status().paused).toBe(true);
  // The page says so, and offers the one control that applies.
  const pausedPage = (await op.get('/ops/sync-history')).text;
  expect(pausedPage).toMatch(/The schedule is paused since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  expect(pausedPage).toContain('Resume schedule');
  expect(pausedPage).not.toContain('Pause schedule');
  expect((await post('resume')).status).toBe(303);
  expect(daemon.status().paused).toBe(false);
  const runningPage = (await op.get('/ops/sync-history')).text;
  expect(runningPage).not.toContain('The schedule is paused');
  expect(runningPage).toContain('Pause schedule');
  await f.db('courses').where({ id: f.ids.courseA }).update({ title: 'Renamed by the console test' });
  const cycled = await post('cycle');
  expect(cycled.status).toBe(303);
  expect((await op.get('/ops/sync-history')).text).toMatch(/Cycle \d+ succeeded: 0 inserts, 1 update, 0 deletes\./);
  expect((await pool.query('SELECT title FROM public.courses WHERE id = $1', [f.ids.courseA])).rows[0].title).toBe(
    'Renamed by the console test',
  );
  // Nothing changed since: the next cycle says so in words, not as its status token.
  expect((await post('cycle')).status).toBe(303);
  expect((await op.get('/ops/sync-history')).text).toMatch(/Cycle \d+ found no changes\./);
  expect((await post('verify')).status).toBe(303);
  const { rows: mirrored } = await pool.query("SELECT count(*)::int AS n FROM cdc.tables WHERE status = 'active'");
  expect((await op.get('/ops/sync-history')).text).toContain(
    `Verified ${mirrored[0].n} tables: the mirror equals MySQL.`,
  );
  expect((await post('resync', { table: 'no_such_table' })).status).toBe(404);
  expect((await post('retry', { sink: '' })).status).toBe(400);
  const student = await as('student1');
  const sp = await student.get('/courses');
  expect(
    (
      await student
        .post('/ops/actions/pause')
        .type('form')
        .send({ _csrf: csrfFrom(sp.text) })
    ).status,
  ).toBe(403);
  expect(daemon.status().paused).toBe(false);
});

test("without the daemon's admin API the sync history offers no controls that could only fail, and says how to get them", async () => {
  const portal = testApp({ db: f.db, mysqlUrl: f.mysql.url, pg: pool, bcryptRounds: 4 });
  try {
    const page = await (await loggedIn(portal, 'operator')).get('/ops/sync-history');
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('Run a cycle now');
    expect(page.text).not.toContain('action="/ops/actions/');
    expect(page.text).toContain('set <code>CDC_ADMIN_URL</code> and <code>CDC_ADMIN_TOKEN</code> for the portal');
  } finally {
    await portal.close();
  }
  // The console with the admin API has them.
  expect((await (await as('operator')).get('/ops/sync-history')).text).toContain('Run a cycle now');
});

test('the sinks page lists each sink with its lag', async () => {
  await pool.query("INSERT INTO cdc.sink_offsets (sink, status) VALUES ('redis', 'following') ON CONFLICT DO NOTHING");
  const op = await as('operator');
  const res = await op.get('/ops/sinks');
  expect(res.status).toBe(200);
  expect(res.text).toContain('<td>redis</td><td>following</td>');
  expect(res.text).toContain('Retry parked');
  // When the sink was last built from the mirror, and when it last received an event.
  await pool.query(
    "UPDATE cdc.sink_offsets SET bootstrapped_at = '2026-12-01T08:00:00Z', last_delivered_at = NULL WHERE sink = 'redis'",
  );
  const built = await op.get('/ops/sinks');
  expect(built.text).toMatch(
    /<td>redis<\/td>.*<td>2026-12-01 08:00:00<\/td><td class="num">\d+<\/td><td>none yet<\/td>/s,
  );
});

test('a row PostgreSQL refuses is shown to operators as quarantined, and leaves the list once fixed in MySQL', async () => {
  // Another writer than the portal (which refuses control characters) stored a NUL byte.
  await f
    .db('courses')
    .where({ id: f.ids.courseB })
    .update({ description: f.db.raw("CONCAT('bad', CHAR(0), 'byte')"), title: 'Compilers II' });
  await f.db('courses').where({ id: f.ids.courseA }).update({ title: 'Databases, renamed' });
  await daemon.runNow();
  // Everything else went through.
  expect((await pool.query('SELECT title FROM public.courses WHERE id = $1', [f.ids.courseA])).rows[0].title).toBe(
    'Databases, renamed',
  );
  const op = await as('operator');
  const page = await op.get('/ops/sync-history');
  expect(page.text).toContain('Quarantined rows (1)');
  expect(page.text).toMatch(new RegExp(`<td>courses</td><td>${f.ids.courseB}</td><td>description</td>`));
  expect(page.text).toContain('holds a NUL byte, which PostgreSQL text cannot store');

  await f.db('courses').where({ id: f.ids.courseB }).update({ description: 'fixed' });
  await daemon.runNow();
  expect((await pool.query('SELECT title FROM public.courses WHERE id = $1', [f.ids.courseB])).rows[0].title).toBe(
    'Compilers II',
  );
  expect((await op.get('/ops/sync-history')).text).not.toContain('Quarantined rows');
});

test('before the daemon has run, or with PostgreSQL or MySQL down, the pages say so (503), not "something went wrong"', async () => {
  const empty = await createPostgresDatabase();
  const pools = {
    empty: new Pool({ connectionString: empty.url }),
    down: new Pool({ connectionString: `postgres://nobody@127.0.0.1:${await freePort()}/nothing` }),
  };
  try {
    for (const [state, pg] of Object.entries(pools)) {
      const portal = testApp({ db: f.db, mysqlUrl: f.mysql.url, pg, bcryptRounds: 4 });
      try {
        const op = await loggedIn(portal, 'operator');
        for (const page of ['/ops/sync-history', '/ops/sinks', '/ops/tables']) {
          const res = await op.get(page);
          expect([state, page, res.status]).toEqual([state, page, 503]);
          expect(res.text).toContain(
            state === 'empty'
              ? 'the CDC daemon creates its state and the mirror in its first cycle. Is the daemon running'
              : 'A database this page needs cannot be reached right now.',
          );
          expect(res.text).not.toMatch(/Something went wrong|ECONNREFUSED|does not exist/);
        }
      } finally {
        await portal.close();
      }
    }
    // MySQL down: the probe answers 503 as well.
    const noMysql = `mysql://nobody@127.0.0.1:${await freePort()}/nothing`;
    const db = createKnex(noMysql);
    const portal = testApp({ db, mysqlUrl: noMysql });
    try {
      const probe = await request(portal.app).get('/healthz');
      expect(probe.status).toBe(503);
      expect(probe.text).toContain('A database this page needs cannot be reached right now.');
    } finally {
      await portal.close();
      await db.destroy();
    }
  } finally {
    await Promise.all(Object.values(pools).map((p) => p.end()));
    await empty.drop();
  }
});
