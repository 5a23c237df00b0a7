import type { NextFunction, Request, Response } from 'express';
import type { Knex } from 'knex';
import type { Pool } from 'pg';
import { consoleDeps } from './console-deps';
import { portalError } from '../../errors';
import { WINDOWS, type ChartSeries, type ChartWindow, chartSeries } from '../../repositories/chart-series';
import {
  HISTORY_PAGE,
  alertHistory,
  mirroredTable,
  openAlerts,
  rowHistory,
  tableDetail,
  tableList,
} from '../../repositories/console-repository';
import { lastSuccessAt } from '../../repositories/sync-history-repository';
import { STALE_AFTER_MS } from './ops-handlers';
import { instantParam, pageParam, queryText } from '../query-params';
import { svgChart } from '../svg-chart';

/**
 * The console v2: a page per table, a row's history, charts over a window and alerts (triggers:
 * trigger-handlers.ts). Reads come from PostgreSQL (the daemon's records).
 */
export function consoleHandlers(pg: Pool | undefined, mysql: Knex, schema: string, now: () => Date) {
  const { needPg } = consoleDeps(pg, undefined);
  return {
    /**
     * Every /ops page shows the open alerts as a banner. The daemon opens them; a daemon that is
     * down opens none, so a mirror older than STALE_AFTER_MS is shown here as well.
     */
    async alertBanner(_req: Request, res: Response, next: NextFunction): Promise<void> {
      if (!pg) {
        res.locals.openAlerts = [];
        return next();
      }
      const [alerts, last] = await Promise.all([openAlerts(pg), lastSuccessAt(pg).catch(() => null)]);
      const ageMs = last ? now().getTime() - new Date(last).getTime() : null;
      if (ageMs !== null && ageMs > STALE_AFTER_MS && !alerts.some((a) => a.kind === 'stale_mirror'))
        alerts.unshift({
          id: 0,
          kind: 'stale_mirror',
          subject: '',
          message: `No successful cycle for ${Math.round(ageMs / 1000)} s, and the daemon has not said so: it may be down (see its /readyz and logs).`,
          opened_at: new Date(last!),
        });
      res.locals.openAlerts = alerts;
      next();
    },

    async tables(_req: Request, res: Response): Promise<void> {
      res.render('ops/tables', { title: 'Tables', tables: await tableList(needPg()) });
    },

    async table(req: Request, res: Response): Promise<void> {
      const pool = needPg();
      const t = await mirroredTable(pool, String(req.params.table));
      const detail = await tableDetail(pool, mysql, schema, t);
      res.render('ops/table', { title: `Table ${t.name}`, t, ...detail, now: now() });
    },

    async rowHistory(req: Request, res: Response): Promise<void> {
      const pool = needPg();
      const t = await mirroredTable(pool, String(req.params.table));
      const page = pageParam(req.query.page);
      const asOf = instantParam(req.query.as_of, 'as_of');
      const typed = t.keyColumns.map((c) => queryText(req.query[c]) ?? '');
      const asked = typed.some((v) => v !== '');
      if (asked && typed.some((v) => v === ''))
        throw portalError('VALIDATION_FAILED', `Give a value for every key column: ${t.keyColumns.join(', ')}.`);
      const result = asked ? await rowHistory(pool, schema, t, typed, page, asOf) : undefined;
      const query = new URLSearchParams(t.keyColumns.map((c, i): [string, string] => [c, typed[i]!]));
      if (req.query.as_of) query.set('as_of', String(queryText(req.query.as_of)));
      res.render('ops/row-history', {
        title: `History of ${t.name}`,
        t,
        typed,
        asOfText: queryText(req.query.as_of) ?? '',
        asOf,
        result,
        page,
        pages: result ? Math.max(1, Math.ceil(result.total / HISTORY_PAGE)) : 1,
        query: query.toString(),
      });
    },

    async charts(req: Request, res: Response): Promise<void> {
      const w = (queryText(req.query.window) || 'hour') as ChartWindow;
      if (!(w in WINDOWS))
        throw portalError('VALIDATION_FAILED', `"window" must be one of ${Object.keys(WINDOWS).join(', ')}.`);
      const s = await chartSeries(needPg(), w, now());
      res.render('ops/charts', {
        title: 'Charts',
        window: w,
        windows: WINDOWS,
        charts: consoleCharts(s),
      });
    },

    async alerts(_req: Request, res: Response): Promise<void> {
      res.render('ops/alerts', { title: 'Alerts', alerts: await alertHistory(needPg()) });
    },
  };
}

/** The charts page's four charts of a window's series, each an SVG with its caption. */
function consoleCharts(s: ChartSeries) {
  const range = { from: s.from, to: s.to };
  const lagSeries = Object.entries(s.sinkLag).map(([name, points]) => ({ name, points }));
  return [
    {
      id: 'duration',
      caption: 'Cycle duration, p50 and p95 per bucket (ms)',
      svg: svgChart({
        ...range,
        title: 'Cycle duration',
        unit: 'ms',
        series: [
          { name: 'p50', points: s.durationP50 },
          { name: 'p95', points: s.durationP95 },
        ],
      }),
      points: s.durationP50.length,
    },
    {
      id: 'changes',
      caption: 'Rows changed (inserts, updates, deletes and loaded rows) per bucket',
      svg: svgChart({
        ...range,
        title: 'Rows changed',
        unit: 'rows',
        bucketMs: s.bucketMs,
        series: [{ name: 'rows changed', points: s.changes }],
      }),
      points: s.changes.length,
    },
    {
      id: 'freshness',
      caption: "Freshness: the mirror's age (how far behind MySQL it was) at the end of each bucket (s)",
      svg: svgChart({ ...range, title: 'Mirror age', unit: 's', series: [{ name: 'age', points: s.freshness }] }),
      points: s.freshness.length,
    },
    {
      id: 'sink-lag',
      caption: "Sink lag: each sink's oldest undelivered event, sampled every minute (s)",
      svg: svgChart({ ...range, title: 'Sink lag', unit: 's', series: lagSeries }),
      points: lagSeries.reduce((n, l) => n + l.points.length, 0),
    },
  ];
}
