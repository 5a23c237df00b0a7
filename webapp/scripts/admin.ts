import 'dotenv/config';
import { Command, Option } from 'commander';
import { intArg, runCli } from '../../lib/cli';
import { loadWebappCliConfig } from '../src/config';
import { createKnex } from '../src/db/knex';
import { ROLES } from '../src/repositories/accounts-repository';
import { createAccount } from '../src/use-cases/accounts';

const program = new Command('admin').description('Portal administration.');

program
  .command('create-user')
  .description('Create a portal account.')
  .requiredOption('--username <u>', 'login name (3-64 letters, digits, . _ -)')
  .requiredOption('--password <p>', 'at least 10 characters')
  .addOption(new Option('--role <role>', 'account role').choices(ROLES).makeOptionMandatory())
  .option('--student-id <id>', 'the student this account belongs to (role student only)', intArg(1))
  .action(async (opts: { username: string; password: string; role: (typeof ROLES)[number]; studentId?: number }) => {
    const config = loadWebappCliConfig(process.env);
    const db = createKnex(config.mysqlUrl);
    try {
      const id = await createAccount(
        db,
        { username: opts.username, password: opts.password, role: opts.role, studentId: opts.studentId ?? null },
        config.bcryptRounds,
      );
      console.log(`created ${opts.role} account "${opts.username}" (id ${id})`);
    } finally {
      await db.destroy();
    }
  });

runCli(async () => {
  await program.parseAsync();
});
