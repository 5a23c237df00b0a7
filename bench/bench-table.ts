import mysql from 'mysql2/promise';
import { createProgress } from '../lib/progress';

/** The benchmark table: ~146 bytes a row, the mix of types a registration system holds. */
export const BENCH_TABLE_DDL = `CREATE TABLE bench_rows (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY, account_id INT NOT NULL, name VARCHAR(64) NOT NULL,
  email VARCHAR(128) NULL, amount DECIMAL(12,2) NOT NULL, score DOUBLE NULL,
  status ENUM('new','active','closed') NOT NULL, created_at DATETIME(3) NOT NULL,
  updated_at TIMESTAMP(3) NULL, note VARCHAR(255) NULL, KEY ix_account (account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

export const BENCH_COLUMNS = [
  'id',
  'account_id',
  'name',
  'email',
  'amount',
  'score',
  'status',
  'created_at',
  'updated_at',
  'note',
];

function row(i: number): unknown[] {
  return [
    i,
    i % 5000,
    `name-${i.toString(36)}`,
    i % 7 ? `user${i}@example.com` : null,
    ((i * 13) % 100000) / 100,
    i % 5 ? i / 7 : null,
    ['new', 'active', 'closed'][i % 3],
    new Date(1.7e12 + i * 1000),
    i % 4 ? new Date(1.7e12 + i * 2000) : null,
    'note '.repeat(i % 20),
  ];
}

/** Fills bench_rows with ids 1..rows (multi-row INSERTs, a progress bar on a terminal). */
export async function fillBenchTable(conn: mysql.Connection, rows: number): Promise<void> {
  await conn.query(BENCH_TABLE_DDL);
  const progress = createProgress('generating bench_rows', rows);
  for (let base = 0; base < rows; base += 5000) {
    const batch: unknown[][] = [];
    for (let i = base + 1; i <= Math.min(rows, base + 5000); i++) batch.push(row(i));
    await conn.query('INSERT INTO bench_rows VALUES ?', [batch]);
    progress.increment(batch.length);
  }
  progress.stop();
  await conn.query('ANALYZE TABLE bench_rows');
}

/** 1% churn: `updates` updates, `inserts` inserts and `deletes` deletes at random places. */
export async function churn(
  conn: mysql.Connection,
  rows: number,
  nextId: number,
  n: { updates: number; inserts: number; deletes: number },
): Promise<number> {
  const pick = () => 1 + Math.floor(Math.random() * rows);
  const ids = Array.from({ length: n.updates }, pick);
  for (let i = 0; i < ids.length; i += 1000)
    await conn.query('UPDATE bench_rows SET account_id = account_id + 1, updated_at = NOW(3) WHERE id IN (?)', [
      ids.slice(i, i + 1000),
    ]);
  await conn.query('INSERT INTO bench_rows VALUES ?', [Array.from({ length: n.inserts }, (_, i) => row(nextId + i))]);
  await conn.query('DELETE FROM bench_rows WHERE id IN (?)', [Array.from({ length: n.deletes }, pick)]);
  return nextId + n.inserts;
}
