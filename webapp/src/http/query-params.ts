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

/** A positive page number from the query, or a 400. */
export function pageParam(v: unknown): number {
  const s = queryText(v);
  if (!s) return 1;
  if (!/^\d{1,6}$/.test(s) || Number(s) < 1)
    throw portalError('VALIDATION_FAILED', '"page" must be a whole number from 1.');
  return Number(s);
}

/** An instant from a datetime-local field (read as UTC) or an ISO time, or a 400. */
export function instantParam(v: unknown, name: string): Date | undefined {
  const s = queryText(v);
  if (!s) return undefined;
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$/.test(s) ? `${s}Z` : s;
  const d = new Date(iso);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(s) || Number.isNaN(d.getTime()))
    throw portalError('VALIDATION_FAILED', `"${name}" must be a time like 2026-11-21T14:30 (UTC).`);
  return d;
}

/**
 * A row id in a path (`/courses/:id`): decimal digits only, within MySQL's INT UNSIGNED; anything
 * else (`1e3`, `1.5`, `-1`, `4294967296`) is 0, which matches no row.
 */
export function idParam(v: unknown): number {
  const id = typeof v === 'string' && /^\d{1,10}$/.test(v) ? Number(v) : 0;
  return id > 0 && id <= 4_294_967_295 ? id : 0;
}
