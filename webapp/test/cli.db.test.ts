import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { createKnex } from '../src/db/knex';
import { migrateMysql } from '../src/db/migrate';
import { createMysqlDatabase, type TestDatabase } from '../../test/support/databases';

const ROOT = path.resolve(__dirname, '../..');
let mysql: TestDatabase;
beforeAll(async () => {
  mysql = await createMysqlDatabase();
  await migrateMysql(mysql.url);
});
afterAll(() => mysql.drop());

function run(script: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, script), ...args], {
    cwd: '/tmp', // no .env of a developer's checkout leaks in
    env: { PATH: process.env.PATH, MYSQL_URL: mysql.url, BCRYPT_ROUNDS: '4', ...env },
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('admin create-user creates an account, and refuses bad input with a clear message', () => {
  const ok = run('webapp/scripts/admin.ts', [
    'create-user',
    '--username',
    'registrar',
    '--password',
    'long enough pw',
    '--role',
    'staff',
  ]);
  expect(ok).toMatchObject({ code: 0 });
  expect(ok.out).toContain('created staff account "registrar"');

  const dup = run('webapp/scripts/admin.ts', [
    'create-user',
    '--username',
    'registrar',
    '--password',
    'long enough pw',
    '--role',
    'staff',
  ]);
  expect(dup.code).toBe(2);
  expect(dup.err).toContain('The username "registrar" is taken.');

  const badRole = run('webapp/scripts/admin.ts', [
    'create-user',
    '--username',
    'x1x',
    '--password',
    'long enough pw',
    '--role',
    'root',
  ]);
  expect(badRole.code).toBe(1);
  expect(badRole.err).toMatch(/Allowed choices are student, staff, operator/);

  const shortPw = run('webapp/scripts/admin.ts', [
    'create-user',
    '--username',
    'x1x',
    '--password',
    'short',
    '--role',
    'operator',
  ]);
  expect(shortPw.code).toBe(2);
  expect(shortPw.err).toContain('password: must be at least 10 characters');

  const studentWithoutId = run('webapp/scripts/admin.ts', [
    'create-user',
    '--username',
    'x1x',
    '--password',
    'long enough pw',
    '--role',
    'student',
  ]);
  expect(studentWithoutId.code).toBe(2);
  expect(studentWithoutId.err).toContain('a student account needs --student-id');
});

test('a missing or malformed MYSQL_URL and bad seed arguments fail before touching anything', async () => {
  const noUrl = run('webapp/scripts/migrate.ts', [], { MYSQL_URL: '' });
  expect(noUrl.code).toBe(1);
  expect(noUrl.err).toContain('MYSQL_URL');
  const badUrl = run('webapp/scripts/migrate.ts', [], { MYSQL_URL: 'http://nope' });
  expect(badUrl.err).toContain('expected a URL starting with mysql://');
  const db = createKnex(mysql.url);
  try {
    // Counted first: another test adds a student, and may have run before this one.
    const students = async () => (await db('students').select('id')).length;
    const before = await students();
    const badArg = run('webapp/scripts/seed.ts', ['--students', 'many']);
    expect(badArg.code).toBe(1);
    expect(badArg.err).toContain('expected a whole number, got "many"');
    expect(await students()).toBe(before);
  } finally {
    await db.destroy();
  }
});

test('an unreachable MySQL is reported, not hung on', () => {
  const r = run('webapp/scripts/migrate.ts', [], { MYSQL_URL: 'mysql://root@127.0.0.1:1/none' });
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/ECONNREFUSED/);
});

