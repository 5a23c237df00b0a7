import 'dotenv/config';
import { Command, Option } from 'commander';
import type { Knex } from 'knex';
import { intArg, runCli } from '../../lib/cli';
import { loadWebappCliConfig } from '../src/config';
import { createKnex } from '../src/db/knex';
import { ROLES, type Role } from '../src/repositories/accounts-repository';
import { recountSeats } from '../src/repositories/courses-repository';
import { USERNAME_RULE, createAccount, listUsers, setDisabled, setPassword, setRole } from '../src/use-cases/accounts';

/**
 * `npm run admin -- <command>`: portal accounts, and the seat counts. Refusals (a taken username, a student who already
 * has an account, an unknown account, a bad password) print one line and exit 2; an unreachable
 * or refusing MySQL prints one line and exits 1. Every change that should end an account's
 * sessions (password, role, disabling) ends them at once, in every portal process.
 */
const program = new Command('admin').description('Portal administration.').showHelpAfterError();

async function withDb<T>(work: (db: Knex, bcryptRounds: number) => Promise<T>): Promise<T> {
  const config = loadWebappCliConfig(process.env);
  const db = createKnex(config.mysqlUrl);
  try {
    return await work(db, config.bcryptRounds);
  } finally {
    await db.destroy();
  }
}

const roleOption = () => new Option('--role <role>', 'account role').choices(ROLES).makeOptionMandatory();

program
  .command('create-user')
  .description('Create a portal account.')
  .requiredOption('--username <u>', USERNAME_RULE)
  .requiredOption('--password <p>', '10 characters to 72 bytes')
  .addOption(roleOption())
  .option('--student-id <id>', 'the student this account belongs to (role student only)', intArg(1, 4294967295))
  .action((opts: { username: string; password: string; role: Role; studentId?: number }) =>
    withDb(async (db, rounds) => {
      const id = await createAccount(
        db,
        { username: opts.username, password: opts.password, role: opts.role, studentId: opts.studentId ?? null },
        rounds,
      );
      console.log(`created ${opts.role} account "${opts.username.toLowerCase()}" (id ${id})`);
    }),
  );

program
  .command('set-password')
  .description("Set an account's password; its sessions end.")
  .requiredOption('--username <u>', 'the account')
  .requiredOption('--password <p>', 'the new password: 10 characters to 72 bytes')
  .action((opts: { username: string; password: string }) =>
    withDb(async (db, rounds) => {
      await setPassword(db, opts.username, opts.password, rounds);
      console.log(`password of "${opts.username.toLowerCase()}" set; its sessions have ended`);
    }),
  );

program
  .command('set-role')
  .description("Change an account's role; its sessions end.")
  .requiredOption('--username <u>', 'the account')
  .addOption(roleOption())
  .option('--student-id <id>', 'the student (role student only)', intArg(1, 4294967295))
  .action((opts: { username: string; role: Role; studentId?: number }) =>
    withDb(async (db) => {
      await setRole(db, opts.username, opts.role, opts.studentId ?? null);
      console.log(`"${opts.username.toLowerCase()}" is now ${opts.role}; its sessions have ended`);
    }),
  );

program
  .command('disable-user')
  .description('Disable an account: it cannot log in and its sessions end (its row and history stay).')
  .requiredOption('--username <u>', 'the account')
  .action((opts: { username: string }) =>
    withDb(async (db) => {
      await setDisabled(db, opts.username, true);
      console.log(`"${opts.username.toLowerCase()}" is disabled; its sessions have ended`);
    }),
  );

program
  .command('enable-user')
  .description('Enable a disabled account again.')
  .requiredOption('--username <u>', 'the account')
  .action((opts: { username: string }) =>
    withDb(async (db) => {
      await setDisabled(db, opts.username, false);
      console.log(`"${opts.username.toLowerCase()}" is enabled`);
    }),
  );

program
  .command('list-users')
  .description('List the accounts (never their password hashes).')
  .option('--json', 'one JSON array')
  .action((opts: { json?: boolean }) =>
    withDb(async (db) => {
      const users = await listUsers(db);
      if (opts.json) return console.log(JSON.stringify(users, null, 2));
      console.log(['id', 'username', 'role', 'student', 'state'].join('\t'));
      for (const u of users)
        console.log(
          [
            u.id,
            u.username,
            u.role,
            u.studentId ?? '-',
            u.disabledAt ? `disabled ${u.disabledAt.toISOString()}` : 'active',
          ].join('\t'),
        );
    }),
  );

program
  .command('recount-seats')
  .description(
    "Recount every course's seats taken from enrollments (after enrollments were written outside the portal).",
  )
  .action(() =>
    withDb(async (db) => {
      console.log(`seats recounted for ${await recountSeats(db)} courses`);
    }),
  );

runCli(() => program.parseAsync().then(() => undefined), { exitCodeFor: (err) => (err.status < 500 ? 2 : 1) });
