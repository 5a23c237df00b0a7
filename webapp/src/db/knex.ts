import knex, { type Knex } from 'knex';

/** How every portal MySQL connection reads values: DATETIMEs as UTC, BIGINTs and DECIMALs as text. */
export const PORTAL_CONNECTION = {
  timezone: 'Z',
  charset: 'utf8mb4',
  supportBigNumbers: true,
  bigNumberStrings: true,
  decimalNumbers: false,
} as const;

/** Run once on every portal MySQL connection it opens, in order: UTC, READ COMMITTED. */
export const PORTAL_SESSION_SETUP = [
  "SET time_zone = '+00:00'",
  'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED',
] as const;

/**
 * The portal's knex instance over mysql2. The session runs in UTC and DATETIME values are read
 * as UTC, so a schedule's wall-clock time round-trips unchanged and is shown as stored.
 *
 * Its connections run READ COMMITTED, set once per connection: enroll and drop rely on it (once
 * the course row lock is theirs, their reads see every enrollment committed by the transaction
 * that held it before). Set per transaction instead, knex sends one more statement before each
 * BEGIN: about one round trip in seven of an enroll or a drop.
 */
export function createKnex(mysqlUrl: string, pool: { min: number; max: number } = { min: 0, max: 10 }): Knex {
  return knex({
    client: 'mysql2',
    connection: { uri: mysqlUrl, ...PORTAL_CONNECTION } as Knex.MySql2ConnectionConfig,
    pool: {
      ...pool,
      afterCreate(
        conn: { query: (sql: string, cb: (err: Error | null) => void) => void },
        done: (err: Error | null, conn: unknown) => void,
      ) {
        const run = (i: number): void => {
          if (i === PORTAL_SESSION_SETUP.length) return done(null, conn);
          conn.query(PORTAL_SESSION_SETUP[i]!, (err) => (err ? done(err, conn) : run(i + 1)));
        };
        run(0);
      },
    },
  });
}
