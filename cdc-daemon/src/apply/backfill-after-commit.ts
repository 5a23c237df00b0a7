import type { PoolClient } from 'pg';
import type { Logger } from '../../../lib/logger';
import type { TablePlan } from '../catalog/plan-table';
import type { CdcConfig } from '../config';
import { classifyError, throwIfAborted } from '../errors';
import type { CycleContext } from '../sync-cycle';
import { takeCycleLock } from './cycle-lock';
import { type HistoryBackfill, backfillHistory } from './history-backfill';
import { historyFor } from './mirror-names';
import { inTransaction } from './pg-tx';
import { type TableState, loadTableStates } from './state-store';

/**
 * The next slice of the first versions big tables' histories are still owed after their loads
 * (history-backfill.ts), once the cycle has committed: its changes (and a mirror just loaded,
 * verified) reach PostgreSQL without waiting for the slice. It runs under the cycle lock in a
 * transaction of its own, from the table states read there (a resync may have come between).
 * A row changed by the cycle already got its first version from the merge. A slice that fails
 * is only logged: it rolls back whole, and the next cycle's slice starts where this one did.
 */
export async function backfillAfterCommit(
  ctx: Pick<CycleContext, 'config' | 'pool' | 'signal' | 'logger'>,
  plans: TablePlan[],
  log: Logger,
): Promise<void> {
  try {
    await inTransaction(ctx.pool, async (client) => {
      await takeCycleLock(client);
      await backfillSlices(client, ctx, plans, await loadTableStates(client));
    });
  } catch (err) {
    if (ctx.signal?.aborted) return;
    log.error('history backfill slice failed; the next cycle tries again', {
      error: classifyError(err, 'postgres').message,
    });
  }
}

/**
 * CDC_HISTORY_BACKFILL_BATCH mirror rows of owed first versions in all, table after table, so
 * that a cycle's share of the backfill stays the same however many tables owe it.
 */
async function backfillSlices(
  client: PoolClient,
  ctx: Pick<CycleContext, 'config' | 'signal' | 'logger'>,
  plans: TablePlan[],
  states: Map<string, TableState>,
): Promise<void> {
  let budget = ctx.config.historyBackfill.batchRows;
  for (const plan of plans) {
    const state = states.get(plan.name);
    if (budget <= 0) return;
    if (!owesFirstVersions(ctx.config, plan, state)) continue;
    throwIfAborted(ctx.signal);
    const slice = await backfillHistory(client, ctx.config.targetSchema, plan.name, state.historyBackfill, budget);
    budget -= slice.rows;
    ctx.logger.info(slice.done ? 'history backfill done' : 'history backfill slice written', {
      table: plan.name,
      versions: slice.written,
    });
  }
}

/** An active table whose history is kept and still owes first versions of its loaded rows. */
export function owesFirstVersions(
  config: CdcConfig,
  plan: TablePlan,
  state: TableState | undefined,
): state is TableState & { historyBackfill: HistoryBackfill } {
  return state?.status === 'active' && state.historyBackfill != null && historyFor(config, plan).history;
}
