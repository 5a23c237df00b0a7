import { createKnex } from '../src/db/knex';
import { migrateMysql } from '../src/db/migrate';
import { createDemoAccounts } from '../src/seed/demo-accounts';
import { DatabaseNotEmptyError, seedDatabase } from '../src/seed/seed-database';
import { verifyLogin } from '../src/use-cases/accounts';
import { createMysqlDatabase, type TestDatabase } from '../../test/support/databases';

let mysql: TestDatabase;
beforeAll(async () => {
  mysql = await createMysqlDatabase();
  await migrateMysql(mysql.url);
});
afterAll(() => mysql.drop());

test('a seeded database satisfies every foreign key and the demo accounts log in', async () => {
  const counts = await seedDatabase(mysql.url, { students: 260, seed: 3, today: new Date('2026-11-21T00:00:00Z') });
  expect(counts.students).toBe(260);
  const db = createKnex(mysql.url);
  try {
    // Checks were off while seeding: prove no child row lacks its parent.
    const orphans = await db.raw(`
      SELECT (SELECT COUNT(*) FROM schedule s LEFT JOIN lectures l ON l.id = s.lecture_id WHERE l.id IS NULL)
           + (SELECT COUNT(*) FROM attendance a LEFT JOIN schedule s ON s.id = a.schedule_id WHERE s.id IS NULL)
           + (SELECT COUNT(*) FROM attendance a LEFT JOIN students s ON s.id = a.student_id WHERE s.id IS NULL)
           + (SELECT COUNT(*) FROM enrollments e LEFT JOIN courses c ON c.id = e.course_id WHERE c.id IS NULL)
           + (SELECT COUNT(*) FROM students s LEFT JOIN student_groups g ON g.id = s.group_id WHERE g.id IS NULL) AS n`);
    expect(Number(orphans[0][0].n)).toBe(0);
    const accounts = await createDemoAccounts(db, 4);
    expect(accounts.map((a) => a.username)).toEqual(['student1', 'student2', 'student3', 'staff1', 'operator1']);
    expect(await verifyLogin(db, 'student1', accounts[0]!.password)).toMatchObject({ role: 'student', studentId: 1 });
    expect(await verifyLogin(db, 'staff1', 'not-the-password')).toBeUndefined();
    await expect(seedDatabase(mysql.url, { students: 10, seed: 3, today: new Date() })).rejects.toBeInstanceOf(
      DatabaseNotEmptyError,
    );
  } finally {
    await db.destroy();
  }
});
