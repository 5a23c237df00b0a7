import type { Request, Response } from 'express';
import type { Pool } from 'pg';
import type { DaemonAdmin } from '../../clients/daemon-admin';
import { consoleDeps } from './console-deps';
import { portalError } from '../../errors';
import {
  CYCLE_STATUSES,
  type CycleFilter,
  cycleDetail,
  cycleSeries,
  lastSuccessAt,
  daemonSettings,
  listCycles,
  mirroredTables,
  OVERRUN_WINDOW_MINUTES,
  overrunCycles,
  sinkOverview,
  quarantinedRows,
} from '../../repositories/sync-history-repository';
import { setFlash } from '../flash';
import { optionalDate } from '../query-params';
import { svgChart } from '../svg-chart';
import { count } from '../wording';

/**
 * The last cycles' durations and changes, one point per cycle, with axes (see /ops/charts for
 * windows). The axis ends now, or at the last cycle's start if this host's clock is behind the
 * database's, which stamped it; it spans a minute at least, so one cycle is not a whole day.
 */
export function recentCyclesChart(
  series: { started_at: Date; duration_ms: number | null; changes: number }[],
  now: Date,
) {
  const at = (s: { started_at: Date }) => new Date(s.started_at).getTime();
  const to = Math.max(now.getTime(), ...series.map(at));
  return svgChart({
    title: `Last ${count(series.length, 'cycle')}`,
    unit: 'ms / rows',
    from: series.length > 0 ? Math.min(at(series[0]!), to - 60_000) : to - 3_600_000,
    to,
    series: [
      { name: 'duration (ms)', points: series.map((s) => [at(s), s.duration_ms]) },
      { name: 'rows changed', points: series.map((s) => [at(s), s.changes]) },
    ],
  });
}

/** A cycle is stale when the last success is older than this. */
export const STALE_AFTER_MS = 5 * 60 * 1000;

const dateParam = (v: unknown, name: string): Date | undefined => {
  const day = optionalDate(v, name);
  return day === undefined ? undefined : new Date(`${day}T00:00:00Z`);
};

