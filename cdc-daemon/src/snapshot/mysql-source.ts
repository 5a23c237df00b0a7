import mysql, { type Connection } from 'mysql2/promise';
import type { Connection as CallbackConnection, TypeCastField } from 'mysql2';
import type { TablePlan } from '../catalog/plan-table';
import type { RawValue } from '../diff/encode-row';
import { type KeyParam, type KeyTuple, keyParam, keyRangePredicate, keyValueOf, orderByKey, qi } from './mysql-sql';

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
  // GROUP_CONCAT's own limit (1 KB on MySQL 8) lifted: chunk fingerprints concatenate whole
  // chunks, bounded by max_allowed_packet alone (see chunkFingerprintExpr).
  await conn.query("SET SESSION time_zone = '+00:00', group_concat_max_len = 4294967295");
  return conn;
}

const packetLimit = new WeakMap<Connection, number>();

/** The server's max_allowed_packet: no chunk fingerprint covers more bytes than this. */
export async function maxAllowedPacket(conn: Connection): Promise<number> {
  let known = packetLimit.get(conn);
  if (known === undefined) {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT @@max_allowed_packet AS n');
    known = Number(rows[0]?.n);
    packetLimit.set(conn, known);
  }
  return known;
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
  /** Keyed: the 64-bit chunkFingerprintExpr; keyless: SUM of the 64-bit row hashes; unsigned decimal. */
  fingerprint: string;
}

/**
 * Every keyed read names the key's index. GROUP_CONCAT then sees rows in key order, whatever
 * covering index the optimizer would prefer; and MySQL does not weigh the table's other indexes
 * first. Left to choose, it dives into each index for every range of a by-key read: 100 keys of
 * `attendance` took 4.2 ms, 3 of them spent on dives into its secondary index, against 0.8 ms
 * with the key's index named.
 */
function keyIndexHint(plan: TablePlan): string {
  return plan.schema.keyIndex ? ` FORCE INDEX (${qi(plan.schema.keyIndex)})` : '';
}

/**
 * COUNT and fingerprint of several neighbouring key ranges in one statement (one result row per
 * range, computed inside MySQL; a keyless table's only range is the whole table, and XOR would
 * cancel its identical rows: its fingerprint is a SUM). The key index is forced so that
 * GROUP_CONCAT sees rows in key order, whatever covering index the optimizer would prefer.
 */
export async function fingerprintRanges(
  conn: Connection,
  plan: TablePlan,
  ranges: { lower: KeyTuple | null; upper: KeyTuple | null }[],
): Promise<ChunkFingerprint[]> {
  const index = keyIndexHint(plan);
  const params: KeyParam[] = [];
  const selects = ranges.map((r, i) => {
    const range = keyRangePredicate(plan.schema.keyColumns, r.lower, r.upper, plan.integerKeys);
    params.push(...range.params);
    return `SELECT ${i} AS k, COUNT(*) AS n, ${plan.fingerprintExpr} AS fp FROM ${qi(plan.name)}${index} WHERE ${range.sql}`;
  });
  const [rows] = await conn.query<mysql.RowDataPacket[]>(selects.join(' UNION ALL '), params);
  const out: ChunkFingerprint[] = [];
  for (const r of rows) out[Number(r.k)] = { count: Number(r.n ?? 0), fingerprint: String(r.fp ?? '0') };
  return out;
}

/**
 * The select list: `h` (keyed: the row's canonical form, what its chunk's fingerprint hashes;
 * keyless: its 64-bit hash as 16 hex digits; NULL when not wanted), then every column through
 * its exact-reading expression.
 */
export function selectList(plan: TablePlan, withHash = true): string {
  const h = plan.keyed ? plan.canonExpr : plan.hashHexExpr;
  return [`${withHash ? h : 'NULL'} AS h`, ...plan.columns.map((c, i) => `${c.select(qi(c.name))} AS c${i}`)].join(
    ', ',
  );
}

/** Bytes for binary columns; the canonical form as latin1 text (one char per byte, any byte). */
function typeCast(binary: Set<string>) {
  return (field: TypeCastField) =>
    binary.has(field.name) ? field.buffer() : field.string(field.name === 'h' ? 'latin1' : 'utf8');
}

/** Rows handed over at a time: per-row async iteration costs more than the rows themselves. */
const BATCH_ROWS = 1000;

/**
 * Streams the rows of a key range in MySQL key order as batches of arrays `[h, col0, ...]`
 * with every value as text or bytes (never parsed by the driver). Backpressure is the driver's
 * own: the connection pauses while a full batch waits for the consumer. The statement is sent
 * when the rows are first asked for.
 */
export function streamRange(...read: Parameters<typeof sendRange>): AsyncGenerator<RawValue[][]> {
  return lazily(() => sendRange(...read));
}

