import request from 'supertest';
import { type WebhookReceiver, signatureValid, startWebhookReceiver } from '../../test/support/webhook-receiver';
import { CONSOLE_TOKEN, createConsoleFixture, type ConsoleFixture } from './console-fixture';
import { csrfFrom, loggedIn, postForm as postPageForm } from './portal-fixture';

// The console v2 through HTTP as operators, staff and students meet it: the table page, a row's
// history, the charts, triggers (through the daemon's admin API, to a real receiver) and alerts.
const SECRET = 'console-v2-secret-0123456789';
let c: ConsoleFixture;
let hook: WebhookReceiver;

beforeAll(async () => {
  c = await createConsoleFixture(8, { CDC_SKIP_HINTS: 'false' });
  hook = await startWebhookReceiver();
}, 60_000);
afterAll(async () => {
  await hook?.close();
  await c?.close();
});

const as = (username: string) => loggedIn(c.portal, username);
type Agent = Awaited<ReturnType<typeof as>>;
const postForm = (agent: Agent, url: string, fields: Record<string, string> = {}) =>
  postPageForm(agent, '/ops/triggers', url, fields);

const PAGES = [
  '/ops/tables',
  '/ops/tables/students',
  '/ops/tables/students/history?id=1',
  '/ops/charts',
  '/ops/triggers',
  '/ops/alerts',
];

test('students and staff get 403 on every console page and control; anonymous visitors go to the login', async () => {
  for (const user of ['student1', 'staff']) {
    const agent = await as(user);
    for (const url of PAGES) expect([url, (await agent.get(url)).status]).toEqual([url, 403]);
    const csrf = csrfFrom((await agent.get('/courses')).text);
    for (const url of ['/ops/triggers', '/ops/triggers/x/fire'])
      expect((await agent.post(url).type('form').send({ _csrf: csrf, name: 'x' })).status).toBe(403);
  }
  for (const url of PAGES) expect((await request(c.portal.app).get(url)).status).toBe(302);
  const op = await as('operator');
  for (const url of PAGES) expect([url, (await op.get(url)).status]).toEqual([url, 200]);
});

test('the table page: exact rows in MySQL and the mirror, chunks, verify result, history size, recent changes', async () => {
  const op = await as('operator');
  const list = await op.get('/ops/tables');
  expect(list.text).toContain('<a href="/ops/tables/students">students</a>');
  // As before any verify: the alerts test verifies `students` too, and may have run first.
  await c.pool.query("DELETE FROM cdc.verify_results WHERE table_name = 'students'");
  const before = await op.get('/ops/tables/students');
  const { n } = (await c.f.db('students').count<{ n: number }[]>({ n: '*' }).first())!;
  expect(before.text).toContain(`<dd id="mysql-rows">${n}</dd>`);
  expect(before.text).toMatch(new RegExp(`<dd id="mirror-rows">${n}\\s*</dd>`));
  expect(before.text).toContain('never verified');
  expect(before.text).toMatch(/Latest versions in history\.students/);
  // Counts and sizes read as words: one chunk, not "1 chunks"; a small history in KiB, not "0.0 MiB".
  expect(before.text).toMatch(new RegExp(`<dt>Chunks</dt><dd>1 chunk, ${n} rows at the last cycle</dd>`));
  expect(before.text).toMatch(/<dt>History<\/dt><dd>≈\d+ versions?, [\d.]+ (B|KiB)</);
  await c.watch.delivery.verify('students');
  const after = await op.get('/ops/tables/students');
  expect(after.text).toMatch(/<dd id="last-verify"><span class="ok">the mirror equalled MySQL<\/span>/);
  expect((await op.get('/ops/tables/no_such_table')).status).toBe(404);
  // Where the rolling re-verification of a skipped table stands (the hint as a cycle stores it).
  await c.pool.query(`UPDATE cdc.tables SET skip_hint = $1 WHERE table_name = 'students'`, [
    {
      updateTime: null,
      readAt: '2026-01-01 10:00:00',
      scannedAt: Date.now() - 5000,
      rolling: { next: 3, chunks: 12, passStartedAt: Date.now() - 5000, lastAt: Date.now(), owed: 0.5 },
    },
  ]);
  expect((await op.get('/ops/tables/students')).text).toMatch(
    /Every chunk verified since<\/dt><dd>[^<]*\(5 s ago\); rolling re-verification at chunk 4 of 12/,
  );
  // A big table's history still owed the first versions of its loaded rows (as a cycle stores it).
  expect((await op.get('/ops/tables/students')).text).not.toContain('history-backfill');
  await c.pool.query(`UPDATE cdc.tables SET history_backfill = $1 WHERE table_name = 'students'`, [
    { at: '2026-01-01T10:00:00.000Z', syncId: '1', after: ['42'], rows: 3 },
  ]);
  const { loaded } = (
    await c.pool.query(`SELECT loaded_rows::int AS loaded FROM cdc.tables WHERE table_name = 'students'`)
  ).rows[0];
  expect((await op.get('/ops/tables/students')).text).toMatch(
    new RegExp(
      `id="history-backfill">\\(first versions of the loaded rows still being written, a slice after each cycle, after key 42: ${(loaded - 3).toLocaleString('en-US')} of ${loaded.toLocaleString('en-US')} loaded rows to go;`,
    ),
  );
  await c.pool.query(`UPDATE cdc.tables SET history_backfill = NULL WHERE table_name = 'students'`);
  // A unique key its load could not build again yet (as a load stores it).
  expect((await op.get('/ops/tables/students')).text).not.toContain('keys-to-build');
  await c.pool.query(
    `UPDATE cdc.tables SET keys_to_build = '{students_uq_students_email}' WHERE table_name = 'students'`,
  );
  expect((await op.get('/ops/tables/students')).text).toContain(
    'id="keys-to-build">(unique keys not built yet: students_uq_students_email; the load read a value MySQL moved',
  );
  await c.pool.query(`UPDATE cdc.tables SET keys_to_build = NULL WHERE table_name = 'students'`);
});

