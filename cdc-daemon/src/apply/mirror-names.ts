import { createHash } from 'node:crypto';
import type { TablePlan } from '../catalog/plan-table';
import type { CdcConfig } from '../config';
import { pgi } from './pg-copy';

/** Where a table is mirrored, and whether its history is kept. */
export interface MirrorOptions {
  targetSchema: string;
  history: boolean;
}

/** Hidden column of keyless mirrors: the row's hash, to find one of several identical rows. */
export const ROW_HASH_COLUMN = '_cdc_row_hash';
export const HISTORY_COLUMNS = ['valid_from', 'valid_to', 'op', 'sync_id'] as const;

export function mirrorName(plan: TablePlan, o: MirrorOptions): string {
  return `${pgi(o.targetSchema)}.${pgi(plan.name)}`;
}

export function historyName(plan: TablePlan): string {
  return `history.${pgi(plan.name)}`;
}

/** A constraint or index name under PostgreSQL's 63-byte limit, stable for the same input. */
export function objectName(...parts: string[]): string {
  const name = parts.join('_');
  return name.length <= 60
    ? name
    : `${name.slice(0, 47)}_${createHash('sha1').update(name).digest('hex').slice(0, 12)}`;
}

/** The columns that identify a mirrored row: its key, or a keyless row's hash. */
export function identityColumns(plan: TablePlan): string[] {
  return plan.keyed ? plan.schema.keyColumns : [ROW_HASH_COLUMN];
}

/** A table's mirror options: its history kept unless CDC_HISTORY_EXCLUDE names it. */
export function historyFor(config: CdcConfig, plan: TablePlan): MirrorOptions {
  return { targetSchema: config.targetSchema, history: !config.historyExclude.includes(plan.name) };
}
