import bcrypt from 'bcryptjs';
import type { Knex } from 'knex';
import { z } from 'zod';
import { portalError } from '../errors';
import {
  type Account,
  ROLES,
  findAccountByUsername,
  insertAccount,
  studentExists,
} from '../repositories/accounts-repository';

export const newAccountSchema = z
  .object({
    username: z
      .string()
      .trim()
      .regex(/^[a-zA-Z0-9._-]{3,64}$/, 'use 3-64 letters, digits, dots, dashes or underscores'),
    password: z.string().min(10, 'must be at least 10 characters').max(200),
    role: z.enum(ROLES),
    studentId: z.number().int().positive().nullable(),
  })
  .refine((a) => (a.role === 'student') === (a.studentId !== null), {
    message: 'a student account needs --student-id, other roles must not have one',
    path: ['studentId'],
  });

export type NewAccount = z.input<typeof newAccountSchema>;

/** Creates an account with a bcrypt hash; refuses a taken username or an unknown student. */
export async function createAccount(db: Knex, input: NewAccount, bcryptRounds: number): Promise<number> {
  const parsed = newAccountSchema.safeParse(input);
  if (!parsed.success) {
    throw portalError(
      'VALIDATION_FAILED',
      parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    );
  }
  const a = parsed.data;
  if (await findAccountByUsername(db, a.username))
    throw portalError('DUPLICATE', `The username "${a.username}" is taken.`);
  if (a.studentId !== null && !(await studentExists(db, a.studentId)))
    throw portalError('NOT_FOUND', `There is no student with id ${a.studentId}.`);
  const passwordHash = await bcrypt.hash(a.password, bcryptRounds);
  return insertAccount(db, { username: a.username, passwordHash, role: a.role, studentId: a.studentId });
}

// Compared against when the username is unknown, so a miss costs as long as a wrong password.
const DUMMY_HASH = bcrypt.hashSync('campus-sync-timing-equaliser', 10);

/** The account when username and password match, else undefined (never says which was wrong). */
export async function verifyLogin(db: Knex, username: string, password: string): Promise<Account | undefined> {
  const account = await findAccountByUsername(db, username);
  const ok = await bcrypt.compare(password, account?.passwordHash ?? DUMMY_HASH);
  return ok && account ? account : undefined;
}
