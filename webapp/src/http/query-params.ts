import { portalError } from '../errors';

/** A query parameter as trimmed text; anything else (absent, repeated) as undefined. */
export const queryText = (v: unknown): string | undefined => (typeof v === 'string' ? v.trim() : undefined);

/** A calendar date `YYYY-MM-DD` that exists (not 2026-02-30), or undefined when empty. */
export function optionalDate(v: unknown, name: string): string | undefined {
  const s = queryText(v);
  if (!s) return undefined;
  const d = new Date(`${s}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== s)
    throw portalError(
      'VALIDATION_FAILED',
      `"${name}" must be a real date like 2026-11-21; "${s.slice(0, 40)}" is not.`,
    );
  return s;
}
