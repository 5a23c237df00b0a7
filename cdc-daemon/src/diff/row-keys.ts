import type { TablePlan } from '../catalog/plan-table';
import { CANON_SEPARATOR, type KeyTuple, keyValueOf } from '../snapshot/mysql-sql';
import { type RawValue, encodeKey } from './encode-row';

/** The key columns of a row as read, in the form chunk bounds are stored. */
export function keyTuple(plan: TablePlan, raw: RawValue[]): KeyTuple {
  return plan.keyIndexes.map((i) => keyValueOf(raw[i + 1]));
}

/** The key of a row for the quarantine, even when a key column itself cannot be encoded. */
export function quarantineKey(plan: TablePlan, raw: RawValue[]): string {
  try {
    return encodeKey(plan.name, plan.columns, plan.keyIndexes, raw);
  } catch {
    return plan.keyIndexes
      .map((i) => {
        const v = raw[i + 1];
        return v === null || v === undefined ? '\\N' : `\\x${Buffer.from(v).toString('hex')}`;
      })
      .join('\t');
  }
}

const keyPlans = new WeakMap<TablePlan, TablePlan>();

/** The plan of rows `[h, key0, key1, ...]` (streamRangeKeys): its key columns are its columns. */
export function keyColumnsOnly(plan: TablePlan): TablePlan {
  let keys = keyPlans.get(plan);
  if (keys === undefined) {
    keys = {
      ...plan,
      columns: plan.keyIndexes.map((i) => plan.columns[i]!),
      keyIndexes: plan.keyIndexes.map((_, k) => k),
    };
    keyPlans.set(plan, keys);
  }
  return keys;
}

/**
 * A walked row with its key columns: as read, or taken from its canonical form when the walk
 * read the form alone (the keys lead it: TablePlan.keysLeadCanon). Only rows that did not match
 * their stored state need it.
 */
export function keysFromCanon(plan: TablePlan, raw: RawValue[]): RawValue[] {
  if (raw.length > 1 || !plan.keysLeadCanon) return raw;
  const canon = raw[0] as string;
  return [canon, ...canon.split(CANON_SEPARATOR, plan.keyIndexes.length)];
}

/** The first key column's value of a walked row (an integer's digits: see TablePlan.prefixBounds). */
export function firstKeyOf(plan: TablePlan, raw: RawValue[]): string {
  if (raw.length > 1 || !plan.keysLeadCanon) return String(raw[1]);
  const canon = raw[0] as string;
  return canon.slice(0, canon.indexOf(CANON_SEPARATOR));
}
