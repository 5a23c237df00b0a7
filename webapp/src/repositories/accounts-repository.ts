import type { Knex } from 'knex';

export const ROLES = ['student', 'staff', 'operator'] as const;
export type Role = (typeof ROLES)[number];

export interface Account {
  id: number;
  username: string;
  passwordHash: string;
  role: Role;
  studentId: number | null;
  /** Bumped whenever the account's sessions must end (password, role changed; disabled). */
  sessionVersion: number;
  disabledAt: Date | null;
}

export interface AccountListing {
  id: number;
  username: string;
  role: Role;
  studentId: number | null;
  disabledAt: Date | null;
  createdAt: Date;
}

interface AccountRow {
  id: number;
  username: string;
  password_hash: string;
  role: Role;
  student_id: number | null;
  session_version: number;
  disabled_at: Date | null;
}

function toAccount(row: AccountRow): Account {
  return {
    id: Number(row.id),
    username: row.username,
    passwordHash: row.password_hash,
    role: row.role,
    studentId: row.student_id === null ? null : Number(row.student_id),
    sessionVersion: Number(row.session_version),
    disabledAt: row.disabled_at,
  };
}

/** `username` must already be normalised (see use-cases/accounts.ts normaliseUsername). */
export async function findAccountByUsername(db: Knex, username: string): Promise<Account | undefined> {
  const row = await db<AccountRow>('accounts').where({ username }).first();
  return row ? toAccount(row) : undefined;
}

export async function findAccountById(db: Knex, id: number): Promise<Account | undefined> {
  const row = await db<AccountRow>('accounts').where({ id }).first();
  return row ? toAccount(row) : undefined;
}

/** What a request needs to know about the account behind its session, and nothing more. */
export type SessionAccount = Pick<Account, 'role' | 'studentId' | 'sessionVersion' | 'disabledAt' | 'username'>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function toSessionAccount(row: any): SessionAccount {
  return {
    username: row.username,
    role: row.role,
    studentId: row.student_id === null ? null : Number(row.student_id),
    sessionVersion: Number(row.session_version),
    disabledAt: row.disabled_at,
  };
}

export async function findSessionAccount(db: Knex, id: number): Promise<SessionAccount | undefined> {
  const row = await db('accounts')
    .where({ id })
    .first('username', 'role', 'student_id', 'session_version', 'disabled_at');
  return row ? toSessionAccount(row) : undefined;
}

export async function insertAccount(
  db: Knex,
  account: Pick<Account, 'username' | 'passwordHash' | 'role' | 'studentId'>,
): Promise<number> {
  const [id] = await db('accounts').insert({
    username: account.username,
    password_hash: account.passwordHash,
    role: account.role,
    student_id: account.studentId,
  });
  return Number(id);
}

/**
 * Changes an account and ends its sessions in one statement: the version bump logs out every
 * session on its next request, in every portal process. Returns false when there is no such account.
 */
export async function updateAccountEndingSessions(
  db: Knex,
  username: string,
  changes: { password_hash?: string; role?: Role; student_id?: number | null; disabled_at?: Date | null },
): Promise<boolean> {
  const n = await db('accounts')
    .where({ username })
    .update({ ...changes, session_version: db.raw('session_version + 1') });
  return n > 0;
}

/**
 * The account's own password change: the new hash, and its sessions ended (version bumped), only
 * if the account is still as the change was checked against (same session version, not
 * disabled). False when it changed meanwhile.
 */
export async function replaceOwnPassword(db: Knex, id: number, seenVersion: number, passwordHash: string) {
  const n = await db('accounts')
    .where({ id, session_version: seenVersion, disabled_at: null })
    .update({ password_hash: passwordHash, session_version: db.raw('session_version + 1') });
  return n > 0;
}

/**
 * Deletes the stored sessions of one account (tidiness: the version bump already ends them).
 * Scans the sessions table, which holds only live sessions; an administrator's action, not a
 * request's.
 */
export async function deleteSessionsOf(db: Knex, accountId: number): Promise<number> {
  return db('sessions').whereRaw("JSON_EXTRACT(`data`, '$.user.accountId') = ?", [accountId]).delete();
}

export async function listAccounts(db: Knex): Promise<AccountListing[]> {
  const rows = await db('accounts')
    .select('id', 'username', 'role', 'student_id', 'disabled_at', 'created_at')
    .orderBy('username');
  return rows.map((r) => ({
    id: Number(r.id),
    username: r.username,
    role: r.role,
    studentId: r.student_id === null ? null : Number(r.student_id),
    disabledAt: r.disabled_at,
    createdAt: r.created_at,
  }));
}

export async function findAccountOfStudent(db: Knex, studentId: number): Promise<string | undefined> {
  const row = await db('accounts').where({ student_id: studentId }).first('username');
  return row?.username;
}

export async function studentExists(db: Knex, studentId: number): Promise<boolean> {
  return (await db('students').where({ id: studentId }).first('id')) !== undefined;
}

export async function countAccounts(db: Knex): Promise<number> {
  const row = await db('accounts').count<{ n: string }[]>({ n: '*' }).first();
  return Number(row?.n ?? 0);
}
