import mysql, { type Connection } from 'mysql2/promise';
import type { Connection as CallbackConnection, TypeCastField } from 'mysql2';
import type { TablePlan } from '../catalog/plan-table';
import type { RawValue } from '../diff/encode-row';
import { type KeyTuple, keyRangePredicate, orderByKey, qi } from './mysql-sql';

/**
 * The daemon's only way into MySQL: a session in UTC that issues SELECTs and session statements,
 * nothing else (the account it uses has SELECT privilege only).
 */
export async function connectMysql(url: string): Promise<Connection> {
  const conn = await mysql.createConnection({
    uri: url,
    timezone: 'Z',
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    charset: 'utf8mb4',
    connectTimeout: 10_000,
  });
  await conn.query("SET SESSION time_zone = '+00:00'");
  return conn;
}

const mariadb = new WeakMap<Connection, boolean>();

/** Whether the server is MariaDB (JSON is LONGTEXT there; no stats expiry); asked once per connection. */
export async function isMariadb(conn: Connection): Promise<boolean> {
  let known = mariadb.get(conn);
  if (known === undefined) {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
    known = String(rows[0]?.v).includes('MariaDB');
    mariadb.set(conn, known);
  }
  return known;
}

/**
 * Opens the cycle's consistent snapshot: every later read of every table sees one instant.
 * Returns MySQL's clock at that instant.
 */
export async function openSnapshot(conn: Connection): Promise<Date> {
  await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
  await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
  const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT UTC_TIMESTAMP(6) AS at');
  return new Date(`${String(rows[0]?.at).replace(' ', 'T')}Z`);
}

export async function closeSnapshot(conn: Connection): Promise<void> {
  await conn.query('COMMIT');
}

export interface ChunkFingerprint {
  count: number;
  /** BIT_XOR (keyed) or SUM (keyless) of the 64-bit row hashes, as a decimal string. */
  fingerprint: string;
}

/** COUNT and 64-bit aggregate of row hashes over one key range, computed inside MySQL. */
export async function fingerprintRange(
  conn: Connection,
  plan: TablePlan,
  lower: KeyTuple | null,
  upper: KeyTuple | null,
): Promise<ChunkFingerprint> {
  const range = keyRangePredicate(plan.schema.keyColumns, lower, upper);
  // XOR cancels identical rows, so keyless tables (which may hold duplicates) use SUM.
  const agg = plan.keyed ? `BIT_XOR(${plan.hashExpr})` : `SUM(${plan.hashExpr})`;
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT COUNT(*) AS n, COALESCE(${agg}, 0) AS fp FROM ${qi(plan.name)} WHERE ${range.sql}`,
    range.params,
  );
  return { count: Number(rows[0]?.n ?? 0), fingerprint: String(rows[0]?.fp ?? '0') };
}

/**
 * The select list: the row hash (16 hex digits, or NULL when not wanted), then every column
 * through its exact-reading expression.
 */
export function selectList(plan: TablePlan, withHash = true): string {
  return [
    `${withHash ? plan.hashHexExpr : 'NULL'} AS h`,
    ...plan.columns.map((c, i) => `${c.select(qi(c.name))} AS c${i}`),
  ].join(', ');
}

function typeCast(binary: Set<string>) {
  return (field: TypeCastField) => (binary.has(field.name) ? field.buffer() : field.string('utf8'));
}

/** Rows handed over at a time: per-row async iteration costs more than the rows themselves. */
const BATCH_ROWS = 1000;

/**
 * Streams the rows of a key range in MySQL key order as batches of arrays `[hash, col0, ...]`
 * with every value as text or bytes (never parsed by the driver). Backpressure is the driver's
 * own: the connection pauses while a full batch waits for the consumer.
 */
export async function* streamRange(
  conn: Connection,
  plan: TablePlan,
  lower: KeyTuple | null,
  upper: KeyTuple | null,
  limit?: number,
  withHash = true,
): AsyncGenerator<RawValue[][]> {
  const range = keyRangePredicate(plan.schema.keyColumns, lower, upper);
  // Keyless tables are read ordered by row hash, so identical rows arrive together.
  const order = plan.keyed ? ` ORDER BY ${orderByKey(plan.schema.keyColumns)}` : ' ORDER BY h';
  const sql = `SELECT ${selectList(plan, withHash)} FROM ${qi(plan.name)} WHERE ${range.sql}${order}${limit ? ` LIMIT ${Number(limit)}` : ''}`;
  const raw = (conn as unknown as { connection: CallbackConnection }).connection;
  const query = raw.query({
    sql,
    values: range.params,
    rowsAsArray: true,
    typeCast: typeCast(plan.binaryAliases) as never,
  });
  let buf: RawValue[][] = [];
  let ended = false;
  let closed = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  query.on('result', (row: unknown) => {
    if (closed) return;
    buf.push(row as RawValue[]);
    if (buf.length >= BATCH_ROWS) {
      raw.pause();
      notify();
    }
  });
  query.on('error', (err: unknown) => {
    failure = err;
    ended = true;
    notify();
  });
  query.on('end', () => {
    ended = true;
    notify();
  });
  // mysql2 hands a lost connection's error only to commands with a callback; a streamed query
  // hears nothing and would wait for ever (a MySQL restart mid-read hung a cycle, and every
  // tick after it). The connection's own events end the read instead.
  const lost = (err?: unknown) => {
    failure ??= err ?? Object.assign(new Error('MySQL closed the connection during a read'), { fatal: true });
    ended = true;
    notify();
  };
  raw.on('error', lost);
  raw.on('end', lost);
  try {
    for (;;) {
      if (buf.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve));
      if (failure) throw failure;
      if (buf.length > 0) {
        const out = buf;
        buf = [];
        raw.resume();
        yield out;
        continue;
      }
      if (ended) return;
    }
  } finally {
    // A consumer that stops early: drop the rest, let the query run out, keep the connection usable.
    closed = true;
    raw.off('error', lost);
    raw.off('end', lost);
    raw.resume();
  }
}
