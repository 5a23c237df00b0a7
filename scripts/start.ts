import { freePort } from '../lib/free-port';
import 'dotenv/config';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Command } from 'commander';
import mysql from 'mysql2/promise';
import { AppError } from '../lib/app-error';
import { ensureMysqlDatabase, ensurePostgresDatabase } from '../lib/ensure-databases';
import { intArg, runCli } from '../lib/cli';
import { PROJECT_ROOT, RUNS_COMPILED } from '../lib/project-root';
import { createProgress } from '../lib/progress';
import { loadWebappCliConfig } from '../webapp/src/config';
import { DAEMON_NODE_FLAGS } from '../cdc-daemon/src/config';
import { createKnex } from '../webapp/src/db/knex';
import { migrateMysql } from '../webapp/src/db/migrate';
import { createDemoAccounts } from '../webapp/src/seed/demo-accounts';
import { estimateRows } from '../webapp/src/seed/generate-university';
import { isDatabaseEmpty, seedDatabase } from '../webapp/src/seed/seed-database';

/**
 * `npm start`: the whole system against the servers in .env. Migrates MySQL, seeds a demo
 * university when the database is empty (printing the demo accounts once), then runs the
 * deployables as child processes and stops them together on SIGTERM/SIGINT.
 */
const DEPLOYABLES = {
  webapp: { script: 'webapp/src/main', args: [], node: [] },
  cdc: { script: 'cdc-daemon/src/main', args: ['run'], node: DAEMON_NODE_FLAGS },
} as const;
type Deployable = keyof typeof DEPLOYABLES;

const program = new Command('start')
  .option(
    '--services <list>',
    `comma-separated: ${Object.keys(DEPLOYABLES).join(',')}`,
    Object.keys(DEPLOYABLES).join(','),
  )
  .option('--demo-students <n>', 'students to generate when MySQL is empty', intArg(1, 10_000_000))
  .option('--no-seed', 'never seed');

async function prepareMysql(demoStudents: number, seed: boolean): Promise<void> {
  const config = loadWebappCliConfig(process.env);
  if (await ensureMysqlDatabase(config.mysqlUrl)) console.log('start: created the MySQL database of MYSQL_URL');
  const applied = await migrateMysql(config.mysqlUrl);
  if (applied.length > 0) console.log(`start: applied MySQL migrations ${applied.join(', ')}`);
  const conn = await mysql.createConnection({ uri: config.mysqlUrl });
  const empty = await isDatabaseEmpty(conn).finally(() => conn.end());
  if (!empty || !seed) return;
  console.log(`start: MySQL is empty; generating a demo university with ${demoStudents} students`);
  const progress = createProgress('seeding', estimateRows(demoStudents));
  await seedDatabase(config.mysqlUrl, { students: demoStudents, seed: 42, today: new Date() }, (t, n) =>
    progress.increment(n, t),
  );
  progress.stop();
  const db = createKnex(config.mysqlUrl);
  try {
    const accounts = await createDemoAccounts(db, config.bcryptRounds);
    console.log('\nDemo accounts (shown once; create more with `npm run admin -- create-user`):');
    for (const a of accounts) console.log(`  ${a.role.padEnd(8)} ${a.username.padEnd(10)} ${a.password}`);
    console.log('');
  } finally {
    await db.destroy();
  }
}

/**
 * With the portal and the daemon together, the console's controls reach the daemon's admin API
 * without the user inventing anything: a token made for this run (never printed, only handed to
 * the two children), the daemon's HTTP port (a free one unless CDC_HTTP_PORT is set) and the URL.
 * What .env sets is kept.
 */
async function wireConsoleToDaemon(env: NodeJS.ProcessEnv): Promise<NodeJS.ProcessEnv> {
  const wired = { ...env };
  if (!wired.CDC_ADMIN_TOKEN) wired.CDC_ADMIN_TOKEN = randomBytes(24).toString('hex');
  if (!wired.CDC_HTTP_PORT || wired.CDC_HTTP_PORT === '0') wired.CDC_HTTP_PORT = String(await freePort());
  if (!wired.CDC_ADMIN_URL) wired.CDC_ADMIN_URL = `http://127.0.0.1:${wired.CDC_HTTP_PORT}`;
  console.log(`start: the operator console controls the daemon through its admin API on port ${wired.CDC_HTTP_PORT}`);
  return wired;
}

/**
 * How a deployable starts: compiled (`node dist/...js`) when this script runs compiled, as the
 * images and `npm run start:compiled` do; else TypeScript through tsx, for development.
 */
function childCommand(script: string, nodeFlags: readonly string[]): [string, string[]] {
  if (RUNS_COMPILED) return [process.execPath, [...nodeFlags, path.join(PROJECT_ROOT, 'dist', `${script}.js`)]];
  return [path.join(PROJECT_ROOT, 'node_modules/.bin/tsx'), [...nodeFlags, path.join(PROJECT_ROOT, `${script}.ts`)]];
}

runCli(async () => {
  program.parse();
  const opts = program.opts<{ services: string; demoStudents?: number; seed: boolean }>();
  const services = opts.services
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = services.filter((s) => !(s in DEPLOYABLES));
  if (unknown.length > 0)
    throw new AppError(
      'BAD_ARGUMENT',
      `unknown service(s): ${unknown.join(', ')}; choose from ${Object.keys(DEPLOYABLES).join(', ')}`,
    );
  if (services.includes('cdc') && process.env.POSTGRES_URL) {
    if (await ensurePostgresDatabase(process.env.POSTGRES_URL))
      console.log('start: created the PostgreSQL database of POSTGRES_URL');
  }
  if (services.includes('webapp'))
    await prepareMysql(opts.demoStudents ?? Number(process.env.DEMO_STUDENTS ?? 500), opts.seed);

  const env =
    services.includes('webapp') && services.includes('cdc') ? await wireConsoleToDaemon(process.env) : process.env;
  const children: ChildProcess[] = (services as Deployable[]).map((s) => {
    const { script, args, node } = DEPLOYABLES[s];
    const [command, entry] = childCommand(script, node);
    return spawn(command, [...entry, ...args], { stdio: 'inherit', env });
  });
  await new Promise<void>((resolve) => {
    let exited = 0;
    const stopAll = (signal: NodeJS.Signals) => children.forEach((c) => c.exitCode === null && c.kill(signal));
    process.on('SIGTERM', () => stopAll('SIGTERM'));
    process.on('SIGINT', () => stopAll('SIGINT'));
    for (const child of children) {
      child.on('exit', (code) => {
        if (code !== 0) process.exitCode = code ?? 1;
        // One deployable gone means the system is not whole: stop the others too.
        stopAll('SIGTERM');
        if (++exited === children.length) resolve();
      });
    }
  });
});