test("a row's history: every version with valid_from/valid_to, op and cycle, changed fields highlighted, as of a time", async () => {
  const student = await c.f.db('students').orderBy('id').first();
  const id = student.id as number;
  await c.f.db('students').where({ id }).update({ first_name: 'Ottilie' });
  await c.daemon.runNow();
  const between = new Date();
  await new Promise((r) => setTimeout(r, 1_100));
  await c.f.db('students').where({ id }).update({ first_name: 'Philippa', last_name: 'Quell' });
  await c.daemon.runNow();
  const op = await as('operator');
  const page = await op.get(`/ops/tables/students/history?id=${id}`);
  expect(page.status).toBe(200);
  expect(page.text).toContain('3 versions');
  expect(page.text).toContain('<td class="changed">Ottilie</td>');
  expect(page.text).toContain('<td class="changed">Philippa</td>');
  expect(page.text).toContain('<td class="changed">Quell</td>');
  expect(page.text).toMatch(/<td>first_name, last_name<\/td>/);
  const asOf = between.toISOString();
  const old = await op.get(`/ops/tables/students/history?id=${id}&as_of=${asOf}`);
  expect(old.text).toContain(`The row as of ${asOf.replace('T', ' ').slice(0, 19)} UTC`);
  expect(old.text).toMatch(/<th scope="row">first_name<\/th><td>Ottilie<\/td>/);
  const early = await op.get(`/ops/tables/students/history?id=${id}&as_of=2001-01-01T00:00`);
  expect(early.text).toContain('The row did not exist at that time');

  const bad = [
    ['/ops/tables/students/history?id=abc', 'not a valid value for students'],
    [`/ops/tables/students/history?id=${id}&as_of=yesterday`, 'must be a time like 2026-11-21T14:30 (UTC)'],
    [`/ops/tables/students/history?id=${id}&page=0`, 'must be a whole number from 1'],
  ];
  for (const [url, message] of bad) {
    const res = await op.get(url!);
    expect([url, res.status]).toEqual([url, 400]);
    expect(res.text).toContain(message);
  }
  expect((await op.get('/ops/tables/students/history?id=999999999')).text).toContain('No version of this key');
});

