import type { Response } from 'express';
import { stringify } from 'csv-stringify/sync';

/**
 * A CSV cell a spreadsheet will not run: a value starting like a formula (`=`, `+`, `-`, `@`, a
 * tab or a carriage return) gets a leading apostrophe.
 */
export function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
}

/** Sends a header and rows as a CSV download named `filename`. */
export function sendCsv(res: Response, filename: string, header: string[], rows: unknown[][]): void {
  res
    .type('text/csv; charset=utf-8')
    .attachment(filename)
    .send(stringify([header, ...rows.map((r) => r.map(csvCell))]));
}
