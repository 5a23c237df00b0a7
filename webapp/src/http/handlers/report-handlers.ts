import type { Request, Response } from 'express';
import { portalError } from '../../errors';
import { sendCsv } from '../csv';
import { queryText } from '../query-params';
import {
  type ReportStores,
  SOURCE_LABELS,
  STORE_LABELS,
  type StoreNote,
  type StorePart,
} from '../../reports/report-stores';
import { REPORTS, type RunContext, type Table, isoDay } from './report-defs';

/** A page shows at most this many table rows; the CSV export has them all. */
const PAGE_ROWS = 500;

/** Sorts by a column of the table (unknown keys keep the report's own order); nulls last. */
export function sortRows(
  table: Table,
  key: unknown,
  dir: unknown,
): { rows: Record<string, unknown>[]; sort: string; dir: 'asc' | 'desc' } {
  const col = table.columns.find((c) => c.key === key);
  const d = dir === 'desc' ? 'desc' : 'asc';
  if (!col) return { rows: table.rows, sort: '', dir: d };
  const sign = d === 'asc' ? 1 : -1;
  const rows = [...table.rows].sort((a, b) => {
    const x = a[col.key];
    const y = b[col.key];
    if (x === null || x === undefined) return y === null || y === undefined ? 0 : 1;
    if (y === null || y === undefined) return -1;
    return sign * (col.numeric ? Number(x) - Number(y) : String(x).localeCompare(String(y)));
  });
  return { rows, sort: col.key, dir: d };
}

async function asOf(stores: ReportStores): Promise<{ sync_id: number; finished_at: Date } | null> {
  const { rows } = await stores
    .mirror()
    .query(
      "SELECT id::int AS sync_id, finished_at FROM cdc.sync_history WHERE status IN ('succeeded', 'no_changes') ORDER BY id DESC LIMIT 1",
    );
  return rows[0] ?? null;
}

function sourceOf(mode: 'stores' | 'reference', notes: StoreNote[]): 'stores' | 'reference' | 'partly reference' {
  if (mode === 'reference') return 'reference';
  return notes.length ? 'partly reference' : 'stores';
}

export function reportHandlers(stores: ReportStores, now: () => Date) {
  const context = (req: Request): RunContext => {
    if (!stores.pg)
      throw portalError('STORE_UNAVAILABLE', 'The reports need POSTGRES_URL (the mirror); it is not set.');
    const source = queryText(req.query.source);
    if (source && source !== 'stores' && source !== 'reference')
      throw portalError('VALIDATION_FAILED', 'source must be "stores" or "reference".');
    return { stores, mode: source === 'reference' ? 'reference' : 'stores', notes: [], from: [], now: now() };
  };
  const find = (name: unknown) => {
    const def = REPORTS.find((r) => r.name === name);
    if (!def) throw portalError('NOT_FOUND', 'There is no such report.');
    return def;
  };
  const notesForPage = (notes: StoreNote[]) => notes.map((n) => ({ ...n, label: STORE_LABELS[n.store] }));
  /** "Elasticsearch (matching lectures), PostgreSQL (attendance figures) and Redis (student details)" */
  const partsForPage = (parts: StorePart[] = []) => {
    const named = parts.map((p) => `${SOURCE_LABELS[p.store]} (${p.part})`).sort();
    return named.length > 1 ? `${named.slice(0, -1).join(', ')} and ${named[named.length - 1]}` : (named[0] ?? '');
  };

  return {
    index(_req: Request, res: Response): void {
      res.render('reports/index', {
        title: 'Reports',
        reports: REPORTS.map((r) => ({ name: r.name, title: r.title })),
      });
    },

    /** GET /reports/:report: the form, and the result when parameters were given. */
    async page(req: Request, res: Response): Promise<void> {
      const def = find(req.params.report);
      const ctx = context(req);
      const [form, outcome] = await Promise.all([def.form(ctx), def.run(req, ctx)]);
      const sorted = outcome ? sortRows(outcome.table, req.query.sort, req.query.dir) : undefined;
      const since = outcome ? await asOf(stores) : null;
      res.render(`reports/${def.name}`, {
        title: def.title,
        report: def.name,
        form: { ...form, ...(outcome?.params ?? {}) },
        outcome,
        columns: outcome?.table.columns ?? [],
        rows: sorted?.rows.slice(0, PAGE_ROWS) ?? [],
        hiddenRows: Math.max(0, (sorted?.rows.length ?? 0) - PAGE_ROWS),
        sort: sorted?.sort ?? '',
        dir: sorted?.dir ?? 'asc',
        query: outcome?.query.toString() ?? '',
        source: sourceOf(ctx.mode, ctx.notes),
        notes: notesForPage(ctx.notes),
        from: partsForPage(ctx.from),
        asOf: since,
        ...(outcome?.view ?? {}),
      });
    },

    /** GET /api/reports/:report: the same as JSON. */
    async json(req: Request, res: Response): Promise<void> {
      const def = find(req.params.report);
      const ctx = context(req);
      const outcome = await def.run(req, ctx);
      if (!outcome)
        throw portalError('VALIDATION_FAILED', `Give the parameters of the ${def.title.toLowerCase()} report.`);
      res.json({
        report: def.name,
        source: sourceOf(ctx.mode, ctx.notes),
        notes: ctx.notes,
        from: ctx.from,
        asOf: await asOf(stores),
        params: outcome.params,
        result: outcome.result,
      });
    },

    /** GET /reports/:report.csv: the page's table, every row. */
    async csv(req: Request, res: Response): Promise<void> {
      const def = find(String(req.params.report));
      const ctx = context(req);
      const outcome = await def.run(req, ctx);
      if (!outcome)
        throw portalError('VALIDATION_FAILED', `Give the parameters of the ${def.title.toLowerCase()} report.`);
      const { columns } = outcome.table;
      sendCsv(
        res,
        `${def.name}-${isoDay(ctx.now)}.csv`,
        columns.map((c) => c.label),
        sortRows(outcome.table, req.query.sort, req.query.dir).rows.map((r) => columns.map((c) => r[c.key])),
      );
    },
  };
}
