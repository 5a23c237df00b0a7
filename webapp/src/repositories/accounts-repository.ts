import type { Knex } from 'knex';

export const ROLES = ['student', 'staff', 'operator'] as const;
export type Role = (typeof ROLES)[number];

export interface Account {
  id: number;
  username: string;
  passwordHash: string;
  role: Role;
  studentId: number | null;
}

interface AccountRow {
  id: number;
  username: string;
  password_hash: string;
  role: Role;
  student_id: number | null;
}

function toAccount(row: AccountRow): Account {
  return {
    id: Number(row.id),
    username: row.username,
    passwordHash: row.password_hash,
    role: row.role,
    studentId: row.student_id === null ? null : Number(row.student_id),
  };
}

export async function findAccountByUsername(db: Knex, username: string): Promise<Account | undefined> {
  const row = await db<AccountRow>('accounts').where({ username }).first();
  return row ? toAccount(row) : undefined;
}

export async function findAccountById(db: Knex, id: number): Promise<Account | undefined> {
  const row = await db<AccountRow>('accounts').where({ id }).first();
  return row ? toAccount(row) : undefined;
}

export async function insertAccount(db: Knex, account: Omit<Account, 'id'>): Promise<number> {
  const [id] = await db('accounts').insert({
    username: account.username,
    password_hash: account.passwordHash,
    role: account.role,
    student_id: account.studentId,
  });
  return Number(id);
}

export async function studentExists(db: Knex, studentId: number): Promise<boolean> {
  return (await db('students').where({ id: studentId }).first('id')) !== undefined;
}

export async function countAccounts(db: Knex): Promise<number> {
  const row = await db('accounts').count<{ n: string }[]>({ n: '*' }).first();
  return Number(row?.n ?? 0);
}
