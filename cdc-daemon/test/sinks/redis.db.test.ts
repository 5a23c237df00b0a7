import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../../lib/free-port';
import { serviceUrls } from '../../../test/support/services';
import { randomName } from '../../../test/support/databases';
import { RedisSink } from '../../src/sinks/redis/redis-sink';
import { keys } from '../../src/sinks/redis/redis-model';
import { quietLogger } from '../cdc-fixture';
import { sinkContract } from './sink-contract';
import { createSinkFixture, randomWrites } from './sink-fixture';
import { redisProbe } from './redis-probe';

// Each test writes under its own key prefix on the shared Redis and deletes it afterwards.
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

function redisUnderTest(url = serviceUrls().redisUrl) {
  const prefix = `${randomName('cs_t')}:`;
  const sink = new RedisSink(url, prefix, quietLogger);
  const probe = redisProbe(url, prefix);
  cleanups.push(async () => {
    const cleaner = new RedisSink(url, prefix, quietLogger);
    await cleaner.reset().catch(() => {});
    await cleaner.close();
    probe.close();
  });
  return { sink, probe, prefix };
}

sinkContract('redis', async () => redisUnderTest());

describe('redis end to end: a MySQL write -> cycle -> relay -> exactly this in Redis', () => {
  test('a new student, a rename, a group move and a delete', async () => {
    const { sink, probe, prefix } = redisUnderTest();
    const k = keys(prefix);
    const f = await createSinkFixture(sink, 30);
    try {
      await f.drain();
      const [[group]] = (await f.my.query(
        'SELECT g.id, g.name, sp.id AS sid, sp.name AS sname, sp.code FROM student_groups g JOIN specialties sp ON sp.id = g.specialty_id ORDER BY g.id LIMIT 1',
      )) as unknown as [[{ id: number; name: string; sid: number; sname: string; code: string }]];
      const [res] = (await f.my.query(
        "INSERT INTO students (group_id, student_number, first_name, last_name, email, enrolled_on) VALUES (?, 'E2E0000001', 'Grace', 'Hopper', 'grace@example.edu', '2026-09-01')",
        [group.id],
      )) as unknown as [{ insertId: number }];
      const id = res.insertId;
      await f.cycle();
      await f.drain();
      const h = await probe.redis.hgetall(k.student(id));
      expect(h).toEqual({
        id: String(id),
        student_number: 'E2E0000001',
        first_name: 'Grace',
        last_name: 'Hopper',
        name: 'Grace Hopper',
        email: 'grace@example.edu',
        group_id: String(group.id),
        group: group.name,
        specialty_id: String(group.sid),
        specialty: group.sname,
        specialty_code: group.code,
        _name_key: `hopper grace\u0000${id}`,
        _v: expect.stringMatching(/^\d+$/),
      });
      expect(await probe.redis.sismember(k.groupIndex(group.id), String(id))).toBe(1);
      expect(await probe.redis.zrangebylex(k.nameIndex, '[hopper', '[hopper\u{10FFFF}')).toEqual([
        `hopper grace\u0000${id}`,
      ]);

      // A group rename reaches the student's hash; a move updates both group indexes.
      await f.my.query("UPDATE student_groups SET name = 'RENAMED-1' WHERE id = ?", [group.id]);
      await f.cycle();
      await f.drain();
      expect(await probe.redis.hget(k.student(id), 'group')).toBe('RENAMED-1');
      const [[other]] = (await f.my.query('SELECT id FROM student_groups WHERE id <> ? ORDER BY id LIMIT 1', [
        group.id,
      ])) as unknown as [[{ id: number }]];
      await f.my.query('UPDATE students SET group_id = ? WHERE id = ?', [other.id, id]);
      await f.cycle();
      await f.drain();
      expect(await probe.redis.sismember(k.groupIndex(group.id), String(id))).toBe(0);
      expect(await probe.redis.sismember(k.groupIndex(other.id), String(id))).toBe(1);

      await f.my.query('DELETE FROM students WHERE id = ?', [id]);
      await f.cycle();
      await f.drain();
      expect(await probe.redis.exists(k.student(id))).toBe(0);
      expect(await probe.redis.sismember(k.groupIndex(other.id), String(id))).toBe(0);
      expect(await probe.redis.zrangebylex(k.nameIndex, '[hopper', '[hopper\u{10FFFF}')).toEqual([]);
      expect(await probe.snapshot()).toEqual(await probe.expected(f.pool, f.config.targetSchema));
    } finally {
      await f.close();
    }
  });

  test('seats left follow enrollments, drops and deletes', async () => {
    const { sink, probe, prefix } = redisUnderTest();
    const k = keys(prefix);
    const f = await createSinkFixture(sink, 30);
    try {
      await f.drain();
      const [[c]] = (await f.my.query(
        "SELECT id, capacity, (SELECT COUNT(*) FROM enrollments e WHERE e.course_id = courses.id AND e.status = 'enrolled') AS n FROM courses ORDER BY id LIMIT 1",
      )) as unknown as [[{ id: number; capacity: number; n: number }]];
      await f.my.query('UPDATE courses SET capacity = ? WHERE id = ?', [Number(c.n) + 2, c.id]);
      await f.cycle();
      await f.drain();
      expect(await probe.redis.hget(k.seatsLeft, String(c.id))).toBe('2');
      const [[e]] = (await f.my.query(
        "SELECT id, student_id FROM enrollments WHERE course_id = ? AND status = 'enrolled' ORDER BY id LIMIT 1",
        [c.id],
      )) as unknown as [[{ id: number; student_id: number }]];
      const seats = async () => probe.redis.hget(k.seatsLeft, String(c.id));
      const sync = async () => {
        await f.cycle();
        await f.drain();
      };
      await f.my.query("UPDATE enrollments SET status = 'dropped', dropped_at = NOW(3) WHERE id = ?", [e.id]);
      await sync();
      expect(await seats()).toBe('3');
      await f.my.query('DELETE FROM enrollments WHERE id = ?', [e.id]);
      const [ins] = (await f.my.query(
        "INSERT INTO enrollments (student_id, course_id, status, enrolled_at) VALUES (?, ?, 'enrolled', NOW(3))",
        [e.student_id, c.id],
      )) as unknown as [{ insertId: number }];
      await sync();
      expect(await seats()).toBe('2');
      // A deleted enrollment frees its seat (Redis remembers which course it was in).
      await f.my.query('DELETE FROM enrollments WHERE id = ?', [ins.insertId]);
      await sync();
      expect(await seats()).toBe('3');
      expect(await probe.snapshot()).toEqual(await probe.expected(f.pool, f.config.targetSchema));
    } finally {
      await f.close();
    }
  });
});

