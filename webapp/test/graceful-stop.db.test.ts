import type { AddressInfo } from 'node:net';
import { createLogger } from '../../lib/logger';
import { NOW, PASSWORD, createPortalFixture, csrfFrom, testApp, type PortalFixture } from './portal-fixture';

// A stop (SIGTERM: main.ts closes the server, then the app, then knex) while a request is still
// being worked on, its client gone: the request finishes, and only then do the pools close.
let f: PortalFixture;
beforeAll(async () => {
  f = await createPortalFixture();
});
afterAll(() => f?.close());

/** A browser's cookie jar, just enough for the portal's cookies. */
function cookieJar() {
  const cookies = new Map<string, string>();
  return {
    header: () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
    take(res: Response) {
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const at = pair!.indexOf('=');
        cookies.set(pair!.slice(0, at), pair!.slice(at + 1));
      }
    },
  };
}

test('a stop lets an enrollment whose client left commit before the pools close, with no error', async () => {
  const logger = createLogger({ level: 'error', format: 'json', service: 'webapp-test', silent: true });
  const errors = jest.spyOn(logger, 'error');
  const portal = testApp({ db: f.db, mysqlUrl: f.mysql.url, bcryptRounds: 4, logger, now: () => NOW });
  const server = portal.app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const jar = cookieJar();
  const get = async (path: string) => {
    const res = await fetch(base + path, { headers: { cookie: jar.header() }, redirect: 'manual' });
    jar.take(res);
    return res;
  };
  const post = async (path: string, form: Record<string, string>, signal?: AbortSignal) => {
    const res = await fetch(base + path, {
      method: 'POST',
      headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
      redirect: 'manual',
      signal,
    });
    jar.take(res);
    return res;
  };
  const login = await post('/login', {
    username: 'student1',
    password: PASSWORD,
    _csrf: csrfFrom(await (await get('/login')).text()),
  });
  expect(login.status).toBe(302);
  const token = csrfFrom(await (await get('/courses')).text());

  // Another transaction holds the course's row, so the enrollment waits for it.
  const blocker = await f.db.transaction();
  await blocker.raw('SELECT id FROM courses WHERE id = ? FOR UPDATE', [f.ids.courseB]);
  const client = new AbortController();
  const enrolling = post(`/courses/${f.ids.courseB}/enroll`, { _csrf: token }, client.signal).catch(
    (err: Error) => err.name,
  );
  await new Promise((r) => setTimeout(r, 300));
  client.abort();
  expect(await enrolling).toBe('AbortError');

  // The stop, as main.ts makes it; the course is released while it waits.
  const stopped = new Promise<void>((resolve) => server.close(() => resolve())).then(() => portal.close());
  await new Promise((r) => setTimeout(r, 300));
  await blocker.commit();
  await stopped;

  const row = await f.db('enrollments').where({ student_id: f.ids.students[0], course_id: f.ids.courseB }).first();
  expect(row?.status).toBe('enrolled');
  expect(errors).not.toHaveBeenCalled();
});
