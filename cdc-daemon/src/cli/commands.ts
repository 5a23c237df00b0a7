import type { Pool } from 'pg';
import type { Logger } from '../../../lib/logger';
import { createProgress, createProgressGroup, type Progress } from '../../../lib/progress';
import type { CdcConfig } from '../config';
import { cdcError } from '../errors';
import { DAEMON_LOCK_KEY } from '../daemon';
import { type CycleOutcome, runCycle } from '../sync-cycle';
import { takeCycleLock } from '../apply/cycle-lock';
import { closeAbandonedCycles, readScheduleSetting, recordScheduleSetting } from '../record/cycle-record';
import { hasDrift } from '../verify/verify-table';
import { verifyTables } from '../verify/verify-tables';
import { clearTableRows } from '../apply/state-store';
import { BACKFILL_ROWS_LEFT, completeHistoryBackfill } from '../apply/history-backfill';
import { listQuarantine, showKey } from '../apply/quarantine-store';
import { pgi } from '../apply/pg-copy';
import { inTransaction, checkout } from '../apply/pg-tx';
import { formatTable } from './format';
import { WatchLoop } from '../watch/watch-loop';

export interface CliDeps {
  config: CdcConfig;
  pool: Pool;
  logger: Logger;
  out: (line: string) => void;
}

/** The JSON object `once --json` prints as its last line. */
export function cycleJson(o: CycleOutcome) {
  const t = o.stats.totals();
  return {
    syncId: Number(o.syncId),
    status: o.status,
    inserts: t.inserts,
    updates: t.updates,
    deletes: t.deletes,
    durationMs: Math.round(o.durationMs),
    /** After the commit: the slice of history first versions a big load deferred (0: none owed). */
    backfillMs: Math.round(o.backfillMs),
    tables: Object.fromEntries(
      [...o.stats.tables.entries()].map(([name, s]) => [
        name,
        { inserts: s.inserts, updates: s.updates, deletes: s.deletes },
      ]),
    ),
  };
}

/** One cycle from the command line; refuses while a daemon holds the lock. */
export async function onceCommand(deps: CliDeps, json: boolean): Promise<boolean> {
  const { client: lock, release } = await checkout(deps.pool);
  const progress = createProgressGroup();
  const bars = new Map<string, { bar: Progress; done: number }>();
  try {
    const { rows } = await lock.query('SELECT pg_try_advisory_lock($1) AS ok', [DAEMON_LOCK_KEY]);
    if (!rows[0].ok)
      throw cdcError(
        'LOCKED',
        'A daemon is running against this mirror (it holds the lock); stop it, or let it run the cycle.',
      );
    await closeAbandonedCycles(deps.pool);
    const outcome = await runCycle({
      pool: deps.pool,
      config: deps.config,
      logger: deps.logger,
      onLoadBatch: (table, loaded, estimated) => {
        // An empty table gets no bar (0 of 0 rows has no percentage and no ETA).
        if (estimated === 0) return;
        let b = bars.get(table);
        if (!b) bars.set(table, (b = { bar: progress.bar(`loading ${table}`, estimated), done: 0 }));
        b.bar.increment(loaded - b.done);
        b.done = loaded;
      },
    }).finally(() => progress.stop());
    // Like the daemon after each cycle: fire the triggers whose threshold holds, open or resolve
    // alerts, deliver what is due (once each; what fails stays queued for the daemon or the next run).
    const step = await new WatchLoop(deps).step();
    const j = {
      ...cycleJson(outcome),
      triggers: (step?.fired ?? []).map((f) => ({
        trigger: f.trigger,
        firing: f.id,
        reason: f.reason,
        delivery: step?.delivered.find((d) => d.id === f.id)?.status ?? 'pending',
      })),
    };
    if (json) deps.out(JSON.stringify(j));
    else {
      deps.out(
        `cycle ${j.syncId} ${j.status} in ${j.durationMs} ms: ${j.inserts} inserts, ${j.updates} updates, ${j.deletes} deletes${j.backfillMs > 0 ? `; then ${j.backfillMs} ms of deferred history first versions` : ''}`,
      );
      for (const t of j.triggers) deps.out(`trigger ${t.trigger} fired (#${t.firing}, ${t.reason}): ${t.delivery}`);
    }
    return true;
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [DAEMON_LOCK_KEY]).catch(() => {});
    release();
  }
}

