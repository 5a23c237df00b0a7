import type { Knex } from 'knex';
import mysql from 'mysql2';
import { PORTAL_CONNECTION, PORTAL_SESSION_SETUP } from './knex';

/**
 * What a query of an enroll's or a drop's transaction needs of its connection: a raw statement
 * with `?` bindings, resolving to mysql2's `[rows, fields]`. A knex instance or transaction has
 * it too, so the same repository functions serve both.
 */
export interface Sql {
  raw(sql: string, bindings: readonly unknown[]): PromiseLike<unknown>;
  /**
   * Runs a transaction's last statement and commits: on the portal's own connections
   * (createTransactions) in one round trip with its COMMIT. Absent (knex), `raw` runs it and the
   * transaction commits as it ends.
   */
  rawAndCommit?(sql: string, bindings: readonly unknown[]): PromiseLike<unknown>;
}

/** The transaction as its last statement sees it: that statement commits it (see Sql.rawAndCommit). */
export function committing(tx: Sql): Sql {
  return tx.rawAndCommit ? { raw: tx.rawAndCommit } : tx;
}

/** Runs `work` in one MySQL transaction: committed when it resolves, rolled back when it throws. */
export interface Transactions {
  run<T>(work: (tx: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** Connections holding a transaction now, transactions waiting for one, and the most there may be. */
  usage?(): PoolUsage;
}

export interface PoolUsage {
  used: number;
  waiting: number;
  limit: number;
}

/** Transactions through knex (`BEGIN` as a statement of its own): tests, benches, scripts. */
export function knexTransactions(db: Knex): Transactions {
  return { run: (work) => db.transaction((trx) => work(trx)), close: async () => {} };
}

/**
 * The portal's enroll and drop transactions on mysql2 connections of their own, set up once
 * as the portal's knex connections are (UTC, READ COMMITTED: see createKnex) and with
 * `autocommit = 0`: a transaction begins with its first statement, so `BEGIN` costs no round
 * trip, and each one ends in COMMIT or ROLLBACK before its connection goes back to the pool. On
 * this 2-core machine, 64 clients dropping and taking courses with the enroll's statements:
 * 813-840 transactions a second through knex at 963-979 us of the portal's CPU each, 1,176-1,213
 * here at 371-388 us (knex's builder, runner and promise chain, and the BEGIN).
 *
 * Sixteen connections a worker: at 100,000 students, 64 students dropping and taking courses
 * through one worker, the daemon sweeping `enrollments` every second, five connections served
 * 530-744 POSTs a second (4 rounds, mean 597) and sixteen 677-903 (mean 760), faster in every
 * alternating pair, its POSTs 70-94 ms at the mean against 85-120; without the daemon 711-1,033
 * (mean 872) against 984-1,026 (1,008). With five, a POST waited for a connection while the
 * transactions before it waited on MySQL (the portal's own CPU 0.68 of a core); thirty-two
 * served no more than sixteen (mean 726 against 746 POSTs a second, 4 rounds beside the daemon).
 *
 * A transaction's last statement goes with its COMMIT (`rawAndCommit`: `UPDATE ...; COMMIT`, so
 * these connections allow several statements in one query). Each statement written to MySQL costs
 * the portal a socket write that wakes a MariaDB thread, which on these two cores often takes the
 * portal's core there and then: 13% of a CPU profile's samples of the portal on enroll/drop were
 * in the four writes of a POST. Every statement sent here is a constant with `?` bindings, which
 * mysql2 escapes; if the statement fails, MySQL runs nothing after it and the transaction rolls
 * back.
 */
export function createTransactions(mysqlUrl: string, connectionLimit = 16): Transactions {
  const pool = mysql.createPool({ uri: mysqlUrl, connectionLimit, ...PORTAL_CONNECTION, multipleStatements: true });
  // Queued ahead of the connection's first use (mysql2 runs a connection's commands in order);
  // a connection that cannot be set up is destroyed by its failure, never used half set up.
  pool.on('connection', (c) => {
    const failed = (err: unknown) => err && c.destroy();
    for (const sql of [...PORTAL_SESSION_SETUP, 'SET autocommit = 0']) c.query(sql, failed);
  });
  const usage = { used: 0, waiting: 0, limit: connectionLimit };
  const connection = () =>
    new Promise<mysql.PoolConnection>((resolve, reject) =>
      pool.getConnection((err, c) => (err ? reject(err) : resolve(c))),
    );
  return {
    usage: () => ({ ...usage }),
    async run(work) {
      usage.waiting++;
      const c = await connection().finally(() => usage.waiting--);
      usage.used++;
      const giveBack = (how: 'release' | 'destroy') => {
        usage.used--;
        c[how]();
      };
      let committed = false;
      // The callback API: mysql2's promise API captures a stack trace at every call.
      const query = (sql: string, bindings: readonly unknown[] = []) =>
        new Promise<unknown>((resolve, reject) => {
          // A statement after the COMMIT would open a transaction left on the pooled connection.
          if (committed) return reject(new Error('a statement after its transaction committed'));
          c.query(sql, [...bindings], (err, rows, fields) => (err ? reject(err) : resolve([rows, fields])));
        });
      const rawAndCommit = async (sql: string, bindings: readonly unknown[]) => {
        const [results, fields] = (await query(`${sql}; COMMIT`, bindings)) as [unknown[], unknown[]];
        committed = true;
        return [results[0], fields[0]];
      };
      try {
        const result = await work({ raw: query, rawAndCommit });
        if (!committed) await query('COMMIT');
        giveBack('release');
        return result;
      } catch (err) {
        // A connection that cannot roll back (it failed) is dropped with its transaction.
        await query('ROLLBACK').then(
          () => giveBack('release'),
          () => giveBack('destroy'),
        );
        throw err;
      }
    },
    close: () => new Promise<void>((resolve) => pool.end(() => resolve())),
  };
}