/** streamRange's statement, sent now (see RowStream). */
export function sendRange(
  conn: Connection,
  plan: TablePlan,
  lower: KeyTuple | null,
  upper: KeyTuple | null,
  limit?: number,
  withHash = true,
): RowStream {
  const range = keyRangePredicate(plan.schema.keyColumns, lower, upper, plan.integerKeys);
  // Keyless tables are read ordered by row hash, so identical rows arrive together.
  const order = plan.keyed ? ` ORDER BY ${orderByKey(plan.schema.keyColumns)}` : ' ORDER BY h';
  const sql = `SELECT ${selectList(plan, withHash)} FROM ${qi(plan.name)}${keyIndexHint(plan)} WHERE ${range.sql}${order}${limit ? ` LIMIT ${Number(limit)}` : ''}`;
  return new RowStream(conn, sql, range.params, typeCast(plan.binaryAliases));
}

/**
 * A keyed table's key range as its canonical forms and keys only, in key order: `[h, key0,
 * key1, ...]`, or `[h]` alone when the keys lead the form (TablePlan.keysLeadCanon), sent now
 * (see RowStream). What a changed chunk is diffed by: an unchanged row needs nothing else, and
 * the few changed ones are then read whole by key (streamRowsByKey). Against the whole rows,
 * MySQL formats no column but the form and the driver parses two values a row instead of all of
 * them (1M rows of 10 columns: MySQL 3.5 -> 2.5 s of CPU, Node 2.3 -> 0.8 s).
 */
export function sendRangeKeys(
  conn: Connection,
  plan: TablePlan,
  lower: KeyTuple | null,
  upper: KeyTuple | null,
): RowStream {
  const range = keyRangePredicate(plan.schema.keyColumns, lower, upper, plan.integerKeys);
  // Keys that lead the form are taken from it when needed (keysFromCanon): one value a row to
  // format and parse instead of three (1M rows of `attendance`: Node 0.41 -> 0.30 s of CPU).
  const keys = plan.keysLeadCanon ? [] : keySelects(plan);
  const sql = `SELECT ${[`${plan.canonExpr} AS h`, ...keys].join(', ')} FROM ${qi(plan.name)}${keyIndexHint(plan)} WHERE ${range.sql} ORDER BY ${orderByKey(plan.schema.keyColumns)}`;
  return new RowStream(conn, sql, range.params, typeCast(plan.binaryAliases));
}

/** sendRangeKeys, sent when its rows are first asked for. */
export function streamRangeKeys(...read: Parameters<typeof sendRangeKeys>): AsyncGenerator<RawValue[][]> {
  return lazily(() => sendRangeKeys(...read));
}

/** MySQL's estimate of each table's rows (information_schema: InnoDB's statistics, not a count). */
export async function estimateRows(conn: Connection): Promise<Map<string, number>> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    'SELECT TABLE_NAME AS name, TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()',
  );
  return new Map(rows.map((r) => [String(r.name), Number(r.n ?? 0)]));
}

/**
 * The key `rows` rows on from `lower` (inclusive; null: the table's first row) in key order, or
 * null when fewer rows follow: where a load batch of that many rows ends, so the batch after it
 * can be read at the same time. MySQL walks the key's index for it and sends one row (20,000
 * rows of `attendance` or `enrollments`: about 5 ms).
 */
export async function keyAfter(
  conn: Connection,
  plan: TablePlan,
  lower: KeyTuple | null,
  rows: number,
): Promise<KeyTuple | null> {
  const range = keyRangePredicate(plan.schema.keyColumns, lower, null, plan.integerKeys);
  const [found] = await conn.query<mysql.RowDataPacket[][]>({
    sql: `SELECT ${keySelects(plan).join(', ')} FROM ${qi(plan.name)}${keyIndexHint(plan)} WHERE ${range.sql} ORDER BY ${orderByKey(plan.schema.keyColumns)} LIMIT 1 OFFSET ${Math.floor(rows)}`,
    values: range.params,
    rowsAsArray: true,
    typeCast: typeCast(plan.binaryAliases) as never,
  });
  const row = found[0] as RawValue[] | undefined;
  if (!row) return null;
  // At a value of the key's first column alone (TablePlan.prefixBounds), unless the range began
  // with that value (or at the table's start, which may hold it): the bound would not be past it.
  const first = keyValueOf(row[0]);
  if (plan.prefixBounds && lower !== null && lower[0] !== first) return [first];
  return row.map(keyValueOf);
}

/** The key columns through their exact-reading expressions, aliased as selectList does (`c<i>`). */
function keySelects(plan: TablePlan): string[] {
  return plan.keyIndexes.map((i) => `${plan.columns[i]!.select(qi(plan.columns[i]!.name))} AS c${i}`);
}

