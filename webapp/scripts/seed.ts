import 'dotenv/config';
import { Command } from 'commander';
import { dateArg, intArg, runCli } from '../../lib/cli';
import { createProgress } from '../../lib/progress';
import { loadWebappCliConfig } from '../src/config';
import { createKnex } from '../src/db/knex';
import { migrateMysql } from '../src/db/migrate';
import { createDemoAccounts } from '../src/seed/demo-accounts';
import { estimateRows } from '../src/seed/generate-university';
import { seedDatabase } from '../src/seed/seed-database';

const program = new Command('db:seed')
  .description(
    'Fill an empty MYSQL_URL database with a generated university (deterministic for a given --seed and --today).',
  )
  .option('--students <n>', 'number of students', intArg(1, 10_000_000), 500)
  .option('--seed <s>', 'random seed', intArg(0, 2 ** 31 - 1), 42)
  .option('--today <date>', 'the day the current term is open for enrollment (YYYY-MM-DD)', dateArg)
  .option('--no-demo-accounts', 'do not create the demo accounts');

runCli(async () => {
  program.parse();
  const opts = program.opts<{ students: number; seed: number; today?: Date; demoAccounts: boolean }>();
  const config = loadWebappCliConfig(process.env);
  await migrateMysql(config.mysqlUrl);
  const started = Date.now();
  const progress = createProgress('seeding', estimateRows(opts.students));
  const counts = await seedDatabase(
    config.mysqlUrl,
    { students: opts.students, seed: opts.seed, today: opts.today ?? new Date() },
    (table, n) => progress.increment(n, table),
  );
  progress.stop();
  console.log(
    `seeded in ${((Date.now() - started) / 1000).toFixed(1)} s: ${Object.entries(counts)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ')}`,
  );
  if (opts.demoAccounts) {
    const db = createKnex(config.mysqlUrl);
    try {
      const accounts = await createDemoAccounts(db, config.bcryptRounds);
      console.log('\nDemo accounts (passwords are shown only now; create more with `npm run admin -- create-user`):');
      for (const a of accounts) console.log(`  ${a.role.padEnd(8)} ${a.username.padEnd(10)} ${a.password}`);
    } finally {
      await db.destroy();
    }
  }
});
