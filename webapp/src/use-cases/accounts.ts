import { hash, verify } from '@node-rs/bcrypt';
import type { Knex } from 'knex';
import pLimit from 'p-limit';
import { z } from 'zod';
import { portalError } from '../errors';
import { CONTROL } from '../../../lib/control-characters';
import {
  type Account,
  type AccountListing,
  ROLES,
  type Role,
  deleteSessionsOf,
  findAccountById,
  findAccountByUsername,
  findAccountOfStudent,
  insertAccount,
  listAccounts,
  replaceOwnPassword,
  studentExists,
  updateAccountEndingSessions,
} from '../repositories/accounts-repository';

/**
 * The username rule, applied on create and on login alike: 3-64 ASCII letters, digits, dots,
 * dashes or underscores, stored and matched in lower case. What is typed at login is trimmed of
 * spaces and tabs and lower-cased (ASCII only); anything else (a NUL byte, `ſ`, the Kelvin sign,
 * which MySQL's collation would fold onto an ASCII letter) matches no account.
 */
export const USERNAME_RULE = 'use 3-64 letters, digits, dots, dashes or underscores (stored in lower case)';
const USERNAME = /^[A-Za-z0-9._-]{3,64}$/;

export function normaliseUsername(typed: string): string | undefined {
  const trimmed = typed.replace(/^[ \t]+|[ \t]+$/g, '');
  return USERNAME.test(trimmed) ? trimmed.toLowerCase() : undefined;
}

/** bcrypt reads at most 72 bytes; a longer password is refused rather than silently cut. */
export const MAX_PASSWORD_BYTES = 72;
const passwordSchema = z
  .string()
  .min(10, 'must be at least 10 characters')
  .refine((p) => Buffer.byteLength(p, 'utf8') <= MAX_PASSWORD_BYTES, {
    message: `must be at most ${MAX_PASSWORD_BYTES} bytes in UTF-8 (bcrypt ignores the rest)`,
  })
  .refine((p) => !CONTROL.test(p), { message: 'must not contain control characters' });

const usernameSchema = z.string().transform((u, ctx) => {
  const normal = normaliseUsername(u);
  if (normal === undefined) ctx.addIssue({ code: 'custom', message: USERNAME_RULE });
  return normal ?? u;
});

export const newAccountSchema = z
  .object({
    username: usernameSchema,
    password: passwordSchema,
    role: z.enum(ROLES),
    studentId: z.number().int().positive().max(4294967295).nullable(),
  })
  .refine((a) => (a.role === 'student') === (a.studentId !== null), {
    message: 'a student account needs --student-id, other roles must not have one',
    path: ['studentId'],
  });

export type NewAccount = z.input<typeof newAccountSchema>;

function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success)
    throw portalError(
      'VALIDATION_FAILED',
      parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; '),
    );
  return parsed.data;
}

/** Which unique key a duplicate-entry error hit: the username or the student. */
function duplicateKey(err: unknown): 'username' | 'student' | undefined {
  const e = err as { code?: string; sqlMessage?: string };
  if (e.code !== 'ER_DUP_ENTRY') return undefined;
  return /uq_accounts_student/.test(e.sqlMessage ?? '') ? 'student' : 'username';
}

async function studentTaken(db: Knex, studentId: number): Promise<never> {
  const holder = await findAccountOfStudent(db, studentId);
  throw portalError('DUPLICATE', `student ${studentId} already has an account${holder ? ` (${holder})` : ''}`);
}

/**
 * Creates an account with a bcrypt hash; refuses a taken username, a student who already has an
 * account, or an unknown student, also when another process wins the race between check and insert.
 */
export async function createAccount(db: Knex, input: NewAccount, bcryptRounds: number): Promise<number> {
  const a = parseOrThrow(newAccountSchema, input);
  if (await findAccountByUsername(db, a.username))
    throw portalError('DUPLICATE', `The username "${a.username}" is taken.`);
  if (a.studentId !== null) {
    if (!(await studentExists(db, a.studentId)))
      throw portalError('NOT_FOUND', `There is no student with id ${a.studentId}.`);
    if (await findAccountOfStudent(db, a.studentId)) await studentTaken(db, a.studentId);
  }
  const passwordHash = await hash(a.password, bcryptRounds);
  try {
    return await insertAccount(db, { username: a.username, passwordHash, role: a.role, studentId: a.studentId });
  } catch (err) {
    const key = duplicateKey(err);
    if (key === 'username') throw portalError('DUPLICATE', `The username "${a.username}" is taken.`);
    if (key === 'student' && a.studentId !== null) await studentTaken(db, a.studentId);
    throw err;
  }
}

// Compared against when the username is unknown or malformed, with the cost of real hashes, so
// a miss costs as long as a wrong password. One per cost factor, made (off the event loop) on
// first use.
const dummyHashes = new Map<number, Promise<string>>();
function timingHash(rounds: number): Promise<string> {
  let dummy = dummyHashes.get(rounds);
  if (!dummy) {
    dummy = hash('campus-sync-timing-equaliser', rounds);
    dummyHashes.set(rounds, dummy);
    dummy.catch(() => dummyHashes.delete(rounds));
  }
  return dummy;
}

/** Runs a bcrypt comparison when one of a limited number of slots is free (see hashingSlots). */
export type HashingSlots = <T>(compare: () => Promise<T>) => Promise<T>;

