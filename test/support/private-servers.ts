import { freePort } from '../../lib/free-port';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { Client } from 'pg';

/**
 * Server instances of the fault tests' own: each on a free 127.0.0.1 port with a throw-away data
 * directory, so a test can stop, kill and restart them under a running daemon without touching
 * the shared servers other test files use. Debian's packages provide the binaries (the same
 * ones scripts/services.sh installs).
 */
export interface PrivateServer {
  /** Admin URL (PostgreSQL: database postgres; MySQL: no database). */
  readonly url: string;
  readonly port: number;
  /** Starts the stopped server on the same port and data. */
  start(): Promise<void>;
  /**
   * `graceful`: a clean shutdown (PostgreSQL's fast mode ends sessions with 57P01); `kill`: a crash
   * (SIGKILL; for PostgreSQL its immediate shutdown, SIGQUIT, which skips the checkpoint and
   * recovers at the next start: a SIGKILL of the postmaster would leave its backends running).
   */
  stop(how?: 'graceful' | 'kill'): Promise<void>;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
  /** The server's process group and folder, for `npm run stores -- down` (harness stores). */
  handle?: () => { pgid: number | undefined; dir: string };
}

/** Thrown by a readiness check when waiting longer cannot help (the server exited). */
export class StartFailed extends Error {}

export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const ok = await check().catch((err: unknown) => {
      if (err instanceof StartFailed) throw err;
      return false;
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up within ${timeoutMs / 1000} s`);
}

/** Resolves once nothing accepts connections on 127.0.0.1:`port` (a stopped server let go of it). */
export async function portClosed(port: number, timeoutMs = 60_000): Promise<void> {
  await until(
    `port ${port} to close`,
    () =>
      new Promise<boolean>((resolve) => {
        const c = createConnection(port, '127.0.0.1', () => (c.destroy(), resolve(false)));
        c.on('error', () => resolve(true));
      }),
    timeoutMs,
  );
}

/** Runs `cmd` as `user` when this process is root (PostgreSQL and MariaDB refuse to run as root). */
function asUser(user: string, cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', user, '--', cmd, ...args]] : [cmd, args];
}

/** The user and group ids of the account `user`. */
export function accountIds(user: string): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, user]).toString().trim());
  return { uid: id('-u'), gid: id('-g') };
}

function tempDir(prefix: string, owner?: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  if (owner && process.getuid?.() === 0) {
    const { uid, gid } = accountIds(owner);
    chownSync(dir, uid, gid);
  }
  return dir;
}

function exited(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

export async function startPrivatePostgres(): Promise<PrivateServer> {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  const bin = (name: string) => `/usr/lib/postgresql/${versions[0]}/bin/${name}`;
  const dir = tempDir('cs-pg-', 'postgres');
  const data = path.join(dir, 'data');
  const port = await freePort();
  execFileSync(...asUser('postgres', bin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']), {
    stdio: 'ignore',
  });
  let child: ChildProcess | undefined;
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const server: PrivateServer = {
    url,
    port,
    async start() {
      const [cmd, args] = asUser('postgres', bin('postgres'), [
        '-D',
        data,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        `unix_socket_directories=${dir}`,
        '-c',
        'fsync=off',
      ]);
      child = spawn(cmd, args, { stdio: 'ignore' });
      await until('private PostgreSQL', async () => {
        const c = new Client({ connectionString: url, connectionTimeoutMillis: 1000 });
        c.on('error', () => {});
        await c.connect();
        await c.end();
        return true;
      });
    },
    async stop(how = 'graceful') {
      // postgres runs under runuser: signal the server itself, found by its pid file.
      const pidFile = path.join(data, 'postmaster.pid');
      if (existsSync(pidFile)) {
        const pid = Number(execFileSync('head', ['-n1', pidFile]).toString().trim());
        try {
          process.kill(pid, how === 'kill' ? 'SIGQUIT' : 'SIGINT');
        } catch {
          // already gone
        }
      }
      await exited(child);
    },
    async destroy() {
      await server.stop('kill');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

export async function startPrivateMariadb(): Promise<PrivateServer> {
  const dir = tempDir('cs-my-', 'mysql');
  const data = path.join(dir, 'data');
  const socket = path.join(dir, 'mysqld.sock');
  // Its temporary files go to its own folder: a starting MariaDB (the installer's bootstrap one
  // too) deletes every `#sql*` file it may in its tmpdir, taking them for its own leftovers, and
  // in /tmp those are the live temporary tables of the shared server.
  const tmpdir = `--tmpdir=${dir}`;
  const port = await freePort();
  execFileSync(
    'mariadb-install-db',
    [
      '--no-defaults',
      `--datadir=${data}`,
      '--user=mysql',
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      tmpdir,
    ],
    { stdio: 'ignore' },
  );
  let child: ChildProcess | undefined;
  const password = 'private-root';
  const url = `mysql://root:${password}@127.0.0.1:${port}/`;
  let first = true;
  const server: PrivateServer = {
    url,
    port,
    async start() {
      child = spawn(
        '/usr/sbin/mariadbd',
        [
          '--no-defaults',
          `--datadir=${data}`,
          `--port=${port}`,
          '--bind-address=127.0.0.1',
          `--socket=${socket}`,
          tmpdir,
          `--pid-file=${path.join(dir, 'mysqld.pid')}`,
          '--user=mysql',
          '--skip-name-resolve',
          '--innodb-buffer-pool-size=64M',
          '--innodb-flush-log-at-trx-commit=2',
          `--log-error=${path.join(dir, 'error.log')}`,
        ],
        { stdio: 'ignore' },
      );
      await until('private MariaDB', async () => {
        const c = await mysql.createConnection(first ? { socketPath: socket, user: 'root' } : { uri: url });
        if (first) {
          // A fresh install has root@localhost on the socket only: give it TCP and a password.
          await c.query(`CREATE OR REPLACE USER 'root'@'127.0.0.1' IDENTIFIED BY '${password}'`);
          await c.query("GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION");
          first = false;
        }
        await c.end();
        return true;
      });
    },
    async stop(how = 'graceful') {
      child?.kill(how === 'kill' ? 'SIGKILL' : 'SIGTERM');
      await exited(child);
    },
    async destroy() {
      await server.stop('kill');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

export async function startPrivateRedis(): Promise<PrivateServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const server: PrivateServer = {
    url,
    port,
    async start() {
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        {
          stdio: 'ignore',
        },
      );
      await until('private Redis', async () => {
        execFileSync('redis-cli', ['-p', String(port), 'ping'], { stdio: 'ignore' });
        return true;
      });
    },
    async stop(how = 'graceful') {
      child?.kill(how === 'kill' ? 'SIGKILL' : 'SIGTERM');
      await exited(child);
    },
    async destroy() {
      await server.stop('kill');
    },
  };
  await server.start();
  return server;
}
