import type { Pool } from 'pg';
import { inTransaction } from './pg-tx';
import type { Logger } from '../../../lib/logger';
import type { TablePlan } from '../catalog/plan-table';
import type { TableSchema } from '../catalog/table-schema';
import type { CycleStats } from '../record/cycle-stats';
import { addColumns, dropMirror, ensureForeignKeys, ensureMirror } from './mirror-ddl';
import { type MirrorOptions, mirrorName } from './mirror-names';
import { type TableState, clearTableRows, upsertTableState } from './state-store';
import { completeHistoryBackfill } from './history-backfill';
import { type SelectAccess, grantStatement, missingTableCause, ungrantedColumns } from '../catalog/select-access';

export interface ReconcileOptions extends MirrorOptions {
  historyExclude: string[];
  droppedTables: 'keep' | 'drop';
  foreignKeys: boolean;
  /** What the MySQL account may read: a table or column it lost the grant of is not a schema change. */
  access?: SelectAccess;
  /** Tables left out by CDC_TABLES / CDC_EXCLUDE_TABLES (retired when mirrored, whatever the grants). */
  excluded?: (table: string) => boolean;
}

/** A mirrored table the account may no longer read (wholly or some columns): left as it is. */
export interface PrivilegeProblem {
  table: string;
  columns?: string[];
  grant: string;
}

/** The columns added at the end or in between, when nothing else changed; else undefined. */
export function addedColumnsOnly(before: TableSchema, after: TableSchema): string[] | undefined {
  if (before.keyKind !== after.keyKind || before.keyColumns.join('\u0000') !== after.keyColumns.join('\u0000'))
    return undefined;
  const same = (a: TableSchema['columns'][number], b: TableSchema['columns'][number]) =>
    a.name === b.name && a.columnType === b.columnType && a.nullable === b.nullable && a.jsonCheck === b.jsonCheck;
  let i = 0;
  const added: string[] = [];
  for (const col of after.columns) {
    const old = before.columns[i];
    if (old && same(old, col)) i++;
    else if (before.columns.some((c) => c.name === col.name)) return undefined;
    else added.push(col.name);
  }
  return i === before.columns.length && added.length > 0 ? added : undefined;
}

/**
 * Brings the PostgreSQL side in line with MySQL's catalog before the snapshot is read: new
 * tables get a mirror (or an operator's table is adopted) and start loading; added columns are
 * added (the cycle then rehashes every chunk); any other schema change rebuilds the mirror; a
 * table gone from MySQL is retired. Each table in its own transaction, noted in `stats`.
 */
export async function reconcileTables(
  pool: Pool,
  plans: TablePlan[],
  states: Map<string, TableState>,
  o: ReconcileOptions,
  syncId: string,
  stats: CycleStats,
  logger: Logger,
  details: { table?: string } = {},
): Promise<PrivilegeProblem[]> {
  const problems: PrivilegeProblem[] = [];
  for (const plan of plans) {
    const state = states.get(plan.name);
    const mirror = { ...o, history: !o.historyExclude.includes(plan.name) };
    if (state && state.status !== 'retired' && state.fingerprint === plan.fingerprint) continue;
    if (state && state.status !== 'retired' && o.access) {
      const gone = (state.tableSchema as TableSchema).columns
        .map((c) => c.name)
        .filter((n) => !plan.schema.columns.some((c) => c.name === n));
      const columns = ungrantedColumns(o.access, plan.name, gone);
      if (columns.length > 0) {
        problems.push({ table: plan.name, columns, grant: grantStatement(o.access, plan.name, columns) });
        continue;
      }
    }
    const base = { name: plan.name, fingerprint: plan.fingerprint, tableSchema: plan.schema };
    const added =
      state && state.status !== 'retired' ? addedColumnsOnly(state.tableSchema as TableSchema, plan.schema) : undefined;
    const kept = await inTransaction(pool, async (c) => {
      details.table = plan.name;
      if (added) {
        await addColumns(c, plan, added, mirror);
        const kept = await upsertTableState(
          c,
          { ...base, status: state!.status, loadCursor: state!.loadCursor, loadedRows: state!.loadedRows },
          false,
        );
        stats.table(plan.name).schemaChange = 'altered';
        logger.info('table gained columns; rehashing it', { table: plan.name, added });
        return kept;
      }
      if (state) {
        await completeHistoryBackfill(c, mirror.targetSchema, plan.name);
        await dropMirror(c, plan.name, mirror, syncId);
        await clearTableRows(c, plan.name);
      }
      const outcome = await ensureMirror(c, plan, mirror);
      // An adopted table must start empty: the load fills it with exactly what MySQL holds.
      if (outcome === 'adopted') await c.query(`TRUNCATE ${mirrorName(plan, mirror)}`);
      const kept = await upsertTableState(c, { ...base, status: 'loading', loadCursor: null, loadedRows: 0 }, true);
      stats.table(plan.name).schemaChange = state ? 'rebuilt' : outcome;
      logger.info(state ? 'table changed shape; rebuilding its mirror' : `new table; mirror ${outcome}`, {
        table: plan.name,
      });
      return kept;
    });
    states.set(plan.name, {
      ...base,
      ...kept,
      status: added ? state!.status : 'loading',
      loadCursor: added ? state!.loadCursor : null,
      loadedRows: added ? state!.loadedRows : 0,
    });
  }
  const present = new Set(plans.map((p) => p.name));
  for (const state of states.values()) {
    if (present.has(state.name) || state.status === 'retired') continue;
    if (o.access && !o.excluded?.(state.name) && missingTableCause(o.access, state.name) === 'privilege') {
      problems.push({ table: state.name, grant: grantStatement(o.access, state.name) });
      continue;
    }
    await inTransaction(pool, async (c) => {
      details.table = state.name;
      await completeHistoryBackfill(c, o.targetSchema, state.name);
      await clearTableRows(c, state.name);
      if (o.droppedTables === 'drop') await dropMirror(c, state.name, o, syncId);
      await upsertTableState(
        c,
        { name: state.name, status: 'retired', fingerprint: state.fingerprint, tableSchema: state.tableSchema },
        true,
      );
    });
    state.status = 'retired';
    stats.table(state.name).schemaChange = 'retired';
    logger.info(`table gone from MySQL; mirror ${o.droppedTables === 'drop' ? 'dropped' : 'kept'}`, {
      table: state.name,
    });
  }
  details.table = undefined;
  if (o.foreignKeys) await inTransaction(pool, (c) => ensureForeignKeys(c, plans, o));
  return problems;
}
