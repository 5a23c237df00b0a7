import type mysql from 'mysql2';

/** MySQL's "Prepared statement needs to be re-prepared". */
const ER_NEED_REPREPARE = 1615;

/**
 * A prepared statement's rows, executed again when the server could not re-prepare it: MySQL
 * re-prepares a statement itself when a table it reads changed or left the table definition
 * cache, and returns error 1615 only when that failed (three tries in MySQL; MariaDB under a
 * churned cache, MDEV-17124). The next execution re-prepares it again.
 */
export function executeReprepared<T>(
  pool: Pick<mysql.Pool, 'execute'>,
  sql: string,
  params: string[],
  tries = 3,
): Promise<T> {
  return new Promise<T>((resolve, reject) =>
    pool.execute(sql, params, (err, result) => {
      if (err?.errno === ER_NEED_REPREPARE && tries > 1)
        return executeReprepared<T>(pool, sql, params, tries - 1).then(resolve, reject);
      return err ? reject(err) : resolve(result as T);
    }),
  );
}