/** Keys looked up per statement by streamRowsByKey. */
const KEYS_PER_QUERY = 500;

/**
 * The whole rows (`[null, col0, ...]`, as streamRange without the form) of the given keys, in
 * no particular order; a key no row has yields nothing. Looked up with IN, of row constructors
 * for composite keys (MySQL 8 and MariaDB make a range of each; 100 keys of `attendance`: 0.8 ms,
 * against 1.2 ms for ORs of equalities). `lastSent` is called once the last statement is sent.
 */
export async function* streamRowsByKey(
  conn: Connection,
  plan: TablePlan,
  keys: KeyTuple[],
  lastSent?: () => void,
): AsyncGenerator<RawValue[][]> {
  const columns = plan.schema.keyColumns.map(qi);
  for (let i = 0; i < keys.length; i += KEYS_PER_QUERY) {
    const batch = keys.slice(i, i + KEYS_PER_QUERY);
    const tuple = columns.length === 1 ? '?' : `(${columns.map(() => '?').join(', ')})`;
    const where = `${columns.length === 1 ? columns[0] : `(${columns.join(', ')})`} IN (${batch.map(() => tuple).join(', ')})`;
    const sql = `SELECT ${selectList(plan, false)} FROM ${qi(plan.name)}${keyIndexHint(plan)} WHERE ${where}`;
    yield* lazily(() => {
      const rows = new RowStream(
        conn,
        sql,
        batch.flatMap((tuple) => tuple.map((v, i) => keyParam(v, plan.integerKeys[i]))),
        typeCast(plan.binaryAliases),
      );
      if (i + KEYS_PER_QUERY >= keys.length) lastSent?.();
      return rows;
    });
  }
}

/** A RowStream sent when its rows are first asked for, and ended if the consumer stops early. */
async function* lazily(send: () => RowStream): AsyncGenerator<RawValue[][]> {
  const rows = send();
  try {
    yield* rows;
  } finally {
    rows.cancel();
  }
}

/**
 * One statement's rows, in batches (see streamRange). The statement is sent on construction, so
 * a read can be queued behind the one being consumed: MySQL works on it while Node finishes the
 * rows before (see diff/walk-ahead.ts). Iterated once; `cancel` drops what is left (the
 * statement runs out and the connection stays usable). One never iterated must be cancelled:
 * until then it holds the connection paused once a batch of its rows has arrived.
 */
export class RowStream implements AsyncIterable<RawValue[][]> {
  private buf: RawValue[][] = [];
  private ended = false;
  private closed = false;
  private failure: unknown;
  private wake: (() => void) | undefined;
  private readonly raw: CallbackConnection;
  private readonly lost: (err?: unknown) => void;

  constructor(conn: Connection, sql: string, values: KeyParam[], cast: (field: TypeCastField) => unknown) {
    const raw = (conn as unknown as { connection: CallbackConnection }).connection;
    this.raw = raw;
    const query = raw.query({ sql, values, rowsAsArray: true, typeCast: cast as never });
    query.on('result', (row: unknown) => {
      if (this.closed) return;
      this.buf.push(row as RawValue[]);
      if (this.buf.length >= BATCH_ROWS) {
        raw.pause();
        this.notify();
      }
    });
    query.on('error', (err: unknown) => {
      this.failure = err;
      this.ended = true;
      this.notify();
    });
    query.on('end', () => {
      this.ended = true;
      this.notify();
    });
    // mysql2 hands a lost connection's error only to commands with a callback; a streamed query
    // hears nothing and would wait for ever (a MySQL restart mid-read hung a cycle, and every
    // tick after it). The connection's own events end the read instead.
    this.lost = (err?: unknown) => {
      this.failure ??= err ?? Object.assign(new Error('MySQL closed the connection during a read'), { fatal: true });
      this.ended = true;
      this.notify();
    };
    raw.on('error', this.lost);
    raw.on('end', this.lost);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<RawValue[][]> {
    try {
      for (;;) {
        if (this.buf.length === 0 && !this.ended) await new Promise<void>((resolve) => (this.wake = resolve));
        if (this.failure) throw this.failure;
        if (this.buf.length > 0) {
          const out = this.buf;
          this.buf = [];
          this.raw.resume();
          yield out;
          continue;
        }
        if (this.ended) return;
      }
    } finally {
      this.cancel();
    }
  }

  /** Drops the rows not yet taken and lets the statement run out. */
  cancel(): void {
    if (this.closed) return;
    this.closed = true;
    this.buf = [];
    this.raw.off('error', this.lost);
    this.raw.off('end', this.lost);
    this.raw.resume();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