export async function statusCommand(deps: CliDeps, json: boolean): Promise<void> {
  const { rows: tables } = await deps.pool.query(
    `SELECT t.table_name AS "table", t.status, t.loaded_rows::bigint AS "loaded rows",
            (SELECT count(*) FROM cdc.chunks c WHERE c.table_name = t.table_name)::int AS chunks,
            (SELECT COALESCE(sum(row_count), 0) FROM cdc.chunks c WHERE c.table_name = t.table_name)::bigint AS rows,
            (SELECT count(*) FROM cdc.quarantine q WHERE q.table_name = t.table_name)::int AS quarantined,
            CASE WHEN t.history_backfill IS NULL THEN ''
                 ELSE format('first versions owed: %s of %s rows', ${BACKFILL_ROWS_LEFT}, t.loaded_rows) END AS history,
            COALESCE(array_to_string(t.keys_to_build, ', '), '') AS "keys to build"
       FROM cdc.tables t ORDER BY t.table_name`,
  );
  const quarantine = await listQuarantine(deps.pool, undefined, 20);
  const {
    rows: [last],
  } = await deps.pool.query(
    "SELECT id, status, started_at, duration_ms FROM cdc.sync_history WHERE status <> 'skipped' ORDER BY id DESC LIMIT 1",
  );
  const {
    rows: [ok],
  } = await deps.pool.query(
    "SELECT max(finished_at) AS at FROM cdc.sync_history WHERE status IN ('succeeded', 'no_changes')",
  );
  const running = await daemonRunning(deps.pool);
  const schedule = await readScheduleSetting(deps.pool);
  const summary = {
    daemonRunning: running,
    pausedSince: schedule?.paused ? schedule.since : null,
    lastCycle: last ?? null,
    lastSuccessAt: ok.at,
    secondsSinceSuccess: ok.at ? Math.round((Date.now() - new Date(ok.at).getTime()) / 1000) : null,
    tables,
    quarantine,
  };
  if (json) return deps.out(JSON.stringify(summary));
  deps.out(`daemon: ${running ? 'running (holds the lock)' : 'not running'}`);
  if (summary.pausedSince) deps.out(`schedule: paused since ${summary.pausedSince} (cycles run only when asked)`);
  deps.out(
    `last cycle: ${last ? `#${last.id} ${last.status} at ${new Date(last.started_at).toISOString()} (${last.duration_ms ?? '?'} ms)` : 'none yet'}`,
  );
  deps.out(`last success: ${ok.at ? `${summary.secondsSinceSuccess} s ago` : 'never'}`);
  deps.out('');
  // Keys still to build are rare (a load that read a moved unique value): shown only then.
  const columns = Object.keys(tables[0] ?? {}).filter((c) => c !== 'keys to build' || tables.some((t) => t[c]));
  deps.out(formatTable(tables, columns));
  if (quarantine.length > 0) {
    deps.out('\nquarantined rows (PostgreSQL refuses a value; fix the row in MySQL and the next cycle applies it):');
    deps.out(
      formatTable(
        quarantine.map((q) => ({
          table: q.table,
          key: showKey(q.key),
          column: q.column ?? '',
          since: q.firstSeen.toISOString(),
          error: q.message.slice(0, 100),
        })),
      ),
    );
  }
}

export async function historyCommand(deps: CliDeps, limit: number, json: boolean): Promise<void> {
  const { rows } = await deps.pool.query(
    `SELECT id, status, started_at AS started, duration_ms AS ms, tables, chunks_scanned AS scanned, chunks_changed AS changed, rows_fetched AS fetched,
            rows_loaded AS loaded, inserts, updates, deletes, warnings, COALESCE(error_code || ': ' || left(error_message, 80), notes) AS note
       FROM cdc.sync_history ORDER BY id DESC LIMIT $1`,
    [limit],
  );
  deps.out(json ? JSON.stringify(rows) : formatTable(rows));
}