export function opsHandlers(pg: Pool | undefined, admin: DaemonAdmin | undefined, now: () => Date) {
  const { needPg, needAdmin } = consoleDeps(pg, admin);
  return {
    async syncHistory(req: Request, res: Response): Promise<void> {
      const pool = needPg();
      const status = typeof req.query.status === 'string' && req.query.status !== '' ? req.query.status : undefined;
      if (status && !(CYCLE_STATUSES as readonly string[]).includes(status))
        throw portalError('VALIDATION_FAILED', `status must be one of ${CYCLE_STATUSES.join(', ')}.`);
      const tables = await mirroredTables(pool);
      const table = typeof req.query.table === 'string' && req.query.table !== '' ? req.query.table : undefined;
      if (table && !tables.includes(table)) throw portalError('VALIDATION_FAILED', `Unknown table "${table}".`);
      const filter: CycleFilter = {
        status,
        table,
        from: dateParam(req.query.from, 'from'),
        to: dateParam(req.query.to, 'to'),
      };
      if (filter.from && filter.to && filter.from > filter.to)
        throw portalError('VALIDATION_FAILED', 'The date range is reversed: "from" is after "to".');
      if (filter.to) filter.to = new Date(filter.to.getTime() + 86_400_000);
      const page = Math.max(1, Math.min(10_000, Number.parseInt(String(req.query.page ?? '1'), 10) || 1));
      const [{ cycles, total }, series, last, { freshness, schedule }, quarantine, overrun] = await Promise.all([
        listCycles(pool, filter, page),
        cycleSeries(pool),
        lastSuccessAt(pool),
        daemonSettings(pool),
        quarantinedRows(pool),
        overrunCycles(pool),
      ]);
      // Never below 0: a cycle stamped by a database whose clock runs ahead of this host's is just done.
      const ageMs = last ? Math.max(0, now().getTime() - new Date(last).getTime()) : null;
      const query = new URLSearchParams(
        Object.entries({ status, table, from: req.query.from, to: req.query.to }).filter(
          ([, v]) => typeof v === 'string' && v !== '',
        ) as [string, string][],
      );
      res.render('ops/sync-history', {
        title: 'Sync history',
        cycles,
        total,
        page,
        pages: Math.max(1, Math.ceil(total / 25)),
        query: query.toString(),
        filter: { status: status ?? '', table: table ?? '', from: req.query.from ?? '', to: req.query.to ?? '' },
        statuses: CYCLE_STATUSES,
        tables,
        last,
        ageMs,
        stale: ageMs === null || ageMs > STALE_AFTER_MS,
        freshness,
        paused: schedule?.paused ? schedule.since : undefined,
        controls: Boolean(admin),
        quarantine,
        overrun,
        overrunMinutes: OVERRUN_WINDOW_MINUTES,
        series,
        chart: recentCyclesChart(series, now()),
      });
    },

    async cycle(req: Request, res: Response): Promise<void> {
      const id = Number(req.params.id);
      if (!Number.isInteger(id) || id < 1) throw portalError('NOT_FOUND', 'No such cycle.');
      const detail = await cycleDetail(needPg(), id);
      if (!detail) throw portalError('NOT_FOUND', `No cycle ${id}.`);
      res.render('ops/cycle', { title: `Cycle ${id}`, ...detail });
    },

    async sinks(_req: Request, res: Response): Promise<void> {
      const overview = await sinkOverview(needPg());
      res.render('ops/sinks', { title: 'Sinks', ...overview, controls: Boolean(admin) });
    },

    /** POST /ops/actions/:action: run a cycle, pause, resume, verify, resync a table, retry or replay a sink. */
    async action(req: Request, res: Response): Promise<void> {
      const a = needAdmin();
      const name = (v: unknown) => (typeof v === 'string' && /^[A-Za-z0-9_$-]{1,64}$/.test(v) ? v : undefined);
      const back = req.params.action === 'retry' || req.params.action === 'replay' ? '/ops/sinks' : '/ops/sync-history';
      let message: string;
      switch (req.params.action) {
        case 'cycle': {
          const r = (await a.call('POST', '/cycle')) as {
            syncId: number;
            status: string;
            inserts: number;
            updates: number;
            deletes: number;
          };
          message =
            r.status === 'no_changes'
              ? `Cycle ${r.syncId} found no changes.`
              : `Cycle ${r.syncId} ${r.status}: ${count(r.inserts, 'insert')}, ${count(r.updates, 'update')}, ${count(r.deletes, 'delete')}.`;
          break;
        }
        case 'pause':
        case 'resume':
          await a.call('POST', `/${req.params.action}`);
          message = req.params.action === 'pause' ? 'The schedule is paused.' : 'The schedule is running again.';
          break;
        case 'verify': {
          const r = (await a.call('POST', '/verify')) as {
            ok: boolean;
            tables: { table: string; missing: number; extra: number; different: number }[];
          };
          message = r.ok
            ? `Verified ${count(r.tables.length, 'table')}: the mirror equals MySQL.`
            : `Drift in ${r.tables
                .filter((t) => t.missing + t.extra + t.different > 0)
                .map((t) => t.table)
                .join(', ')}.`;
          break;
        }
        case 'resync': {
          const t = name(req.body?.table);
          if (!t) throw portalError('VALIDATION_FAILED', 'Choose a table to resync.');
          await a.call('POST', `/resync/${encodeURIComponent(t)}`);
          message = `${t} is emptied; the next cycle loads it again.`;
          break;
        }
        case 'retry':
        case 'replay': {
          const s = name(req.body?.sink);
          if (!s) throw portalError('VALIDATION_FAILED', 'Choose a sink.');
          const r = (await a.call('POST', `/sinks/${encodeURIComponent(s)}/${req.params.action}`)) as {
            delivered?: number;
            stillParked?: number;
          };
          message =
            req.params.action === 'retry'
              ? `${s}: ${count(r.delivered ?? 0, 'parked event')} delivered, ${r.stillParked ?? 0} still parked.`
              : `${s} will be refilled from the mirror.`;
          break;
        }
        default:
          throw portalError('NOT_FOUND', 'No such action.');
      }
      setFlash(res, 'success', message);
      res.redirect(303, back);
    },
  };
}