/** A private redis-server (so stopping it disturbs no other test), with an append-only file. */
async function privateRedis(dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--dir',
      dir,
    ],
    { stdio: 'ignore' },
  );
  // A server that exits (its port taken after all) is reported at once; a slow start (the
  // machine busy starting the sink stores' JVMs beside this test) is given 20 s.
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `redis-server exited (${signal ?? `code ${code}`})`));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && exited === undefined) {
    if (
      await new Promise((r) =>
        net
          .createConnection(port, '127.0.0.1')
          .on('connect', function (this: net.Socket) {
            this.destroy();
            r(true);
          })
          .on('error', () => r(false)),
      )
    )
      return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(exited ?? 'redis-server did not accept connections within 20 s');
}

const hasRedisServer = (() => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!hasRedisServer)
  console.log('Skipping "Redis stopped mid-batch": no redis-server binary on this machine to run a private instance.');

(hasRedisServer ? test : test.skip)(
  'Redis stopped mid-batch then restarted: the relay backs off, redelivers, and Redis equals the mirror',
  async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cs-redis-'));
    // A port nothing listens on (a random one could be another test's portal or daemon).
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    let server = await privateRedis(dir, port).catch((err: unknown) => {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    });
    // The server is stopped whatever fails, the fixture's set-up included (a MySQL that refused
    // the fixture left a private Redis running).
    try {
      const { sink, probe } = redisUnderTest(url);
      const f = await createSinkFixture(sink, 60, { batchSize: 5 });
      try {
        await f.drain();
        await randomWrites(f.my, 5, 60);
        await f.cycle();
        // Deliver a few batches, then kill Redis while events are still waiting.
        await f.relay.step();
        await f.relay.step();
        server.kill('SIGKILL');
        await new Promise((r) => server.once('exit', r));
        await expect(f.relay.step()).rejects.toThrow();
        const { rows } = await f.pool.query("SELECT last_error FROM cdc.sink_offsets WHERE sink = 'redis'");
        expect(rows[0].last_error ?? '').not.toBe('');
        server = await privateRedis(dir, port);
        for (let i = 0; i < 100; i++) {
          try {
            await f.drain();
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        expect(await probe.snapshot()).toEqual(await probe.expected(f.pool, f.config.targetSchema));
        // And if Redis comes back empty (no persistence), the relay notices and bootstraps it again.
        await probe.redis.flushall();
        await f.drain();
        expect(await probe.snapshot()).toEqual(await probe.expected(f.pool, f.config.targetSchema));
      } finally {
        await f.close();
      }
    } finally {
      server.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  },
  120_000,
);