/** Compares MySQL and the mirror directly; false when any table drifted. */
export async function verifyCommand(deps: CliDeps, table: string | undefined, json: boolean): Promise<boolean> {
  let progress: Progress | undefined;
  const results = await verifyTables(deps.config, deps.pool, table, (name, total) => {
    progress ??= createProgress('verifying', total);
    progress.increment(1, name);
  }).finally(() => progress?.stop());
  const drifted = results.filter(hasDrift);
  if (json) deps.out(JSON.stringify({ ok: drifted.length === 0, tables: results }));
  else {
    deps.out(
      formatTable(
        results.map((r) => ({
          table: r.table,
          'mysql rows': r.mysqlRows,
          'pg rows': r.postgresRows,
          missing: r.missing,
          extra: r.extra,
          different: r.different,
          quarantined: r.quarantined.length,
          drift: hasDrift(r) ? 'DRIFT' : r.quarantined.length > 0 ? 'known' : 'ok',
        })),
      ),
    );
    for (const d of drifted) deps.out(`\n${d.table}: ${d.samples.join('; ')}`);
    for (const d of results.filter((r) => r.quarantined.length > 0))
      deps.out(
        `\n${d.table}: known drift, quarantined (PostgreSQL refuses a value; fix the row in MySQL): ${d.quarantined.slice(0, 10).join('; ')}${d.quarantined.length > 10 ? `; and ${d.quarantined.length - 10} more` : ''}`,
      );
    deps.out(
      drifted.length === 0
        ? '\nno drift: the mirror equals MySQL'
        : `\n${drifted.length} table(s) drifted (writes since the last cycle show up here too; run a cycle and verify again)`,
    );
  }
  return drifted.length === 0;
}

/** Whether a daemon holds this mirror's lock (advisory locks are per database). */
async function daemonRunning(pool: Pool): Promise<boolean> {
  const { rows } = await pool.query(
    "SELECT count(*)::int > 0 AS held FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    [DAEMON_LOCK_KEY],
  );
  return rows[0].held;
}

/**
 * `pause` and `resume`: records the schedule's state, which the running daemon takes up at once
 * (it listens for it), and a daemon started later too.
 */
export async function scheduleCommand(deps: CliDeps, paused: boolean): Promise<void> {
  await recordScheduleSetting(deps.pool, paused);
  const running = await daemonRunning(deps.pool);
  if (paused)
    deps.out(
      running
        ? 'paused: the running daemon starts no more cycles on its schedule (a cycle in flight finishes); `resume` to go on'
        : 'paused: no daemon is running; the next one starts paused, until `resume`',
    );
  else
    deps.out(
      running
        ? 'resumed: the running daemon runs its cycles on its schedule again'
        : 'resumed: no daemon is running; the next one runs its schedule',
    );
}

/** Empties a table's mirror and state; the next cycle loads it again from MySQL. */
export async function resyncCommand(deps: CliDeps, table: string): Promise<void> {
  await resyncTable(deps.pool, deps.config.targetSchema, table);
  deps.out(`${table}: emptied; the next cycle loads it again from MySQL (its history is kept)`);
}

/** Empties a table's mirror and state, under the cycle lock; the next cycle loads it again. */
export async function resyncTable(pool: Pool, targetSchema: string, table: string): Promise<void> {
  await inTransaction(pool, async (client) => {
    await takeCycleLock(client);
    const { rows } = await client.query("SELECT status FROM cdc.tables WHERE table_name = $1 AND status <> 'retired'", [
      table,
    ]);
    if (rows.length === 0)
      throw cdcError('UNKNOWN_TABLE', `No mirrored table is called "${table}"; see \`npm run cdc -- status\`.`);
    await completeHistoryBackfill(client, targetSchema, table);
    await client.query(`TRUNCATE ${pgi(targetSchema)}.${pgi(table)}`);
    await clearTableRows(client, table);
    await client.query(
      "UPDATE cdc.tables SET status = 'loading', load_cursor = NULL, loaded_rows = 0, load_generation = load_generation + 1, reload = true, updated_at = now() WHERE table_name = $1",
      [table],
    );
  });
}
