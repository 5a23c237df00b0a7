import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { freePort } from '../../lib/free-port';
import { createPortalFixture, csrfFrom, PASSWORD, type PortalFixture } from './portal-fixture';

// The portal as deployed on 3 CPUs (one worker per CPU but one): `webapp/src/main.ts` with
// PORTAL_WORKERS=2, its workers sharing one port. Every request below opens its own connection
// (no keep-alive), so the primary hands them to the workers in turn, as it does a crowd's.
const ROOT = path.resolve(__dirname, '../..');
let f: PortalFixture;
beforeAll(async () => {
  f = await createPortalFixture({ students: 2 });
});
afterAll(async () => {
  await f?.close();
});

interface Reply {
  status: number;
  body: string;
  cookies: string[];
}

/** One request on a connection of its own. */
function send(base: string, method: string, url: string, cookie = '', form?: Record<string, string>): Promise<Reply> {
  const body = form ? new URLSearchParams(form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${url}`,
      {
        method,
        agent: false,
        headers: {
          cookie,
          ...(body
            ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) }
            : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: text,
            cookies: (res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Cookies as a browser keeps them (headers or lists): later ones replace earlier ones of the same name. */
function jar(...lists: (string | string[])[]): string {
  const byName = new Map<string, string>();
  for (const c of lists.flatMap((l) => (typeof l === 'string' ? l.split('; ') : l)))
    byName.set(c.slice(0, c.indexOf('=')), c);
  return [...byName.values()].join('; ');
}

async function login(base: string, username: string, password = PASSWORD): Promise<{ reply: Reply; cookie: string }> {
  const page = await send(base, 'GET', '/login');
  const reply = await send(base, 'POST', '/login', jar(page.cookies), {
    username,
    password,
    _csrf: csrfFrom(page.body),
  });
  return { reply, cookie: jar(page.cookies, reply.cookies) };
}

interface Portal {
  base: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

async function startPortal(env: Record<string, string> = {}): Promise<Portal> {
  const port = await freePort();
  // Node itself (not the tsx wrapper), so that the workers are this process's children.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'webapp/src/main.ts')], {
    cwd: ROOT, // where `--import tsx` resolves
    env: {
      PATH: process.env.PATH,
      MYSQL_URL: f.mysql.url,
      SESSION_SECRET: 's'.repeat(40),
      PORT: String(port),
      PORTAL_WORKERS: '2',
      BCRYPT_ROUNDS: '4',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      ...env,
    },
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const base = `http://127.0.0.1:${port}`;
  const end = Date.now() + 30_000;
  while (!/portal listening/.test(out) && Date.now() < end && child.exitCode === null)
    await new Promise((r) => setTimeout(r, 100));
  return { base, child, output: () => out, exited };
}

/** The pids of a process's children, as `ps --ppid` lists them. */
function childPids(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

async function stopPortal(p: Portal): Promise<number | null> {
  if (p.child.exitCode === null) p.child.kill('SIGTERM');
  return p.exited;
}

test('two workers serve the port; one that dies is replaced, and SIGTERM stops them all with exit 0', async () => {
  const p = await startPortal();
  try {
    expect(p.output()).toMatch(/portal listening on http:\/\/localhost:\d+ \(2 worker processes\)/);
    const workers = childPids(p.child.pid!);
    expect(workers).toHaveLength(2);
    const { cookie } = await login(p.base, 'student1');
    for (let i = 0; i < 4; i++) expect((await send(p.base, 'GET', '/enrollments', cookie)).status).toBe(200);

    process.kill(workers[0]!, 'SIGKILL');
    const end = Date.now() + 20_000;
    let now = childPids(p.child.pid!);
    while ((now.length < 2 || now.includes(workers[0]!)) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      now = childPids(p.child.pid!);
    }
    expect(now).toHaveLength(2);
    expect(now).toContain(workers[1]);
    expect(now).not.toContain(workers[0]);
    expect(p.output()).toMatch(/a portal worker died: starting another/);
    // Sessions live in MySQL: the replacement serves the same student.
    const end2 = Date.now() + 20_000;
    let ok = 0;
    while (ok < 4 && Date.now() < end2) {
      const r = await send(p.base, 'GET', '/enrollments', cookie).catch(() => undefined);
      ok = r?.status === 200 ? ok + 1 : 0;
    }
    expect(ok).toBe(4);
  } finally {
    const code = await stopPortal(p);
    if (code !== 0) console.log(p.output());
    expect(code).toBe(0);
  }
  expect(p.output()).toMatch(/stopping portal workers/);
});

test('the primary serves the metrics of every worker added up, apart from the pages', async () => {
  const metricsPort = await freePort();
  const p = await startPortal({ PORTAL_METRICS_PORT: String(metricsPort) });
  try {
    expect(p.output()).toMatch(/portal metrics on http:\/\/localhost:\d+\/metrics/);
    const { cookie } = await login(p.base, 'student1');
    // Six connections of their own: the primary hands them to the two workers in turn.
    for (let i = 0; i < 6; i++) expect((await send(p.base, 'GET', '/enrollments', cookie)).status).toBe(200);
    const scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(scraped.status).toBe(200);
    const text = await scraped.text();
    expect(text).toMatch(/^portal_http_requests_total\{method="GET",route="\/enrollments",status="200"\} 6$/m);
    expect(text).toMatch(/^portal_process_cpu_seconds_total \d/m);
    // Not on the pages' port.
    expect((await send(p.base, 'GET', '/metrics')).status).toBe(404);
  } finally {
    expect(await stopPortal(p)).toBe(0);
  }
});

test('the login limit counts attempts across workers: the fourth of three allowed is refused, whichever worker takes it', async () => {
  const p = await startPortal({ LOGIN_RATE_LIMIT: '3' });
  try {
    // One login form, then five posts of it: consecutive connections go to alternate workers.
    const page = await send(p.base, 'GET', '/login');
    const form = { username: 'student2', password: 'wrong password', _csrf: csrfFrom(page.body) };
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await send(p.base, 'POST', '/login', jar(page.cookies), form)).status);
    expect(statuses.slice(0, 3).every((s) => s !== 429)).toBe(true);
    expect(statuses.slice(3)).toEqual([429, 429]);
  } finally {
    expect(await stopPortal(p)).toBe(0);
  }
});

