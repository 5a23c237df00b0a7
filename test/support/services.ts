import net from 'node:net';

/**
 * Where the test servers are. Order: the TEST_*_URL variables when set; else containers that
 * global-setup started (it writes the same variables); else the local MariaDB, PostgreSQL and
 * Redis of the development machine. Admin URLs: tests create and drop their own databases.
 */
export function serviceUrls() {
  return {
    mysqlAdminUrl: process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/',
    postgresAdminUrl: process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
}

/** True when a Docker engine answers on its socket (the CLI alone is not enough). */
export function dockerAvailable(timeoutMs = 1000): Promise<boolean> {
  const socket = process.env.DOCKER_HOST?.startsWith('unix://')
    ? process.env.DOCKER_HOST.slice(7)
    : '/var/run/docker.sock';
  if (process.env.DOCKER_HOST && !process.env.DOCKER_HOST.startsWith('unix://')) return Promise.resolve(true);
  return new Promise((resolve) => {
    const conn = net.createConnection(socket);
    const done = (ok: boolean) => {
      conn.destroy();
      resolve(ok);
    };
    conn.setTimeout(timeoutMs, () => done(false));
    conn.on('error', () => done(false));
    conn.on('connect', () => {
      conn.write('GET /_ping HTTP/1.0\r\n\r\n');
    });
    conn.on('data', (d) => done(d.toString().includes(' 200 ')));
  });
}

/** Resolves when host:port accepts TCP connections, else rejects with the service named. */
export function expectReachable(name: string, url: string, timeoutMs = 3000): Promise<void> {
  const u = new URL(url);
  const port = Number(u.port || { 'mysql:': 3306, 'postgres:': 5432, 'redis:': 6379 }[u.protocol] || 0);
  return new Promise((resolve, reject) => {
    const conn = net.createConnection({ host: u.hostname, port });
    conn.setTimeout(timeoutMs, () => {
      conn.destroy();
      reject(
        new Error(
          `${name} at ${u.hostname}:${port} did not answer; start it or set the TEST_* URL (see README "Tests")`,
        ),
      );
    });
    conn.on('error', (err) =>
      reject(
        new Error(
          `${name} at ${u.hostname}:${port} is unreachable (${err.message}); start it or set the TEST_* URL (see README "Tests")`,
        ),
      ),
    );
    conn.on('connect', () => {
      conn.destroy();
      resolve();
    });
  });
}
