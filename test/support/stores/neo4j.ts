import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../../lib/free-port';
import type { PrivateServer } from '../private-servers';
import {
  DETACHED,
  JAVA_HOME,
  type StoreUse,
  jvmFlags,
  missingFromCache,
  onFreePorts,
  paths,
  spawnGroup,
  startHarnessServer,
} from './store-cache';

export interface Neo4jServer extends PrivateServer {
  user: string;
  password: string;
}

/**
 * A real Neo4j 5 Community server for the tests: neo4j-harness from Maven Central, started by
 * Neo4jServer.java beside this file, Bolt on a free 127.0.0.1 port, authentication on (user neo4j
 * and a random password), data in a throw-away folder that outlives a stop (a restart keeps it).
 * Community has one database, so each test file starts its own server.
 */
export function startNeo4j(use: StoreUse = 'serve'): Promise<Neo4jServer> {
  return onFreePorts(() => startOnce(use));
}

async function startOnce(use: StoreUse): Promise<Neo4jServer> {
  const missing = missingFromCache('neo4j');
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cs-neo4j-'));
  const port = await freePort();
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const log = `${dir}/out.log`;
  // The harness writes a log4j file per database into java.io.tmpdir and leaves it there: the
  // server's own folder takes them, and goes with it.
  mkdirSync(`${dir}/tmp`);
  // A restart appends to the same log: only a READY written after that start counts.
  let from = 0;
  return startHarnessServer({
    what: 'Neo4j',
    url: `bolt://127.0.0.1:${port}`,
    port,
    dir,
    extra: { user: 'neo4j', password },
    launch: () => {
      from = existsSync(log) ? statSync(log).size : 0;
      return spawnGroup(
        path.join(JAVA_HOME, 'bin', 'java'),
        [
          '-Xmx512m',
          ...jvmFlags(use),
          `-Djava.io.tmpdir=${dir}/tmp`,
          '-cp',
          `${paths.neo4jClasses}:${paths.neo4jLib}/*`,
          'Neo4jServer',
          String(port),
          `${dir}/db`,
          password,
          ...(DETACHED ? ['detached'] : []),
        ],
        { logFile: log },
      );
    },
    ready: async () => readFileSync(log, 'utf8').slice(from).includes('READY'),
  });
}
