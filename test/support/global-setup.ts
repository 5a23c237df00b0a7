import { dockerAvailable, expectReachable, serviceUrls } from './services';

type Stoppable = { stop: () => Promise<unknown> };
declare global {
  var __CAMPUS_CONTAINERS__: Stoppable[] | undefined;
}

/**
 * Once per `jest` run: when no TEST_*_URL is set and a Docker engine is there, start MySQL 8,
 * PostgreSQL 16 and Redis 7 containers and publish their URLs to the workers through the
 * environment; otherwise use the URLs given or the local services, and check they answer.
 */
export default async function globalSetup(): Promise<void> {
  const anyUrl = process.env.TEST_MYSQL_URL || process.env.TEST_POSTGRES_URL || process.env.TEST_REDIS_URL;
  if (!anyUrl && process.env.TEST_USE_CONTAINERS !== 'false' && (await dockerAvailable())) {
    const [{ MySqlContainer }, { PostgreSqlContainer }, { RedisContainer }] = await Promise.all([
      import('@testcontainers/mysql'),
      import('@testcontainers/postgresql'),
      import('@testcontainers/redis'),
    ]);
    const [mysql, pg, redis] = await Promise.all([
      new MySqlContainer('mysql:8.0').withRootPassword('root').start(),
      new PostgreSqlContainer('postgres:16').start(),
      new RedisContainer('redis:7').start(),
    ]);
    globalThis.__CAMPUS_CONTAINERS__ = [mysql, pg, redis];
    process.env.TEST_MYSQL_URL = `mysql://root:root@${mysql.getHost()}:${mysql.getPort()}/`;
    process.env.TEST_POSTGRES_URL = pg.getConnectionUri();
    process.env.TEST_REDIS_URL = redis.getConnectionUrl();
  }
  const urls = serviceUrls();
  await Promise.all([
    expectReachable('MySQL/MariaDB', urls.mysqlAdminUrl),
    expectReachable('PostgreSQL', urls.postgresAdminUrl),
    expectReachable('Redis', urls.redisUrl),
  ]);
}
