import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import bcrypt from 'bcryptjs';
import { createLogger } from '../lib/logger';
import { createApp } from '../webapp/src/app';
import { createKnex } from '../webapp/src/db/knex';
import { migrateMysql } from '../webapp/src/db/migrate';
import { seedDatabase } from '../webapp/src/seed/seed-database';
import { createMysqlDatabase } from '../test/support/databases';
import type { BenchRow } from './report';

const CONNECTIONS = 32;
const COURSES = 8;
const DURATION_S = 15;

/**
 * Enroll/drop throughput and latency of the real portal on the real MariaDB: CONNECTIONS logged-in
 * students, each alternating enroll and drop of one of COURSES shared courses (so the course row
 * lock is contended), for DURATION_S seconds under autocannon.
 */
export async function benchPortal(log: (s: string) => void): Promise<BenchRow[]> {
  const mysql = await createMysqlDatabase();
  const db = createKnex(mysql.url, { min: 0, max: 20 });
  const logger = createLogger({ level: 'error', format: 'json', service: 'bench', silent: true });
  const today = new Date();
  try {
    await migrateMysql(mysql.url);
    await seedDatabase(mysql.url, { students: 2000, seed: 1, today });
    const term = await db('terms')
      .where('enrollment_opens', '<=', today)
      .where('enrollment_closes', '>=', today)
      .first();
    const [dep] = await db('departments').pluck('id');
    const courseIds: number[] = [];
    for (let i = 0; i < COURSES; i++) {
      const [id] = await db('courses').insert({
        department_id: dep,
        code: `BENCH-${i}`,
        title: `Bench ${i}`,
        credits: '1.0',
        year: term.year,
        semester: term.semester,
        capacity: 1000,
      });
      courseIds.push(Number(id));
    }
    const hash = await bcrypt.hash('bench password', 4);
    await db('accounts').insert(
      Array.from({ length: CONNECTIONS }, (_, i) => ({
        username: `bench${i}`,
        password_hash: hash,
        role: 'student',
        student_id: i + 1,
      })),
    );

    const { app, close } = createApp({
      db,
      logger,
      mysqlUrl: mysql.url,
      sessionSecret: 'b'.repeat(32),
      cookieSecure: false,
      trustProxy: 0,
      loginRateLimit: 100_000,
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const sessions = await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => login(base, `bench${i}`)));
      let next = 0;
      log(`portal: ${CONNECTIONS} students enroll/drop for ${DURATION_S} s...`);
      const result = await autocannon({
        url: base,
        connections: CONNECTIONS,
        duration: DURATION_S,
        setupClient(client) {
          const i = next++ % CONNECTIONS;
          const s = sessions[i]!;
          const course = courseIds[i % COURSES];
          const headers = { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' };
          client.setRequests([
            { method: 'POST', path: `/courses/${course}/enroll`, headers, body: `_csrf=${s.csrf}&back=%2Fenrollments` },
            { method: 'POST', path: `/courses/${course}/drop`, headers, body: `_csrf=${s.csrf}&back=%2Fenrollments` },
          ]);
        },
      });
      const flips = await db('enrollments').whereIn('course_id', courseIds).count<{ n: string }[]>({ n: '*' }).first();
      if (result.errors > 0 || result['2xx'] + result.non2xx === 0)
        throw new Error(`portal bench saw ${result.errors} errors`);
      if (Number(flips?.n) !== CONNECTIONS)
        throw new Error(`expected ${CONNECTIONS} enrollment rows, found ${flips?.n}`);
      return [
        {
          section: 'portal',
          figure: `enroll/drop throughput (${CONNECTIONS} students, ${COURSES} courses)`,
          value: result.requests.average,
          unit: 'req/s',
        },
        { section: 'portal', figure: 'enroll/drop latency p50', value: result.latency.p50, unit: 'ms' },
        { section: 'portal', figure: 'enroll/drop latency p99', value: result.latency.p99, unit: 'ms' },
      ];
    } finally {
      // autocannon drops its sockets at the end; let the handlers it left running finish.
      server.closeAllConnections();
      await new Promise((r) => setTimeout(r, 1000));
      await new Promise((r) => server.close(r));
      await close();
    }
  } finally {
    await db.destroy();
    await mysql.drop();
  }
}

async function login(base: string, username: string): Promise<{ cookie: string; csrf: string }> {
  const page = await fetch(`${base}/login`);
  let cookie = (page.headers.get('set-cookie') ?? '').split(';')[0]!;
  const csrf = (/name="_csrf" value="([^"]+)"/.exec(await page.text()) ?? [])[1]!;
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password: 'bench password', _csrf: csrf }),
  });
  cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  const courses = await fetch(`${base}/courses`, { headers: { cookie } });
  const token = (/name="_csrf" value="([^"]+)"/.exec(await courses.text()) ?? [])[1]!;
  return { cookie, csrf: token };
}
