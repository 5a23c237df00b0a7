import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import type { Pool } from 'pg';
import { AppError } from '../../../lib/app-error';
import type { Logger } from '../../../lib/logger';
import type { CdcConfig } from '../config';
import type { CdcDaemon } from '../daemon';
import { cycleJson, resyncTable } from '../cli/commands';
import { verifyTables } from '../verify/verify-tables';
import { markBootstrapping, sinkLag } from '../outbox/outbox-store';
import type { RelaySet } from '../outbox/relay-set';
import { SINK_NAMES, type SinkName } from '../sinks/sink';
import { hasDrift } from '../verify/verify-table';
import type { WatchLoop } from '../watch/watch-loop';
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

export interface AdminDeps {
  daemon: CdcDaemon;
  pool: Pool;
  config: CdcConfig;
  logger: Logger;
  relays?: RelaySet;
  /** Bearer token every admin request must carry (CDC_ADMIN_TOKEN). */
  token: string;
  /** Triggers and alerts: a trigger fired here is delivered right away through it. */
  watch?: WatchLoop;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Accepts `Authorization: Bearer <token>` only, compared in constant time. */
function requireToken(token: string) {
  const expected = digest(token);
  return (req: Request, res: Response, next: NextFunction) => {
    const m = /^Bearer (.+)$/.exec(req.get('authorization') ?? '');
    if (!m || !timingSafeEqual(digest(m[1]!), expected)) {
      res
        .status(401)
        .set('WWW-Authenticate', 'Bearer')
        .json({ error: 'UNAUTHORIZED', message: 'This admin API needs Authorization: Bearer <CDC_ADMIN_TOKEN>.' });
      return;
    }
    next();
  };
}

const wrap =
  (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) =>
    void fn(req, res).catch(next);

/**
 * The daemon's admin API, called by the portal's operator console: status, run a cycle, pause and
 * resume the schedule, resync a table, verify, and retry or replay a sink.
 */
export function adminApi(d: AdminDeps): Router {
  const r = Router();
  r.use(requireToken(d.token));
  r.use(express.json({ limit: '16kb' }));
  const status = async () => ({
    daemon: d.daemon.status(),
    relays: d.relays?.status() ?? [],
    sinks: await sinkLag(d.pool),
  });

  r.get(
    '/status',
    wrap(async (_req, res) => void res.json(await status())),
  );
  r.post(
    '/cycle',
    wrap(async (_req, res) => {
      const outcome = await d.daemon.runNow('manual');
      if (!outcome) {
        const s = d.daemon.status();
        res.status(s.lastError && !s.running ? 500 : 409).json({
          error: s.running ? 'BUSY' : 'CYCLE_FAILED',
          message: s.running
            ? 'A cycle is already running; try again when it ends.'
            : `The cycle failed: ${s.lastError?.message ?? 'see the logs'}`,
        });
        return;
      }
      d.relays?.wake();
      res.json(cycleJson(outcome));
    }),
  );
  r.post(
    '/pause',
    wrap(async (_req, res) => {
      d.daemon.pause();
      res.json(await status());
    }),
  );
  r.post(
    '/resume',
    wrap(async (_req, res) => {
      d.daemon.resume();
      res.json(await status());
    }),
  );
  r.post(
    '/resync/:table',
    wrap(async (req, res) => {
      await resyncTable(d.pool, d.config.targetSchema, String(req.params.table));
      d.logger.info('table resync requested through the admin API', { table: req.params.table });
      res.json({
        table: req.params.table,
        status: 'loading',
        message: 'Emptied; the next cycle loads it again from MySQL.',
      });
    }),
  );
  r.post(
    '/verify',
    wrap(async (req, res) => {
      const table = typeof req.query.table === 'string' && req.query.table !== '' ? req.query.table : undefined;
      const tables = await verifyTables(d.config, d.pool, table);
      res.json({ ok: !tables.some(hasDrift), tables });
    }),
  );
  r.post(
    '/sinks/:sink/retry',
    wrap(async (req, res) => {
      const relay = d.relays?.relay(sinkParam(req));
      if (!relay)
        throw new AppError('SINK_NOT_RUNNING', `The ${req.params.sink} sink does not run in this daemon.`, {
          status: 409,
        });
      res.json(await relay.retryParked());
    }),
  );
  r.post(
    '/sinks/:sink/replay',
    wrap(async (req, res) => {
      const sink = sinkParam(req);
      await markBootstrapping(d.pool, sink);
      d.relays?.relay(sink)?.wake();
      res.json({ sink, message: 'The relay empties the sink and fills it from the mirror at its next step.' });
    }),
  );
  r.get(
    '/triggers',
    wrap(async (_req, res) => void res.json({ triggers: await listTriggers(d.pool) })),
  );
  r.post(
    '/triggers',
    wrap(async (req, res) => {
      const t = parseTrigger(req.body ?? {});
      await addTrigger(d.pool, t);
      d.logger.info('trigger added through the admin API', { trigger: t.name, table: t.table, action: t.action });
      res.status(201).json((await listTriggers(d.pool, t.name))[0]);
    }),
  );
  r.get(
    '/triggers/:name/firings',
    wrap(async (req, res) => {
      const name = String(req.params.name);
      if ((await listTriggers(d.pool, name)).length === 0)
        throw new AppError('UNKNOWN_TRIGGER', `No trigger is called "${name}".`);
      res.json({ firings: await listFirings(d.pool, name, 50) });
    }),
  );
  for (const state of ['pause', 'resume'] as const)
    r.post(
      `/triggers/:name/${state}`,
      wrap(async (req, res) => {
        const name = String(req.params.name);
        await (state === 'pause' ? pauseTrigger : resumeTrigger)(d.pool, name);
        res.json((await listTriggers(d.pool, name))[0]);
      }),
    );
  r.delete(
    '/triggers/:name',
    wrap(async (req, res) => {
      await removeTrigger(d.pool, String(req.params.name));
      res.json({ removed: req.params.name });
    }),
  );
  r.post(
    '/triggers/:name/fire',
    wrap(async (req, res) => {
      const [firing] = await evaluateTriggers(d.pool, { only: String(req.params.name), manual: true });
      const [result] = d.watch ? await deliverDue(d.watch.delivery, [firing!.id]) : [];
      res.json({ ...firing, delivery: result ?? { status: 'pending' } });
    }),
  );
  r.get(
    '/alerts',
    wrap(async (_req, res) => void res.json({ alerts: await listAlerts(d.pool, 50) })),
  );
  r.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const parse = (err as { type?: string; status?: number }).type?.startsWith('entity.');
    const e =
      err instanceof AppError
        ? err
        : parse
          ? new AppError('BAD_REQUEST', 'The body must be a JSON object of at most 16 kB.', {
              status: (err as { status?: number }).status ?? 400,
            })
          : new AppError('INTERNAL', String(err));
    const status =
      e.code === 'UNKNOWN_TABLE' || e.code === 'UNKNOWN_SINK' || e.code === 'UNKNOWN_TRIGGER'
        ? 404
        : e.code === 'LOCKED' || e.code === 'TRIGGER_EXISTS'
          ? 409
          : e.code === 'BAD_TRIGGER'
            ? 400
            : e.status;
    if (status >= 500) d.logger.error('admin API request failed', { code: e.code, error: e.message });
    res.status(status).json({ error: e.code, message: e.message });
  });
  return r;
}

function sinkParam(req: Request): SinkName {
  const name = String(req.params.sink);
  if (!(SINK_NAMES as readonly string[]).includes(name))
    throw new AppError('UNKNOWN_SINK', `No sink is called "${name}"; the sinks are ${SINK_NAMES.join(', ')}.`, {
      status: 404,
    });
  return name as SinkName;
}
