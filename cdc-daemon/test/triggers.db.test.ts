import { loadCdcConfig } from '../src/config';
import { WatchLoop } from '../src/watch/watch-loop';
import { addTrigger, listFirings } from '../src/watch/triggers';
import { parseTrigger } from '../src/watch/parse-trigger';
import { type WebhookReceiver, signatureValid, startWebhookReceiver } from '../../test/support/webhook-receiver';
import { createCdcFixture, quietLogger, type CdcFixture } from './cdc-fixture';
import { runCli, startCli, waitFor } from './cli-runner';

// Threshold triggers against a real local HTTP receiver: counts, an idle table's age threshold,
// retries, signatures, and a daemon killed between recording a firing and delivering it.
const SECRET = 'trigger-secret-0123456789abcdef';
let f: CdcFixture;
let hook: WebhookReceiver;
let nextId = 100;

beforeAll(async () => {
  f = await createCdcFixture({ CDC_SKIP_HINTS: 'false' });
  hook = await startWebhookReceiver();
  await f.my.query('CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL)');
  await f.my.query('CREATE TABLE quiet (id INT PRIMARY KEY)');
  await f.my.query('INSERT INTO items VALUES (1, 1), (2, 2), (3, 3)');
  await f.cycle();
});
afterAll(async () => {
  await hook?.close();
  await f?.close();
});
beforeEach(async () => {
  hook.received.length = 0;
  hook.otherwise(200);
  await f.pool.query('DELETE FROM cdc.triggers');
});

const watch = (env: Record<string, string> = {}) =>
  new WatchLoop({
    pool: f.pool,
    config: loadCdcConfig({ ...f.env, CDC_WEBHOOK_BACKOFF_MS: '20', CDC_WATCH_INTERVAL_MS: '50', ...env }),
    logger: quietLogger,
  });
const insertRows = async (n: number) => {
  const values = Array.from({ length: n }, () => `(${nextId++}, 0)`).join(', ');
  await f.my.query(`INSERT INTO items VALUES ${values}`);
};
const firingsOf = async (name: string) => listFirings(f.pool, name);

test('a count threshold fires once when enough rows changed, with a signed summary by op, cycles and window', async () => {
  await addTrigger(
    f.pool,
    parseTrigger({ name: 'big-change', table: 'items', minChanges: 5, webhook: hook.url, secret: SECRET }),
  );
  const w = watch();
  await insertRows(3);
  const first = await f.cycle();
  expect((await w.step())?.fired).toEqual([]);
  await f.my.query('UPDATE items SET v = v + 10 WHERE id IN (1, 2)');
  await f.my.query('DELETE FROM items WHERE id = 3');
  const second = await f.cycle();
  const step = await w.step();
  expect(step?.fired).toHaveLength(1);
  expect(hook.received).toHaveLength(1);
  const [r] = hook.received;
  expect(r!.body).toMatchObject({
    event: 'trigger.fired',
    trigger: 'big-change',
    table: 'items',
    counts: { insert: 3, update: 2, delete: 1, load: 0, total: 6 },
    tables: { items: { insert: 3, update: 2, delete: 1, load: 0 } },
    syncIds: { first: Number(first.syncId), last: Number(second.syncId), cycles: 2 },
  });
  expect(String(r!.body.reason)).toContain('reached min_changes 5');
  const window = r!.body.window as { from: string; to: string };
  expect(new Date(window.from).getTime()).toBeLessThanOrEqual(new Date(window.to).getTime());
  expect(r!.headers['x-campus-delivery']).toBe(r!.body.idempotencyKey);
  expect(signatureValid(SECRET, r!)).toBe(true);
  expect(signatureValid('another-secret-0123456789', r!)).toBe(false);
  // Nothing new: no second firing, however often it is evaluated.
  await w.step();
  await w.step();
  expect(hook.received).toHaveLength(1);
  expect(await firingsOf('big-change')).toMatchObject([{ status: 'succeeded', attempts: 1, action: 'webhook' }]);
});

