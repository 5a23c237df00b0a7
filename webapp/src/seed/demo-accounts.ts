import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { createAccount } from '../use-cases/accounts';

export interface DemoAccount {
  username: string;
  password: string;
  role: 'student' | 'staff' | 'operator';
}

/**
 * Demo accounts for a freshly seeded database: three students, one staff, one operator. Each
 * gets a random password, returned so the caller can print it once; none is stored in clear.
 */
export async function createDemoAccounts(db: Knex, bcryptRounds: number): Promise<DemoAccount[]> {
  const firstStudents = await db('students').orderBy('id').limit(3).pluck('id');
  const plan: { username: string; role: DemoAccount['role']; studentId: number | null }[] = [
    ...firstStudents.map((id: number, i: number) => ({
      username: `student${i + 1}`,
      role: 'student' as const,
      studentId: Number(id),
    })),
    { username: 'staff1', role: 'staff', studentId: null },
    { username: 'operator1', role: 'operator', studentId: null },
  ];
  const created: DemoAccount[] = [];
  for (const a of plan) {
    const password = randomBytes(9).toString('base64url');
    await createAccount(db, { username: a.username, password, role: a.role, studentId: a.studentId }, bcryptRounds);
    created.push({ username: a.username, password, role: a.role });
  }
  return created;
}
