import { freePort } from '../lib/free-port';
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../lib/project-root';
import { migrateMysql } from '../webapp/src/db/migrate';
import { createMysqlDatabase, createPostgresDatabase } from '../test/support/databases';
import { processTree, rssKb } from './proc-tree';
import type { BenchRow } from './report';

const IDLE_MS = 5_000;

interface Deployable {
  name: string;
  script: string;
  args: string[];
  /** Env of the deployable, given its HTTP port. */
  env: (port: number) => Record<string, string>;
}

/**
 * Start-up time (spawn to the first 200 from /healthz) and idle RSS (the whole process tree,
 * IDLE_MS after ready) of the portal and the daemon, compiled (`node dist/...`) against the
 * development path through tsx, which is the baseline. Needs `npm run build` first.
 */
export async function benchStartup(runs: number, log: (s: string) => void): Promise<BenchRow[]> {
  const mysql = await createMysqlDatabase();
  const pg = await createPostgresDatabase();
  try {
    await migrateMysql(mysql.url);
    const base = { NODE_ENV: 'production', LOG_LEVEL: 'warn', PATH: process.env.PATH ?? '' };
    const deployables: Deployable[] = [
      {
        name: 'portal',
        script: 'webapp/src/main',
        args: [],
        env: (port) => ({ ...base, MYSQL_URL: mysql.url, SESSION_SECRET: 'x'.repeat(40), PORT: String(port) }),
      },
      {
        name: 'daemon',
        script: 'cdc-daemon/src/main',
        args: ['run'],
        env: (port) => ({
          ...base,
          CDC_MYSQL_URL: mysql.url,
          POSTGRES_URL: pg.url,
          SINKS: '',
          CDC_HTTP_PORT: String(port),
          CDC_SCHEDULE: '0 0 1 1 *',
        }),
      },
    ];
    const rows: BenchRow[] = [];
    for (const d of deployables) {
      const tsx = await measure(d, 'tsx', runs, log);
      const node = await measure(d, 'node', runs, log);
      rows.push(
        {
          section: 'startup',
          figure: `${d.name}: spawn to /healthz`,
          value: node.readyMs,
          unit: 'ms',
          baseline: { name: 'tsx', value: tsx.readyMs },
        },
        {
          section: 'startup',
          figure: `${d.name}: idle RSS`,
          value: node.rssMb,
          unit: 'MB',
          baseline: { name: 'tsx', value: tsx.rssMb },
        },
      );
    }
    return rows;
  } finally {
    await mysql.drop();
    await pg.drop();
  }
}

async function measure(d: Deployable, mode: 'tsx' | 'node', runs: number, log: (s: string) => void) {
  const ready: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < runs; i++) {
    const port = await freePort();
    const [cmd, args] =
      mode === 'node'
        ? [process.execPath, [path.join(PROJECT_ROOT, 'dist', `${d.script}.js`), ...d.args]]
        : [path.join(PROJECT_ROOT, 'node_modules/.bin/tsx'), [path.join(PROJECT_ROOT, `${d.script}.ts`), ...d.args]];
    const started = performance.now();
    const child = spawn(cmd, args, { env: d.env(port), stdio: ['ignore', 'ignore', 'inherit'] });
    try {
      await untilHealthy(port, child);
      ready.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, IDLE_MS));
      rss.push(rssKb(processTree(child.pid!)) / 1024);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
  const out = { readyMs: median(ready), rssMb: median(rss) };
  log(`startup: ${d.name} via ${mode}: ready ${out.readyMs.toFixed(0)} ms, idle RSS ${out.rssMb.toFixed(0)} MB`);
  return out;
}

async function untilHealthy(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before answering /healthz`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no answer from /healthz within 60 s');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