test('an age threshold fires on the timer for a table nobody writes any more, and only while changes are pending', async () => {
  await addTrigger(f.pool, parseTrigger({ name: 'slow-trickle', table: 'items', maxAgeSeconds: 2, webhook: hook.url }));
  const armedAt = Date.now();
  await insertRows(1);
  await f.cycle();
  const w = watch();
  expect((await w.step())?.fired).toEqual([]);
  // No more cycles and no more writes: only the timer can fire it.
  w.start();
  try {
    await hook.waitFor(1, 10_000);
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]!.at - armedAt).toBeGreaterThanOrEqual(2_000);
    expect(hook.received[0]!.body).toMatchObject({ counts: { insert: 1, total: 1 } });
    expect(hook.received[0]!.headers['x-campus-signature']).toBeUndefined();
    // The pending changes were delivered: with none since, the timer fires nothing more.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(hook.received).toHaveLength(1);
  } finally {
    await w.stop();
  }
});

test('a failing receiver gets retries with the same idempotency key until it accepts; attempts run out into failed', async () => {
  await addTrigger(f.pool, parseTrigger({ name: 'flaky', table: 'items', minChanges: 1, webhook: hook.url }));
  hook.respond(500, 503);
  await insertRows(2);
  await f.cycle();
  const w = watch();
  const first = await w.step();
  expect(first?.delivered).toMatchObject([
    { status: 'pending', attempts: 1, error: expect.stringContaining('HTTP 500') },
  ]);
  w.start();
  try {
    expect(await waitFor(async () => (await firingsOf('flaky'))[0]?.status === 'succeeded', 10_000)).toBe(true);
  } finally {
    await w.stop();
  }
  expect(hook.received).toHaveLength(3);
  expect(new Set(hook.received.map((r) => r.headers['x-campus-delivery'])).size).toBe(1);
  expect(new Set(hook.received.map((r) => r.raw)).size).toBe(1);
  expect(await firingsOf('flaky')).toMatchObject([{ status: 'succeeded', attempts: 3, lastError: null }]);

  hook.received.length = 0;
  hook.otherwise(503);
  await insertRows(1);
  await f.cycle();
  const limited = watch({ CDC_WEBHOOK_MAX_ATTEMPTS: '2' });
  await limited.step();
  await new Promise((r) => setTimeout(r, 100));
  await limited.step();
  await limited.step();
  expect(hook.received).toHaveLength(2);
  expect((await firingsOf('flaky'))[0]).toMatchObject({
    status: 'failed',
    attempts: 2,
    lastError: expect.stringContaining('HTTP 503'),
  });
});

test('a step attempts a firing once, even when its retry falls due before the step ends', async () => {
  await addTrigger(f.pool, parseTrigger({ name: 'slow-fail', table: 'items', minChanges: 1, webhook: hook.url }));
  // No backoff: each retry is due as soon as its attempt failed (as it is when an attempt and its
  // bookkeeping take longer than the backoff), yet it waits for the next step.
  hook.respond(500, 503);
  await insertRows(1);
  await f.cycle();
  const w = watch({ CDC_WEBHOOK_BACKOFF_MS: '0' });
  const outcomes = [];
  for (let i = 0; i < 3; i++) {
    outcomes.push(...((await w.step())?.delivered ?? []).map((d) => `${d.status} ${d.attempts}`));
    expect(hook.received).toHaveLength(i + 1);
  }
  expect(outcomes).toEqual(['pending 1', 'pending 2', 'succeeded 3']);
});

