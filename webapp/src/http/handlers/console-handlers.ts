import type { NextFunction, Request, Response } from 'express';
import type { Knex } from 'knex';
import type { Pool } from 'pg';
import type { DaemonAdmin } from '../../clients/daemon-admin';
import { consoleDeps } from './console-deps';
import { AppError } from '../../../../lib/app-error';
import { portalError } from '../../errors';
import { WINDOWS, type ChartWindow, chartSeries } from '../../repositories/chart-series';
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
import { setFlash } from '../flash';
import { STALE_AFTER_MS } from './ops-handlers';
import { instantParam, pageParam, queryText } from '../query-params';
import { svgChart } from '../svg-chart';

const SINKS = ['redis', 'mongo', 'neo4j', 'elasticsearch'];

/**
 * The console v2: a page per table, a row's history, charts over a window, triggers and alerts.
 * Reads come from PostgreSQL (the daemon's records); the trigger controls go through the daemon's
 * admin API, like the other controls.
 */
export function consoleHandlers(
  pg: Pool | undefined,
  mysql: Knex,
  schema: string,
  admin: DaemonAdmin | undefined,
  now: () => Date,
) {
  const { needPg, needAdmin } = consoleDeps(pg, admin);
  const renderTriggers = async (res: Response, status: number, form: Record<string, string>, error?: string) => {
    const pool = needPg();
    const { rows: tables } = await pool.query("SELECT table_name FROM cdc.tables WHERE status <> 'retired' ORDER BY 1");
    const data = admin ? ((await admin.call('GET', '/triggers')) as { triggers: unknown[] }) : { triggers: [] };
    const { rows: firings } = await pool.query(
      `SELECT id::int, trigger_name, alert_id::int, fired_at, reason, action, status, attempts, last_error, outcome, finished_at
         FROM cdc.firings ORDER BY id DESC LIMIT 30`,
    );
    res.status(status).render('ops/triggers', {
      title: 'Triggers',
      triggers: data.triggers,
      firings,
      tables: ['*', ...tables.map((r) => r.table_name)],
      sinks: SINKS,
      controls: Boolean(admin),
      form,
      error,
    });
  };
  return {
    /** Every /ops page shows the open alerts as a banner. */
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
      const range = { from: s.from, to: s.to };
      const lagSeries = Object.entries(s.sinkLag).map(([name, points]) => ({ name, points }));
      res.render('ops/charts', {
        title: 'Charts',
        window: w,
        windows: WINDOWS,
        charts: [
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
              kind: 'bar',
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
        ],
      });
    },

    async alerts(_req: Request, res: Response): Promise<void> {
      res.render('ops/alerts', { title: 'Alerts', alerts: await alertHistory(needPg()) });
    },

    async triggers(_req: Request, res: Response): Promise<void> {
      await renderTriggers(res, 200, {});
    },

    /** POST /ops/triggers: a new trigger from the form, through the admin API; a refusal re-renders the form. */
    async addTrigger(req: Request, res: Response): Promise<void> {
      const a = needAdmin();
      const b = (req.body ?? {}) as Record<string, unknown>;
      const form = Object.fromEntries(
        ['name', 'table', 'min_changes', 'max_age', 'action', 'webhook'].map((k) => [
          k,
          typeof b[k] === 'string' ? (b[k] as string).trim() : '',
        ]),
      );
      const text = (k: string) => form[k] || undefined;
      try {
        const int = (k: string, label: string) => {
          const v = text(k);
          if (v === undefined) return undefined;
          if (!/^\d{1,12}$/.test(v)) throw portalError('VALIDATION_FAILED', `${label} must be a whole number.`);
          return Number(v);
        };
        const action = text('action') ?? 'webhook';
        const secret = typeof b.secret === 'string' && b.secret !== '' ? b.secret : undefined;
        await a.call('POST', '/triggers', {
          name: form.name,
          table: form.table,
          minChanges: int('min_changes', 'Minimum changes'),
          maxAgeSeconds: int('max_age', 'Maximum age'),
          ...(action === 'webhook' ? { webhook: text('webhook'), secret } : { action }),
        });
      } catch (err) {
        if (err instanceof AppError && (err.code === 'VALIDATION_FAILED' || err.code === 'CONFLICT')) {
          await renderTriggers(res, err.status, form, err.message);
          return;
        }
        throw err;
      }
      setFlash(res, 'success', `Trigger ${form.name} added.`);
      res.redirect(303, '/ops/triggers');
    },

    /** POST /ops/triggers/:name/:op: pause, resume, fire or remove. */
    async triggerAction(req: Request, res: Response): Promise<void> {
      const a = needAdmin();
      const name = String(req.params.name);
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw portalError('NOT_FOUND', 'No such trigger.');
      const path = `/triggers/${encodeURIComponent(name)}`;
      let message: string;
      switch (req.params.op) {
        case 'pause':
        case 'resume':
          await a.call('POST', `${path}/${req.params.op}`);
          message = `Trigger ${name} ${req.params.op === 'pause' ? 'paused' : 'resumed'}.`;
          break;
        case 'remove':
          await a.call('DELETE', path);
          message = `Trigger ${name} removed.`;
          break;
        case 'fire': {
          const r = (await a.call('POST', `${path}/fire`)) as {
            id: number;
            delivery: { status: string; error?: string };
          };
          message =
            r.delivery.status === 'succeeded'
              ? `Trigger ${name} fired (firing #${r.id}): delivered.`
              : `Trigger ${name} fired (firing #${r.id}): ${r.delivery.status}${r.delivery.error ? ` (${r.delivery.error})` : ''}; the daemon retries it.`;
          break;
        }
        default:
          throw portalError('NOT_FOUND', 'No such action.');
      }
      setFlash(res, 'success', message);
      res.redirect(303, '/ops/triggers');
    },
  };
}