test('charts: four server-rendered SVG charts with axes and units over a window; a bad window is a 400', async () => {
  const op = await as('operator');
  for (const window of ['hour', 'day', 'week']) {
    const res = await op.get(`/ops/charts?window=${window}`);
    expect(res.status).toBe(200);
    for (const id of ['duration', 'changes', 'freshness', 'sink-lag'])
      expect(res.text).toMatch(new RegExp(`<figure class="chart" id="chart-${id}">[\\s\\S]*?<svg`));
    expect(res.text).toMatch(/<text[^>]*>ms<\/text>/);
    expect(res.text).toMatch(/<text[^>]*>UTC<\/text>/);
    expect(res.text).not.toContain('<script');
    // The window shown is marked as the current one, the two others are links to theirs.
    expect(res.text.match(/<a href="\/ops\/charts\?window=(\w+)" aria-current="page">/g)).toEqual([
      `<a href="/ops/charts?window=${window}" aria-current="page">`,
    ]);
  }
  const bad = await op.get('/ops/charts?window=year');
  expect(bad.status).toBe(400);
  expect(bad.text).toContain('must be one of hour, day, week');
});

test('triggers from the console: add (bad input re-shown with the reason), fire to a real receiver, pause, resume, remove', async () => {
  const op = await as('operator');
  const noCondition = await postForm(op, '/ops/triggers', { name: 'nightly', table: 'students', webhook: hook.url });
  expect(noCondition.status).toBe(400);
  expect(noCondition.text).toContain('give minChanges and/or maxAgeSeconds');
  expect(noCondition.text).toContain('value="nightly"');
  const badNumber = await postForm(op, '/ops/triggers', { name: 'n', table: 'students', min_changes: 'many' });
  expect(badNumber.status).toBe(400);
  expect(badNumber.text).toContain('Minimum changes must be a whole number');

  const added = await postForm(op, '/ops/triggers', {
    name: 'enrolments-hook',
    table: 'enrollments',
    min_changes: '3',
    webhook: hook.url,
    secret: SECRET,
  });
  expect(added.status).toBe(303);
  const page = await op.get('/ops/triggers');
  expect(page.text).toContain('<tr data-trigger="enrolments-hook">');
  // The path of a webhook URL is often its credential: only scheme and host are shown.
  expect(page.text).toContain(`POST ${new URL(hook.url).origin}/… (signed)`);
  expect(page.text).not.toContain(hook.url);
  expect(page.text).not.toContain(SECRET);
  const dup = await postForm(op, '/ops/triggers', {
    name: 'enrolments-hook',
    table: '*',
    max_age: '5',
    action: 'verify',
  });
  expect(dup.status).toBe(409);
  expect(dup.text).toContain('exists already');

  const fired = await postForm(op, '/ops/triggers/enrolments-hook/fire');
  expect(fired.status).toBe(303);
  expect((await op.get('/ops/triggers')).text).toMatch(/Trigger enrolments-hook fired \(firing #\d+\): delivered\./);
  expect(hook.received).toHaveLength(1);
  expect(hook.received[0]!.body).toMatchObject({ trigger: 'enrolments-hook', reason: 'fired by an operator' });
  expect(signatureValid(SECRET, hook.received[0]!)).toBe(true);

  expect((await postForm(op, '/ops/triggers/enrolments-hook/pause')).status).toBe(303);
  expect((await op.get('/ops/triggers')).text).toMatch(/<td>paused<\/td>/);
  expect((await postForm(op, '/ops/triggers/enrolments-hook/resume')).status).toBe(303);
  expect((await postForm(op, '/ops/triggers/enrolments-hook/explode')).status).toBe(404);
  expect((await postForm(op, '/ops/triggers/nobody/fire')).status).toBe(404);
  expect((await postForm(op, '/ops/triggers/enrolments-hook/remove')).status).toBe(303);
  expect((await op.get('/ops/triggers')).text).not.toContain('data-trigger="enrolments-hook"');
});

test('alerts: drift found by verify shows as a banner on every console page until a verify finds none', async () => {
  const op = await as('operator');
  const id = (await c.f.db('students').orderBy('id').first()).id;
  await c.pool.query("UPDATE public.students SET first_name = 'tampered' WHERE id = $1", [id]);
  await c.watch.delivery.verify('students');
  await c.watch.step();
  for (const url of ['/ops/tables', '/ops/sync-history', '/ops/charts']) {
    const page = await op.get(url);
    expect(page.text).toContain('1 open alert');
    expect(page.text).toMatch(
      /<li data-alert-kind="drift"><strong>drift · students<\/strong>: Verify found drift in students at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: rows 0 missing, 0 extra, 1 different\./,
    );
  }
  expect((await op.get('/ops/tables')).text).toMatch(/drift \(1 row\)<\/span>/);
  const metrics = await request(c.daemonApp).get('/metrics');
  expect(metrics.text).toMatch(/cdc_alerts_open\{kind="drift"\} 1/);
  const restored = (await c.f.db('students').where({ id }).first()).first_name;
  await c.pool.query('UPDATE public.students SET first_name = $2 WHERE id = $1', [id, restored]);
  await c.watch.delivery.verify('students');
  await c.watch.step();
  expect((await op.get('/ops/tables')).text).not.toContain('open alert');
  const alerts = await op.get('/ops/alerts');
  expect(alerts.text).toMatch(/<td class="ok">resolved<\/td><td>drift<\/td><td>students<\/td>/);
  expect(alerts.text).toContain('the last verify of students found no drift');
});

describe('the daemon admin API for triggers and alerts', () => {
  const api = () => request(c.daemonApp);
  const auth = { Authorization: `Bearer ${CONSOLE_TOKEN}` };
  test('needs the token; bad JSON, a bad trigger, a taken name and an unknown one are answered clearly', async () => {
    expect((await api().get('/triggers')).status).toBe(401);
    const malformed = await api().post('/triggers').set(auth).set('content-type', 'application/json').send('{"name":');
    expect(malformed.status).toBe(400);
    expect(malformed.body).toEqual({ error: 'BAD_REQUEST', message: expect.stringContaining('JSON') });
    const invalid = await api()
      .post('/triggers')
      .set(auth)
      .send({ name: 'a', table: '*', webhook: 'not a url', minChanges: 1 });
    expect(invalid.status).toBe(400);
    expect(invalid.body.message).toContain('webhook: expected an http');
    const extra = await api()
      .post('/triggers')
      .set(auth)
      .send({ name: 'a', table: '*', maxAgeSeconds: 5, action: 'verify', sql: 'x' });
    expect(extra.status).toBe(400);
    expect(extra.body.message).toContain('unknown field(s) sql');
    const ok = await api()
      .post('/triggers')
      .set(auth)
      .send({ name: 'api-verify', table: '*', maxAgeSeconds: 60, action: 'verify' });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ name: 'api-verify', action: 'verify', paused: false, signed: false });
    expect(
      (
        await api()
          .post('/triggers')
          .set(auth)
          .send({ name: 'api-verify', table: '*', maxAgeSeconds: 6, action: 'verify' })
      ).status,
    ).toBe(409);
    expect((await api().get('/triggers').set(auth)).body.triggers.map((t: { name: string }) => t.name)).toEqual([
      'api-verify',
    ]);
    const fire = await api().post('/triggers/api-verify/fire').set(auth);
    expect(fire.status).toBe(200);
    expect(fire.body.delivery).toMatchObject({ status: 'succeeded', outcome: { ok: true } });
    expect((await api().get('/triggers/api-verify/firings').set(auth)).body.firings).toHaveLength(1);
    expect((await api().post('/triggers/api-verify/pause').set(auth)).body.paused).toBe(true);
    expect((await api().post('/triggers/api-verify/resume').set(auth)).body.paused).toBe(false);
    expect((await api().delete('/triggers/api-verify').set(auth)).status).toBe(200);
    expect((await api().post('/triggers/api-verify/fire').set(auth)).status).toBe(404);
    expect((await api().get('/triggers/api-verify/firings').set(auth)).status).toBe(404);
    expect((await api().get('/alerts').set(auth)).body.alerts).toEqual(expect.any(Array));
  });
});

test('a daemon that is down raises no alert itself: the console shows a mirror older than 5 minutes anyway', async () => {
  // The portal's clock ten minutes ahead: the last successful cycle is ten minutes old.
  const later = await createConsoleFixture(2, {}, () => new Date(Date.now() + 10 * 60_000));
  try {
    const op = await loggedIn(later.portal, 'operator');
    const page = await op.get('/ops/tables');
    expect(page.text).toContain('1 open alert');
    expect(page.text).toMatch(
      /<li data-alert-kind="stale_mirror">.*No successful cycle for 6\d\d s, and the daemon has not said so/,
    );
  } finally {
    await later.close();
  }
});
