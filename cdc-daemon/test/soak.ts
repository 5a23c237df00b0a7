import { Command } from 'commander';
import { AppError } from '../../lib/app-error';
import { intArg, runCli } from '../../lib/cli';
import { createProgress } from '../../lib/progress';
import { startCli } from './cli-runner';
import { type DaemonProcess, createFaultRig } from './fault-rig';
import { prng } from './random-model';

/**
 * `npm run soak -- --minutes N [--seed S]`: the fault campaign as a script. A seeded university
 * on private MariaDB, PostgreSQL and Redis instances, a random writer, and every few seconds a
 * random fault: the daemon SIGKILLed (and started again), a standby started, a server stopped
 * or crashed for a few seconds, a table resynced. Then the writer stops and the rig must converge:
 * the mirror equals MySQL, the history is whole, Redis equals the mirror. Exit 1 when it does not.
 */
const program = new Command('soak')
  .option('--minutes <n>', 'how long the faults go on', intArg(1, 24 * 60), 5)
  .option('--seed <n>', 'random seed (printed, to replay a run)', intArg(0), Date.now() % 1_000_000)
  .option('--students <n>', 'size of the university', intArg(50, 100_000), 300);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fault action or check that never ends is a finding too: the run stops and says which. */
async function deadline<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AppError('SOAK_HUNG', `${what} did not finish within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([p, hung]);
  } finally {
    clearTimeout(timer);
  }
}
const TABLES = ['students', 'enrollments', 'attendance', 'courses', 'student_groups'];

runCli(async () => {
  program.parse();
  const o = program.opts<{ minutes: number; seed: number; students: number }>();
  const r = prng(o.seed);
  console.error(`soak: seed ${o.seed}, ${o.minutes} min, ${o.students} students`);
  const rig = await createFaultRig(o.students);
  const counts = { daemonKills: 0, standbys: 0, postgres: 0, mysql: 0, redis: 0, resyncs: 0 };
  let daemons: DaemonProcess[] = [rig.startDaemon()];
  try {
    await soak(rig);
  } finally {
    await rig.close();
  }
  async function soak(rig: Awaited<ReturnType<typeof createFaultRig>>): Promise<void> {
    const writer = rig.startWriter(o.seed);
    const end = Date.now() + o.minutes * 60_000;
    const progress = createProgress('soak', o.minutes * 60, process.stderr, 'seconds');
    let elapsed = 0;
    try {
      while (Date.now() < end) {
        const started = Date.now();
        await sleep(r.int(3_000, 10_000));
        daemons = daemons.filter((d) => d.alive());
        await deadline('a fault action', 120_000, act(r.int(0, 6)));
        progress.increment(Math.round((Date.now() - started) / 1000));
        elapsed += Date.now() - started;
      }
    } finally {
      progress.stop();
    }
    async function act(kind: number): Promise<void> {
      switch (kind) {
        case 0: {
          const victim = r.pick(daemons);
          if (victim) {
            victim.child.kill('SIGKILL');
            counts.daemonKills++;
          }
          await sleep(r.int(200, 3_000));
          if (daemons.filter((d) => d.alive()).length === 0) daemons.push(rig.startDaemon());
          break;
        }
        case 1:
          if (daemons.length < 2) {
            daemons.push(rig.startDaemon());
            counts.standbys++;
          }
          break;
        case 2:
          await rig.postgres.stop(r.int(0, 1) === 0 ? 'graceful' : 'kill');
          counts.postgres++;
          await sleep(r.int(1_000, 6_000));
          await rig.postgres.start();
          break;
        case 3:
          await rig.mysql.stop(r.int(0, 1) === 0 ? 'graceful' : 'kill');
          counts.mysql++;
          await sleep(r.int(1_000, 6_000));
          await rig.mysql.start();
          break;
        case 4:
          await rig.redis.stop('kill');
          counts.redis++;
          await sleep(r.int(1_000, 8_000));
          await rig.redis.start();
          break;
        default: {
          const res = await startCli(['resync', r.pick(TABLES)], { ...rig.env, LOG_LEVEL: 'error' }).done;
          if (res.code === 0) counts.resyncs++;
        }
      }
    }
    const writes = await deadline('stopping the writer', 120_000, writer.stop());
    if (daemons.filter((d) => d.alive()).length === 0) daemons.push(rig.startDaemon());
    const result = await rig.converge(180_000);
    const { rows } = await rig.pool.query(
      `SELECT count(*) FILTER (WHERE status IN ('succeeded', 'no_changes'))::int AS ok,
            count(*) FILTER (WHERE status = 'failed')::int AS failed,
            count(*) FILTER (WHERE status = 'running')::int AS running
       FROM cdc.sync_history`,
    );
    const ok = result.drift.length === 0 && result.history.length === 0 && result.redisEqual;
    const table = [
      ['seed', o.seed],
      ['minutes of faults', Math.round(elapsed / 60_000)],
      ['daemon SIGKILLs', counts.daemonKills],
      ['standbys started', counts.standbys],
      ['PostgreSQL outages', counts.postgres],
      ['MySQL outages', counts.mysql],
      ['Redis outages (back empty)', counts.redis],
      ['resyncs', counts.resyncs],
      ['random writes', writes.writes],
      ['writer attempts refused (MySQL down)', writes.failed],
      ['cycles finished', rows[0].ok],
      ['cycles failed', rows[0].failed],
      ['tables drifting from MySQL', result.drift.length],
      ['history problems', result.history.length],
      ['Redis equal to the mirror', result.redisEqual ? 'yes' : 'NO'],
    ];
    console.log(['| soak | |', '|---|---|', ...table.map(([k, v]) => `| ${k} | ${v} |`)].join('\n'));
    for (const line of [...result.drift, ...result.history]) console.log(`- ${line}`);
    if (!ok) process.exitCode = 1;
  }
});
