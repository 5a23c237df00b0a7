import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type PrivateServer, StartFailed, portClosed, until } from '../private-servers';

/**
 * Where the live-store harness keeps what it downloaded or built, outside the repository, so a
 * second start takes seconds: CAMPUS_STORES_CACHE, else /var/cache/campus-sync for root (the
 * Elasticsearch server runs as `nobody`, which cannot enter /root), else ~/.cache/campus-sync.
 */
export const STORES_CACHE =
  process.env.CAMPUS_STORES_CACHE ??
  (process.getuid?.() === 0 ? '/var/cache/campus-sync' : path.join(os.homedir(), '.cache', 'campus-sync'));

export const ES_VERSION = '8.19.2';
export const NEO4J_VERSION = '5.26.18';
export const FERRETDB_VERSION = 'v1.24.2';

export const paths = {
  esHome: path.join(STORES_CACHE, `elasticsearch-${ES_VERSION}`),
  neo4jLib: path.join(STORES_CACHE, `neo4j-${NEO4J_VERSION}`, 'lib'),
  neo4jClasses: path.join(STORES_CACHE, `neo4j-${NEO4J_VERSION}`, 'classes'),
  ferretdb: path.join(STORES_CACHE, `ferretdb-${FERRETDB_VERSION}`, 'ferretdb'),
};

/** The JDK the Java stores run on (Elasticsearch 8.19 and Neo4j 5.26 both take 17). */
export const JAVA_HOME = process.env.CAMPUS_STORES_JAVA_HOME ?? '/usr/lib/jvm/java-17-openjdk-amd64';

/** Says what is missing from the cache, with the command that fetches it; undefined when ready. */
export function missingFromCache(store: 'elasticsearch' | 'neo4j' | 'mongo'): string | undefined {
  const need = {
    elasticsearch: path.join(paths.esHome, 'plugins', 'campus-analysis', 'campus-analysis.jar'),
    neo4j: path.join(paths.neo4jClasses, 'Neo4jServer.class'),
    mongo: paths.ferretdb,
  }[store];
  return existsSync(need) ? undefined : `${store} is not in ${STORES_CACHE}: run \`npm run stores -- fetch\``;
}

/**
 * Starts a store's server in its own process group (so a stop reaches the JVM behind a launcher
 * script), its output appended to `logFile`.
 */
export function spawnGroup(
  cmd: string,
  args: string[],
  o: { env?: NodeJS.ProcessEnv; cwd?: string; logFile: string },
): ChildProcess {
  const fd = openSync(o.logFile, 'a');
  try {
    const child = spawn(cmd, args, {
      env: o.env ?? process.env,
      cwd: o.cwd,
      detached: true,
      stdio: [DETACHED ? 'ignore' : 'pipe', fd, fd],
    });
    if (DETACHED) child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

/** Set by `npm run stores -- up`: servers outlive the command that started them. */
export let DETACHED = false;
export function detachStores(): void {
  DETACHED = true;
}

/** Signals a process group started by spawnGroup and waits until its leader is gone. */
export async function stopGroup(child: ChildProcess | undefined, how: 'graceful' | 'kill'): Promise<void> {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(-child.pid, how === 'kill' ? 'SIGKILL' : 'SIGTERM');
  } catch {
    return;
  }
  await exited;
}

/**
 * A harness server: `launch()` spawns it (with spawnGroup) and `ready()` says when it answers.
 * `start` waits for that, failing at once when the process exits; `stop` signals its process group
 * and waits until its port is free; `destroy` also deletes `dir` (its data, config and log).
 */
export async function startHarnessServer<T extends object>(o: {
  what: string;
  url: string;
  port: number;
  dir: string;
  launch: () => ChildProcess;
  ready: () => Promise<boolean>;
  extra: T;
}): Promise<PrivateServer & T> {
  let child: ChildProcess | undefined;
  const server: PrivateServer & T = {
    ...o.extra,
    url: o.url,
    port: o.port,
    async start() {
      const started = (child = o.launch());
      await until(
        o.what,
        async () => {
          if (started.exitCode !== null) throw new StartFailed(`${o.what} exited; see ${o.dir}/out.log`);
          return o.ready();
        },
        120_000,
      );
    },
    async stop(how = 'graceful') {
      await stopGroup(child, how);
      await portClosed(o.port);
    },
    async destroy() {
      await server.stop('kill');
      rmSync(o.dir, { recursive: true, force: true });
    },
    handle: () => ({ pgid: child?.pid, dir: o.dir }),
  };
  await server.start();
  return server;
}
