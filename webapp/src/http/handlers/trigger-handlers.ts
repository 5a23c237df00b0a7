import type { Request, Response } from 'express';
import type { Pool } from 'pg';
import type { DaemonAdmin } from '../../clients/daemon-admin';
import { AppError } from '../../../../lib/app-error';
import { portalError } from '../../errors';
import { setFlash } from '../flash';
import { consoleDeps } from './console-deps';

const SINKS = ['redis', 'mongo', 'neo4j', 'elasticsearch'];

/**
 * The console's triggers page: the daemon's triggers and their last firings, and the form and
 * buttons that add, pause, resume, fire and remove them. Firings are read from PostgreSQL; the
 * controls go through the daemon's admin API, like the other controls.
 */
export function triggerHandlers(pg: Pool | undefined, admin: DaemonAdmin | undefined) {
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
    async list(_req: Request, res: Response): Promise<void> {
      await renderTriggers(res, 200, {});
    },

    /** POST /ops/triggers: a new trigger from the form, through the admin API; a refusal re-renders the form. */
    async add(req: Request, res: Response): Promise<void> {
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
    async action(req: Request, res: Response): Promise<void> {
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
