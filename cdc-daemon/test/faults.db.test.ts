import { startCli, waitFor } from './cli-runner';
import { CONVERGED, type DaemonProcess, type FaultRig, aliveWithLogs, createFaultRig, logged } from './fault-rig';

// Each server stopped or killed under a running `cdc run`, a standby taking over, all on private
// server instances: after each fault the mirror equals MySQL, the history is whole and Redis
// equals the mirror.
jest.setTimeout(180_000);
let rig: FaultRig;
let a: DaemonProcess;
/** Every daemon started here: a standby that took over (the last test) is `a` from then on. */
const started: DaemonProcess[] = [];
beforeAll(async () => {
  rig = await createFaultRig();
  a = rig.startDaemon();
  started.push(a);
});
afterAll(() => rig?.close());

const historyErrors = async (code: string) =>
  Number((await rig.pool.query('SELECT count(*) AS n FROM cdc.sync_history WHERE error_code = $1', [code])).rows[0].n);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the daemon loads the university and Redis follows', async () => {
  expect(await rig.converge()).toEqual(CONVERGED);
  // The bootstrap counts what it wrote (it once logged 0 after writing every key).
  expect(started.flatMap((d) => d.logs).find((l) => l.message === 'sink bootstrapped')?.entities).toBeGreaterThan(0);
});

test('PostgreSQL stopped while the daemon idles and writes go on: it survives, records the outage, converges', async () => {
  // From a mirrored university (this test may run first); the abandoned cycles counted first: a
  // daemon killed by another test leaves a cycle that the next one abandons.
  expect(await rig.converge()).toEqual(CONVERGED);
  const abandoned = await historyErrors('ABANDONED');
  const writer = rig.startWriter(1);
  await sleep(1500);
  await rig.postgres.stop();
  await sleep(4000);
  expect(aliveWithLogs(a)).toEqual({ alive: true, last: [] });
  await rig.postgres.start();
  const { writes } = await writer.stop();
  expect(writes).toBeGreaterThan(0);
  expect(await rig.converge()).toEqual(CONVERGED);
  expect(aliveWithLogs(a)).toEqual({ alive: true, last: [] });
  expect(await historyErrors('POSTGRES_UNAVAILABLE')).toBeGreaterThan(0);
  expect(await historyErrors('ABANDONED')).toBe(abandoned);
});

test('PostgreSQL killed in the middle of a table load: the load resumes and nothing is lost', async () => {
  // The university mirrored first (this test may run first): the resync reloads a loaded table.
  expect(await rig.converge()).toEqual(CONVERGED);
  const resync = await startCli(['resync', 'attendance'], { ...rig.env, LOG_LEVEL: 'error' }).done;
  expect({ code: resync.code, stderr: resync.stderr }).toEqual({ code: 0, stderr: '' });
  const loading = await waitFor(
    async () => {
      const { rows } = await rig.pool
        .query("SELECT loaded_rows FROM cdc.tables WHERE table_name = 'attendance' AND status = 'loading'")
        .catch(() => ({ rows: [] as { loaded_rows: string }[] }));
      return rows.length > 0 && Number(rows[0]!.loaded_rows) > 0;
    },
    20_000,
    5,
  );
  expect(loading).toBe(true);
  await rig.postgres.stop('kill');
  await sleep(2000);
  expect(aliveWithLogs(a)).toEqual({ alive: true, last: [] });
  await rig.postgres.start();
  expect(await rig.converge()).toEqual(CONVERGED);
  expect(aliveWithLogs(a)).toEqual({ alive: true, last: [] });
});

test('MySQL stopped and restarted: cycles fail with backoff, then catch up', async () => {
  await rig.mysql.stop();
  await sleep(3000);
  expect(aliveWithLogs(a)).toEqual({ alive: true, last: [] });
  await rig.mysql.start();
  const writer = rig.startWriter(2);
  await sleep(2000);
  await writer.stop();
  expect(await rig.converge()).toEqual(CONVERGED);
  expect(await historyErrors('MYSQL_UNAVAILABLE')).toBeGreaterThan(0);
});

test('Redis down: the relay backs off (not a retry per cycle), and a Redis back empty is bootstrapped again', async () => {
  // A relay following the outbox (bootstrapped: this test may run first).
  expect(await rig.converge()).toEqual(CONVERGED);
  await rig.redis.stop();
  let attempts: number;
  try {
    const from = a.logs.length;
    const writer = rig.startWriter(3);
    await sleep(9000);
    await writer.stop();
    // Backoff 0.5 s doubling to 4 s: about 5 attempts in 9 s; one per cycle would be 9 or more.
    attempts = logged(a, 'sink write failed; retrying after backoff', from);
  } finally {
    await rig.redis.start(); // empty: it was started without persistence
  }
  expect(attempts).toBeGreaterThan(0);
  expect(attempts).toBeLessThanOrEqual(6);
  expect(await rig.converge()).toEqual(CONVERGED);
});

test('a standby takes over the cycles and the relays when the active daemon is killed', async () => {
  // The active daemon relays to Redis (bootstrapped: this test may run first).
  expect(await rig.converge()).toEqual(CONVERGED);
  const b = rig.startDaemon();
  started.push(b);
  expect(
    await waitFor(async () => logged(b, 'another process relays to this sink; taking over if it stops') > 0, 20_000),
  ).toBe(true);
  a.child.kill('SIGKILL');
  await a.exited;
  const writer = rig.startWriter(4);
  await sleep(6000);
  await writer.stop();
  expect(await rig.converge(40_000)).toEqual(CONVERGED);
  expect(logged(b, 'took over the relay of this sink')).toBe(1);
  a = b;
});