test('a staff edit reaches every worker at once: no student sees the old title afterwards', async () => {
  const p = await startPortal();
  try {
    const student = (await login(p.base, 'student1')).cookie;
    const titles = async () => {
      const seen: boolean[] = [];
      for (let i = 0; i < 6; i++) {
        const page = await send(p.base, 'GET', '/courses?q=SE-102', student);
        expect(page.status).toBe(200);
        seen.push(page.body.includes('Compilers II'));
      }
      return seen;
    };
    // Both workers hold the catalogue before the edit.
    expect(await titles()).toEqual([false, false, false, false, false, false]);

    const staff = (await login(p.base, 'staff')).cookie;
    const form = await send(p.base, 'GET', `/admin/courses/${f.ids.courseB}/edit`, staff);
    const dep = await f.db('courses').where({ id: f.ids.courseB }).first('department_id');
    const saved = await send(p.base, 'POST', `/admin/courses/${f.ids.courseB}`, jar(staff, form.cookies), {
      _csrf: csrfFrom(form.body),
      department_id: String(dep.department_id),
      code: 'SE-102',
      title: 'Compilers II',
      credits: '5',
      year: '2026',
      semester: '1',
      capacity: '5',
    });
    expect(saved.status).toBe(303);
    expect(await titles()).toEqual([true, true, true, true, true, true]);
  } finally {
    expect(await stopPortal(p)).toBe(0);
  }
});

test('a port already taken stops the portal with one line and exit 1', async () => {
  const first = await startPortal({ PORTAL_WORKERS: '1' });
  try {
    const port = new URL(first.base).port;
    const second = await startPortal({ PORT: port });
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(/EADDRINUSE/);
    expect(second.output()).not.toMatch(/\n\s+at /);
    expect(second.output()).toMatch(/a portal worker stopped before it listened: stopping the portal/);
    // The metrics port taken, by one process or by the primary of two: one line, exit 1.
    for (const workers of ['1', '2']) {
      const third = await startPortal({ PORTAL_WORKERS: workers, PORTAL_METRICS_PORT: port });
      expect(await third.exited).toBe(1);
      expect(third.output()).toMatch(new RegExp(`^PORTAL_METRICS_PORT ${port}: listen EADDRINUSE`, 'm'));
      expect(third.output()).not.toMatch(/\n\s+at /);
    }
  } finally {
    expect(await stopPortal(first)).toBe(0);
  }
});