test('a verify action records its result; a paused trigger does not fire until resumed', async () => {
  await addTrigger(f.pool, parseTrigger({ name: 'check-items', table: 'items', minChanges: 1, action: 'verify' }));
  await f.pool.query("UPDATE cdc.triggers SET paused = true WHERE name = 'check-items'");
  await insertRows(1);
  await f.cycle();
  const w = watch();
  expect((await w.step())?.fired).toEqual([]);
  await f.pool.query("UPDATE cdc.triggers SET paused = false WHERE name = 'check-items'");
  const step = await w.step();
  expect(step?.fired).toHaveLength(1);
  expect(step?.delivered).toMatchObject([{ status: 'succeeded', outcome: { verified: 1, drifted: [], ok: true } }]);
  const { rows } = await f.pool.query(
    "SELECT missing, extra, different FROM cdc.verify_results WHERE table_name = 'items'",
  );
  expect(rows).toEqual([{ missing: '0', extra: '0', different: '0' }]);
});

test('a replay action sends a following sink back to a bootstrap from the mirror', async () => {
  await f.pool.query(
    "INSERT INTO cdc.sink_offsets (sink, status) VALUES ('redis', 'following') ON CONFLICT (sink) DO UPDATE SET status = 'following'",
  );
  await addTrigger(
    f.pool,
    parseTrigger({ name: 'rebuild-redis', table: 'items', minChanges: 2, action: 'replay:redis' }),
  );
  await insertRows(1);
  await f.cycle();
  const w = watch();
  expect((await w.step())?.fired).toEqual([]); // 1 change of 2
  expect((await f.pool.query("SELECT status FROM cdc.sink_offsets WHERE sink = 'redis'")).rows).toEqual([
    { status: 'following' },
  ]);
  await insertRows(1);
  await f.cycle();
  const step = await w.step();
  expect(step?.fired).toHaveLength(1);
  expect(step?.delivered).toMatchObject([{ status: 'succeeded', outcome: { sink: 'redis', replay: 'requested' } }]);
  expect((await f.pool.query("SELECT status FROM cdc.sink_offsets WHERE sink = 'redis'")).rows).toEqual([
    { status: 'bootstrapping' },
  ]);
  expect(await firingsOf('rebuild-redis')).toMatchObject([{ status: 'succeeded', attempts: 1 }]);
});

test('a daemon killed while delivering: the one recorded firing is delivered again with its key, never fired twice', async () => {
  await addTrigger(f.pool, parseTrigger({ name: 'crashy', table: 'items', minChanges: 1, webhook: hook.url }));
  hook.otherwise('hang');
  const env = { ...f.env, CDC_SCHEDULE: '* * * * * *', CDC_WATCH_INTERVAL_MS: '100', CDC_WEBHOOK_TIMEOUT_MS: '800' };
  const run = startCli(['run'], env);
  try {
    await insertRows(2);
    await hook.waitFor(1, 20_000);
    expect(hook.received).toHaveLength(1);
  } finally {
    run.child.kill('SIGKILL');
    await run.done;
  }
  const [recorded] = await firingsOf('crashy');
  expect(recorded?.status).not.toBe('succeeded');
  hook.otherwise(200);
  // The lease (timeout + 2 s) runs out; the next process to look delivers it again.
  await new Promise((r) => setTimeout(r, 3_000));
  const once = await runCli(['once'], env);
  expect(once.code).toBe(0);
  const firings = await firingsOf('crashy');
  expect(firings).toHaveLength(1);
  expect(firings[0]).toMatchObject({ status: 'succeeded', idempotencyKey: recorded!.idempotencyKey });
  expect(firings[0]!.attempts).toBeGreaterThanOrEqual(2);
  const keys = hook.received.map((r) => r.headers['x-campus-delivery']);
  expect(keys.length).toBeGreaterThanOrEqual(2);
  expect(new Set(keys)).toEqual(new Set([recorded!.idempotencyKey]));
}, 60_000);

