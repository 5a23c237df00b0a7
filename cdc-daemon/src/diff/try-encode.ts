import type { TablePlan } from '../catalog/plan-table';
import { hasCode } from '../../../lib/app-error';
import type { QuarantinedRow } from '../apply/quarantine-store';
import { type RawValue, encodeRow } from './encode-row';

/**
 * Encodes a row, or returns the refusal when PostgreSQL could not hold one of its values (see
 * encode-row.ts); anything else is a bug and propagates.
 */
export function tryEncode(plan: TablePlan, raw: RawValue[], keyIndexes: number[]) {
  try {
    return encodeRow(plan.name, plan.columns, keyIndexes, raw);
  } catch (err) {
    if (!hasCode(err, 'VALUE_NOT_REPRESENTABLE')) throw err;
    return { refused: err };
  }
}

/** What the quarantine records of a row PostgreSQL would refuse (tryEncode's refusal). */
export function refusal(key: string, err: { message: string; details: Record<string, unknown> }): QuarantinedRow {
  const column = typeof err.details.column === 'string' ? err.details.column : undefined;
  return { key, column, code: 'VALUE_NOT_REPRESENTABLE', message: err.message };
}
