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
  expect(dup.code).toBe(1);
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
  expect(shortPw.code).toBe(1);
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
  expect(studentWithoutId.code).toBe(1);
  expect(studentWithoutId.err).toContain('a student account needs --student-id');
});

test('a missing or malformed MYSQL_URL and bad seed arguments fail before touching anything', async () => {
  const noUrl = run('webapp/scripts/migrate.ts', [], { MYSQL_URL: '' });
  expect(noUrl.code).toBe(1);
  expect(noUrl.err).toContain('MYSQL_URL');
  const badUrl = run('webapp/scripts/migrate.ts', [], { MYSQL_URL: 'http://nope' });
  expect(badUrl.err).toContain('expected a URL starting with mysql://');
  const badArg = run('webapp/scripts/seed.ts', ['--students', 'many']);
  expect(badArg.code).toBe(1);
  expect(badArg.err).toContain('expected a whole number, got "many"');
  const db = createKnex(mysql.url);
  try {
    expect(await db('students').select('id')).toHaveLength(0);
  } finally {
    await db.destroy();
  }
});

test('an unreachable MySQL is reported, not hung on', () => {
  const r = run('webapp/scripts/migrate.ts', [], { MYSQL_URL: 'mysql://root@127.0.0.1:1/none' });
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/ECONNREFUSED/);
});
