import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type PrivateServer, StartFailed, freePort, portClosed, until } from '../private-servers';
import { DETACHED, JAVA_HOME, missingFromCache, paths, spawnGroup, stopGroup } from './store-cache';

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
export async function startNeo4j(): Promise<Neo4jServer> {
  const missing = missingFromCache('neo4j');
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cs-neo4j-'));
  const port = await freePort();
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  let child: ChildProcess | undefined;
  const server: Neo4jServer = {
    url: `bolt://127.0.0.1:${port}`,
    port,
    user: 'neo4j',
    password,
    async start() {
      const log = `${dir}/out.log`;
      // A restart appends to the same log: only a READY written after this start counts.
      const from = existsSync(log) ? statSync(log).size : 0;
      child = spawnGroup(
        path.join(JAVA_HOME, 'bin', 'java'),
        [
          '-Xmx512m',
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
      const started = child;
      await until(
        'Neo4j',
        async () => {
          if (started.exitCode !== null) throw new StartFailed(`Neo4j exited; see ${log}`);
          return readFileSync(log, 'utf8').slice(from).includes('READY');
        },
        120_000,
      );
    },
    async stop(how = 'graceful') {
      await stopGroup(child, how);
      await portClosed(port);
    },
    async destroy() {
      await server.stop('kill');
      rmSync(dir, { recursive: true, force: true });
    },
    handle: () => ({ pgid: child?.pid, dir }),
  };
  await server.start();
  return server;
}