/**
 * At most `concurrency` bcrypt comparisons at a time in this process, the rest queued in order.
 * bcrypt runs on libuv's threads (4 per process), so without a bound a login storm keeps more
 * threads hashing than there are cores, and the pages of the students already logged in wait
 * for CPU behind them. main.ts gives each worker its share of the cores.
 */
export function hashingSlots(concurrency: number): HashingSlots {
  return pLimit(Math.max(1, Math.floor(concurrency)));
}

/**
 * The account when username and password match and it is not disabled, else undefined (never
 * says which was wrong). Every path runs exactly one bcrypt comparison at `bcryptRounds` cost
 * (or the account's own, which is the same unless the cost was changed since it was set), in
 * one of `slots` when given.
 */
export async function verifyLogin(
  db: Knex,
  typedUsername: string,
  password: string,
  bcryptRounds = 12,
  slots?: HashingSlots,
): Promise<Account | undefined> {
  const username = normaliseUsername(typedUsername);
  const account = username ? await findAccountByUsername(db, username) : undefined;
  const ok = await passwordMatches(password, () => account?.passwordHash ?? timingHash(bcryptRounds), slots);
  return ok && account && account.disabledAt === null ? account : undefined;
}

/**
 * One bcrypt comparison of `password` with the hash `hashOf` gives, in one of `slots` when given.
 * A password over MAX_PASSWORD_BYTES matches nothing, at the cost of a comparison all the same.
 */
async function passwordMatches(
  password: string,
  hashOf: () => string | Promise<string>,
  slots?: HashingSlots,
): Promise<boolean> {
  const tooLong = Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES;
  const compare = async () => verify(tooLong ? '' : password, await hashOf());
  return (await (slots ? slots(compare) : compare())) && !tooLong;
}

async function endSessions(db: Knex, username: string, changes: Parameters<typeof updateAccountEndingSessions>[2]) {
  const account = await findAccountByUsername(db, username);
  if (!account) throw portalError('NOT_FOUND', `There is no account "${username}".`);
  await updateAccountEndingSessions(db, username, changes);
  await deleteSessionsOf(db, account.id);
  return account;
}

function existingUsername(typed: string): string {
  const username = normaliseUsername(typed);
  if (!username) throw portalError('NOT_FOUND', `There is no account "${typed.slice(0, 64)}".`);
  return username;
}

/** Sets a new password; the account's sessions end. */
export async function setPassword(db: Knex, typed: string, password: string, bcryptRounds: number): Promise<void> {
  const username = existingUsername(typed);
  const pw = parseOrThrow(passwordSchema, password);
  await endSessions(db, username, { password_hash: await hash(pw, bcryptRounds) });
}

/** What a user typed to change their own password. */
export interface OwnPasswordChange {
  current: string;
  next: string;
  repeated: string;
}

/** Why an own password change was refused: `current` means the current password was wrong. */
export type OwnPasswordRefusal = { field: 'current' | 'next' | 'repeated'; message: string };

/**
 * A user changes their own password: the new one follows the password rule, is typed twice and
 * differs from the current one, which must be right (one bcrypt comparison, in `slots`). Every
 * session of the account ends, this one included (the caller starts a new one for the account
 * returned). Returns the account as it now is, or what was wrong.
 */
export async function changeOwnPassword(
  db: Knex,
  accountId: number,
  typed: OwnPasswordChange,
  bcryptRounds: number,
  slots?: HashingSlots,
): Promise<Account | OwnPasswordRefusal> {
  const rule = passwordSchema.safeParse(typed.next);
  if (!rule.success) return { field: 'next', message: `The new password ${rule.error.issues[0]!.message}.` };
  if (typed.repeated !== typed.next) return { field: 'repeated', message: 'The two new passwords differ.' };
  const account = await findAccountById(db, accountId);
  if (!account || account.disabledAt !== null) throw portalError('UNAUTHENTICATED', 'Log in first.');
  if (!(await passwordMatches(typed.current, () => account.passwordHash, slots)))
    return { field: 'current', message: 'Your current password is wrong.' };
  if (typed.next === typed.current)
    return { field: 'next', message: 'The new password must differ from the current one.' };
  const passwordHash = await hash(typed.next, bcryptRounds);
  if (!(await replaceOwnPassword(db, account.id, account.sessionVersion, passwordHash)))
    throw portalError('CONFLICT', 'Your account was changed meanwhile (by an administrator?): log in again.');
  await deleteSessionsOf(db, account.id);
  return { ...account, passwordHash, sessionVersion: account.sessionVersion + 1 };
}

/** Changes the role (a student account names its student); the account's sessions end. */
export async function setRole(db: Knex, typed: string, role: Role, studentId: number | null): Promise<void> {
  const username = existingUsername(typed);
  if ((role === 'student') !== (studentId !== null))
    throw portalError('VALIDATION_FAILED', 'a student account needs --student-id, other roles must not have one');
  if (studentId !== null && !(await studentExists(db, studentId)))
    throw portalError('NOT_FOUND', `There is no student with id ${studentId}.`);
  try {
    await endSessions(db, username, { role, student_id: studentId });
  } catch (err) {
    if (duplicateKey(err) === 'student' && studentId !== null) await studentTaken(db, studentId);
    throw err;
  }
}

/** Disables (or re-enables) an account; disabling ends its sessions and refuses its logins. */
export async function setDisabled(db: Knex, typed: string, disabled: boolean, now = new Date()): Promise<void> {
  const username = existingUsername(typed);
  await endSessions(db, username, { disabled_at: disabled ? now : null });
}

export function listUsers(db: Knex): Promise<AccountListing[]> {
  return listAccounts(db);
}
