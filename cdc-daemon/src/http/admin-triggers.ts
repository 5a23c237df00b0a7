import type { Router } from 'express';
import { AppError } from '../../../lib/app-error';
import type { AdminDeps } from './admin-api';
import { deliverDue } from '../watch/deliver-firings';
import { listAlerts } from '../watch/alerts';
import {
  addTrigger,
  evaluateTriggers,
  listFirings,
  listTriggers,
  pauseTrigger,
  removeTrigger,
  resumeTrigger,
} from '../watch/triggers';
import { parseTrigger } from '../watch/parse-trigger';

/**
 * The admin API's triggers and alerts: list, add, pause, resume, remove and fire a trigger (a
 * firing is delivered right away when the daemon watches), a trigger's firings, the alerts.
 */
export function triggerRoutes(r: Router, d: AdminDeps): void {
  r.get('/triggers', async (_req, res) => void res.json({ triggers: await listTriggers(d.pool) }));
  r.post('/triggers', async (req, res) => {
    const t = parseTrigger(req.body ?? {});
    await addTrigger(d.pool, t);
    d.logger.info('trigger added through the admin API', { trigger: t.name, table: t.table, action: t.action });
    res.status(201).json((await listTriggers(d.pool, t.name))[0]);
  });
  r.get('/triggers/:name/firings', async (req, res) => {
    const name = String(req.params.name);
    if ((await listTriggers(d.pool, name)).length === 0)
      throw new AppError('UNKNOWN_TRIGGER', `No trigger is called "${name}".`);
    res.json({ firings: await listFirings(d.pool, name, 50) });
  });
  for (const state of ['pause', 'resume'] as const)
    r.post(`/triggers/:name/${state}`, async (req, res) => {
      const name = String(req.params.name);
      await (state === 'pause' ? pauseTrigger : resumeTrigger)(d.pool, name);
      res.json((await listTriggers(d.pool, name))[0]);
    });
  r.delete('/triggers/:name', async (req, res) => {
    await removeTrigger(d.pool, String(req.params.name));
    res.json({ removed: req.params.name });
  });
  r.post('/triggers/:name/fire', async (req, res) => {
    const [firing] = await evaluateTriggers(d.pool, { only: String(req.params.name), manual: true });
    const [result] = d.watch ? await deliverDue(d.watch.delivery, [firing!.id]) : [];
    res.json({ ...firing, delivery: result ?? { status: 'pending' } });
  });
  r.get('/alerts', async (_req, res) => void res.json({ alerts: await listAlerts(d.pool, 50) }));
}
