import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { PROJECT_ROOT } from '../../../lib/project-root';

/** Numbered schema files shared with the MySQL docker init. */
export const MYSQL_INIT_DIR = path.join(PROJECT_ROOT, 'mysql/init');

/**
 * Applies the numbered `mysql/init/*.sql` files not yet recorded in `schema_migrations`.
 * The files are idempotent because the docker init may already have run them on a fresh
 * container before the portal first starts; recording them here is then all that happens.
 * Returns the names of the files applied.
 */
export async function migrateMysql(mysqlUrl: string, dir = MYSQL_INIT_DIR): Promise<string[]> {
  const conn = await mysql.createConnection({ uri: mysqlUrl, multipleStatements: true });
  try {
    await conn.query(
      'CREATE TABLE IF NOT EXISTS `schema_migrations` (`name` VARCHAR(200) NOT NULL PRIMARY KEY, `applied_at` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT `name` FROM `schema_migrations`');
    const applied = new Set(rows.map((r) => String(r.name)));
    const files = (await readdir(dir)).filter((f) => /^\d+-.+\.sql$/.test(f)).sort();
    const done: string[] = [];
    for (const file of files) {
      if (applied.has(file)) continue;
      const sql = await readFile(path.join(dir, file), 'utf8');
      await conn.query(sql);
      await conn.query('INSERT INTO `schema_migrations` (`name`) VALUES (?)', [file]);
      done.push(file);
    }
    return done;
  } finally {
    await conn.end();
  }
}
