import 'dotenv/config';
import { Command } from 'commander';
import { runCli } from '../../lib/cli';
import { loadWebappCliConfig } from '../src/config';
import { migrateMysql } from '../src/db/migrate';

const program = new Command('db:migrate').description(
  'Apply the numbered mysql/init/*.sql files not yet applied to MYSQL_URL.',
);

runCli(async () => {
  program.parse();
  const config = loadWebappCliConfig(process.env);
  const applied = await migrateMysql(config.mysqlUrl);
  console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'schema is up to date');
});
