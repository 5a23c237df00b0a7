import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { AppError } from '../lib/app-error';
import { runCli } from '../lib/cli';
import { startElasticsearch } from '../test/support/stores/elasticsearch';
import { startFerretdb } from '../test/support/stores/ferretdb';
import { fetchElasticsearch, fetchFerretdb, fetchNeo4j } from '../test/support/stores/fetch-stores';
import { startNeo4j } from '../test/support/stores/neo4j';
import type { PrivateServer } from '../test/support/private-servers';
import { STORES_CACHE, detachStores } from '../test/support/stores/store-cache';

/**
 * `npm run stores -- fetch|up|down|status`: real MongoDB-protocol (FerretDB), Neo4j and
 * Elasticsearch servers on a machine without Docker, from Maven Central and the Go module proxy.
 *   fetch   download and build what the servers need into the cache (CI runs it before the tests)
 *   up      start the three and print MONGO_URL=... lines a shell can eval
 *   down    stop what `up` started and delete its data
 *   status  say what runs
 */
const STATE = path.join(STORES_CACHE, 'running.json');
interface Running {
  name: string;
  pgid: number;
  dir: string;
  env: Record<string, string>;
}
const say = (s: string) => process.stderr.write(`stores: ${s}\n`);

function alive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function readState(): Running[] {
  return existsSync(STATE) ? (JSON.parse(readFileSync(STATE, 'utf8')) as Running[]) : [];
}

const program = new Command('stores');
program
  .command('fetch')
  .description('download and build the servers into the cache')
  .action(() => {
    try {
      fetchFerretdb(say);
      fetchNeo4j(say);
      fetchElasticsearch(say);
    } catch (err) {
      throw new AppError('STORES_FETCH', err instanceof Error ? err.message.split('\n')[0]! : String(err));
    }
    say(`ready in ${STORES_CACHE}`);
  });

program
  .command('up')
  .description('start FerretDB, Neo4j and Elasticsearch; print their URLs as shell lines')
  .action(async () => {
    let state = readState().filter((r) => alive(r.pgid));
    if (state.length === 0) {
      detachStores();
      // Saved after each start, so `down` cleans up after a start that failed half way.
      const started = async (
        name: string,
        start: () => Promise<PrivateServer>,
        env: (s: PrivateServer) => Record<string, string>,
      ) => {
        const server = await start().catch((err: unknown) => {
          throw new AppError('STORES_UP', `${name} did not start: ${err instanceof Error ? err.message : String(err)}`);
        });
        const h = server.handle!();
        state.push({ name, pgid: h.pgid!, dir: h.dir, env: env(server) });
        writeFileSync(STATE, JSON.stringify(state, null, 2), { mode: 0o600 });
      };
      state = [];
      await started('FerretDB', startFerretdb, (s) => ({ MONGO_URL: `${s.url}campus` }));
      await started('Neo4j', startNeo4j, (s) => {
        const n = s as Awaited<ReturnType<typeof startNeo4j>>;
        return { NEO4J_URL: n.url, NEO4J_USER: n.user, NEO4J_PASSWORD: n.password };
      });
      await started('Elasticsearch', startElasticsearch, (s) => ({ ELASTICSEARCH_URL: s.url }));
    } else say('already running (npm run stores -- down stops them)');
    for (const r of state) for (const [k, v] of Object.entries(r.env)) console.log(`${k}=${v}`);
    say('up: FerretDB, Neo4j and Elasticsearch (eval these lines, or add them to .env)');
  });

program
  .command('down')
  .description('stop what up started and delete its data')
  .action(async () => {
    for (const r of readState()) {
      if (alive(r.pgid)) process.kill(-r.pgid, 'SIGTERM');
      for (let i = 0; i < 100 && alive(r.pgid); i++) await new Promise((res) => setTimeout(res, 100));
      if (alive(r.pgid)) process.kill(-r.pgid, 'SIGKILL');
      rmSync(r.dir, { recursive: true, force: true });
      say(`${r.name} stopped`);
    }
    rmSync(STATE, { force: true });
  });

program
  .command('status')
  .description('say what runs')
  .action(() => {
    const state = readState();
    if (state.length === 0) {
      say('nothing started by `npm run stores -- up`');
      return;
    }
    for (const r of state) say(`${r.name}: ${alive(r.pgid) ? 'running' : 'stopped'} (${Object.values(r.env)[0]})`);
  });

runCli(async () => {
  await program.parseAsync();
});