test('admin: a taken student or username is one line and exit 2, never SQL or a hash; the account commands work', async () => {
  const db = createKnex(mysql.url);
  try {
    const [uni] = await db('universities').insert({ name: 'U', short_name: 'U', city: 'C', founded_year: 1950 });
    const [inst] = await db('institutes').insert({ university_id: uni, name: 'I' });
    const [dep] = await db('departments').insert({ institute_id: inst, name: 'D' });
    const [spec] = await db('specialties').insert({ department_id: dep, code: 'S1', name: 'S' });
    const [group] = await db('student_groups').insert({ specialty_id: spec, name: 'G-1', year_of_study: 1 });
    const [student] = await db('students').insert({
      group_id: group,
      student_number: 'S1',
      first_name: 'A',
      last_name: 'B',
      email: 'a@b.example',
      enrolled_on: '2025-09-01',
    });
    const create = (username: string) =>
      run('webapp/scripts/admin.ts', [
        'create-user',
        '--username',
        username,
        '--password',
        'long enough pw',
        '--role',
        'student',
        '--student-id',
        String(student),
      ]);
    expect(create('Student1')).toMatchObject({ code: 0 });
    const taken = create('another1');
    expect(taken.code).toBe(2);
    expect(taken.err.trim()).toBe(`error: student ${student} already has an account (student1)`);
    for (const r of [taken, create('student1')]) expect(r.err).not.toMatch(/INSERT|\$2[aby]\$|at .*\.ts/);

    const list = run('webapp/scripts/admin.ts', ['list-users', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.out)).toEqual(
      expect.arrayContaining([expect.objectContaining({ username: 'student1', role: 'student' })]),
    );
    expect(list.out).not.toContain('$2');

    expect(
      run('webapp/scripts/admin.ts', ['set-password', '--username', 'STUDENT1', '--password', 'another long pw']),
    ).toMatchObject({ code: 0 });
    expect(
      run('webapp/scripts/admin.ts', ['set-password', '--username', 'student1', '--password', 'x'.repeat(73)]),
    ).toMatchObject({ code: 2 });
    expect(run('webapp/scripts/admin.ts', ['disable-user', '--username', 'student1'])).toMatchObject({ code: 0 });
    expect(run('webapp/scripts/admin.ts', ['list-users']).out).toMatch(/student1\tstudent\t\d+\tdisabled /);
    expect(run('webapp/scripts/admin.ts', ['set-role', '--username', 'student1', '--role', 'staff'])).toMatchObject({
      code: 0,
    });
    const nobody = run('webapp/scripts/admin.ts', ['disable-user', '--username', 'nobody']);
    expect(nobody).toMatchObject({ code: 2 });
    expect(nobody.err.trim()).toBe('error: There is no account "nobody".');
    const row = await db('accounts').where({ username: 'student1' }).first();
    expect(row).toMatchObject({ role: 'staff', student_id: null, session_version: 3 });
    expect(row.disabled_at).not.toBeNull();
  } finally {
    await db.destroy();
  }
});

test('npm start on a first run creates the missing MySQL database, or says in one line what to create', async () => {
  const name = `cs_first_${Math.random().toString(36).slice(2, 10)}`;
  const url = new URL(mysql.url);
  url.pathname = `/${name}`;
  const r = run('scripts/start.ts', ['--services', 'webapp', '--no-seed'], {
    MYSQL_URL: url.toString(),
    // No SESSION_SECRET: the portal itself refuses to start, so start stops after the database steps.
  });
  const db = createKnex(mysql.url);
  try {
    expect(r.out).toContain('start: created the MySQL database of MYSQL_URL');
    expect(r.out).toContain('start: applied MySQL migrations');
    expect((await db.raw('SHOW DATABASES LIKE ?', [name]))[0]).toHaveLength(1);
  } finally {
    await db.raw(`DROP DATABASE IF EXISTS \`${name}\``);
    await db.destroy();
  }
  const denied = run('webapp/scripts/migrate.ts', [], { MYSQL_URL: 'mysql://nobody:wrong@127.0.0.1:3306/campus' });
  expect(denied.code).toBe(1);
  expect(denied.err.trim().split('\n')).toHaveLength(1);
  expect(denied.err).toContain("MySQL refused the account: Access denied for user 'nobody'");
  expect(denied.err).not.toContain('wrong');
});
