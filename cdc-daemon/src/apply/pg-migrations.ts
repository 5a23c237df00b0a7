import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Pool } from 'pg';
import { PROJECT_ROOT } from '../../../lib/project-root';
import { checkout } from './pg-tx';

export const POSTGRES_SQL_DIR = path.join(PROJECT_ROOT, 'postgres');
// Any constant: serialises migrations of daemons starting at the same time.
const MIGRATION_LOCK = 7_246_001;

/** Applies the numbered `postgres/*.sql` files not yet applied, each in its own transaction. */
export async function migratePostgres(pool: Pool, dir = POSTGRES_SQL_DIR): Promise<string[]> {
  const { client: client, release } = await checkout(pool);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE SCHEMA IF NOT EXISTS cdc');
    await client.query(
      'CREATE TABLE IF NOT EXISTS cdc.schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ name: string }>('SELECT name FROM cdc.schema_migrations');
    const applied = new Set(rows.map((r) => r.name));
    const done: string[] = [];
    for (const file of (await readdir(dir)).filter((f) => /^\d+-.+\.sql$/.test(f)).sort()) {
      if (applied.has(file)) continue;
      await client.query('BEGIN');
      try {
        await client.query(await readFile(path.join(dir, file), 'utf8'));
        await client.query('INSERT INTO cdc.schema_migrations (name) VALUES ($1)', [file]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
      done.push(file);
    }
    return done;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    release();
  }
}