describe('npm run cdc -- triggers', () => {
  test('add, list, pause, resume, fire and remove as an operator would; bad input is one clear line', async () => {
    const env = { ...f.env, HOOK_SECRET: SECRET };
    const bad = [
      [['--name', 'x', '--table', 'items', '--webhook', hook.url], '--min-changes and/or --max-age'],
      [['--name', 'x', '--table', 'items', '--min-changes', '1'], 'give --webhook or --action'],
      [
        ['--name', 'x', '--table', 'items', '--min-changes', '1', '--webhook', 'ftp://h/x'],
        '--webhook: expected an http',
      ],
      [
        ['--name', 'x', '--table', 'nope', '--min-changes', '1', '--webhook', hook.url],
        'No mirrored table is called "nope"',
      ],
      [
        ['--name', 'x', '--table', 'items', '--min-changes', '1', '--webhook', hook.url, '--secret', 'short'],
        '--secret: at least 16',
      ],
      [['--name', 'x y', '--table', 'items', '--min-changes', '1', '--action', 'verify'], '--name: use 1 to 64'],
      [['--name', 'x', '--table', 'items', '--min-changes', '0', '--action', 'verify'], 'expected a number from 1'],
      [['--name', 'x', '--table', 'items', '--max-age', '5', '--action', 'replay:nowhere'], 'replay:<sink>'],
    ] as const;
    for (const [args, message] of bad) {
      const r = await runCli(['triggers', 'add', ...args], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const add = await runCli(
      [
        'triggers',
        'add',
        '--name',
        'ops',
        '--table',
        '*',
        '--min-changes',
        '2',
        '--webhook',
        hook.url,
        '--secret-env',
        'HOOK_SECRET',
      ],
      env,
    );
    expect(add.code).toBe(0);
    expect(add.stdout).toContain('trigger ops added: fires at 2 changed rows on *');
    expect(
      (await runCli(['triggers', 'add', '--name', 'ops', '--table', '*', '--max-age', '9', '--action', 'verify'], env))
        .stderr,
    ).toContain('A trigger called "ops" exists already');
    const listed = await runCli(['triggers', 'list', '--json'], env);
    expect(JSON.parse(listed.stdout)).toMatchObject([
      { name: 'ops', table: '*', minChanges: 2, signed: true, paused: false },
    ]);
    expect(listed.stdout + (await runCli(['triggers', 'list'], env)).stdout).not.toContain(SECRET);
    expect(JSON.parse(listed.stdout)[0].webhookUrl).toBe(`${new URL(hook.url).origin}/…`);

    expect((await runCli(['triggers', 'pause', 'ops'], env)).stdout).toContain('trigger ops paused');
    await insertRows(3);
    const paused = JSON.parse((await runCli(['once', '--json'], env)).stdout.trim().split('\n').pop()!);
    expect(paused.triggers).toEqual([]);
    expect((await runCli(['triggers', 'resume', 'ops'], env)).code).toBe(0);
    const resumed = JSON.parse((await runCli(['once', '--json'], env)).stdout.trim().split('\n').pop()!);
    expect(resumed.triggers).toMatchObject([{ trigger: 'ops', delivery: 'succeeded' }]);
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]!.body).toMatchObject({ trigger: 'ops', table: '*', counts: { insert: 3 } });
    expect(signatureValid(SECRET, hook.received[0]!)).toBe(true);

    const fired = await runCli(['triggers', 'fire', 'ops'], env);
    expect(fired.code).toBe(0);
    expect(fired.stdout).toContain('delivered');
    expect(hook.received[1]!.body).toMatchObject({ reason: 'fired by an operator', counts: { total: 0 } });
    hook.respond(500);
    const refused = await runCli(['triggers', 'fire', 'ops'], env);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('its delivery failed (POST to 127.0.0.1');
    const firings = await runCli(['triggers', 'firings', 'ops', '--json'], env);
    expect(JSON.parse(firings.stdout).map((x: { status: string }) => x.status)).toEqual([
      'pending',
      'succeeded',
      'succeeded',
    ]);

    expect((await runCli(['triggers', 'remove', 'ops'], env)).stdout).toContain('trigger ops removed');
    expect((await runCli(['triggers', 'list'], env)).stdout).toContain('No triggers yet');
    const unknown = await runCli(['triggers', 'fire', 'ops'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No trigger is called "ops"');
  }, 120_000);
});
