import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
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

/**
 * What a Java store's server is started for. `test`: it lives a minute or two and serves a few
 * thousand requests, so C2's optimising compiles never pay for their CPU, which the other jest
 * worker wants: it runs with C1 alone. On this 2-core machine, to ready: Elasticsearch 19.5-20.1 s
 * and 34-37 CPU-seconds with both compilers, 13.0-16.1 s and 19-24 with C1 alone; Neo4j 17.7-24.8 s
 * and 32-36 CPU-seconds, 14.2-18.3 s and 18-23. `serve` (`npm run stores -- start`, the benches):
 * the JVM's defaults, whose steady state is what users and the benches see.
 */
export type StoreUse = 'test' | 'serve';

export function jvmFlags(use: StoreUse): string[] {
  return use === 'test' ? ['-XX:TieredStopAtLevel=1'] : [];
}

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

/**
 * Signals a process group started by spawnGroup and waits until its leader is gone. A killed
 * JVM leaves its attach socket, `/tmp/.java_pid<pid>`, behind (Elasticsearch attaches an agent
 * to itself at start, so its server always has one): those of the group's processes go too.
 */
export async function stopGroup(child: ChildProcess | undefined, how: 'graceful' | 'kill'): Promise<void> {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const members = how === 'kill' ? groupMembers(child.pid) : [];
  try {
    process.kill(-child.pid, how === 'kill' ? 'SIGKILL' : 'SIGTERM');
  } catch {
    return;
  }
  await exited;
  for (const pid of members) rmSync(attachSocket(pid), { force: true });
}

/** Where a HotSpot JVM's attach socket is: /tmp on Linux, whatever TMPDIR says. */
export function attachSocket(pid: number): string {
  return `/tmp/.java_pid${pid}`;
}

/** The processes of group `pgid`, from /proc (none where there is no /proc). */
export function groupMembers(pgid: number): number[] {
  const pids: number[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return pids;
  }
  for (const name of names) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // After the command's name in parentheses: state, parent, group.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid) pids.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** A harness server that exited at start because another process took its port first. */
export class PortTaken extends StartFailed {
  constructor(
    message: string,
    readonly dir: string,
  ) {
    super(message);
  }
}

/** What servers write when a port they were given is taken (freePort's pick can be taken before). */
const PORT_TAKEN = /BindException|Failed to bind|address already in use/i;

/**
 * Starts a harness server, and once more on fresh ports (each start picks its own) when another
 * process took one of them between freePort's pick and the server's bind; the first try's folder
 * goes.
 */
export async function onFreePorts<T>(start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if (!(err instanceof PortTaken)) throw err;
    rmSync(err.dir, { recursive: true, force: true });
    return start();
  }
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
          if (started.exitCode !== null) {
            const log = path.join(o.dir, 'out.log');
            const message = `${o.what} exited; see ${log}`;
            throw PORT_TAKEN.test(existsSync(log) ? readFileSync(log, 'utf8') : '')
              ? new PortTaken(message, o.dir)
              : new StartFailed(message);
          }
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
