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
import { triggerRoutes } from './admin-triggers';

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

/**
 * The daemon's admin API, called by the portal's operator console: status, run a cycle, pause and
 * resume the schedule, resync a table, verify, and retry or replay a sink; the triggers and alerts
 * (admin-triggers.ts). Express 5 hands a handler's rejection to adminErrors.
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

  r.get('/status', async (_req, res) => void res.json(await status()));
  r.post('/cycle', async (_req, res) => {
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
  });
  // Paused or resumed at once; a 503 says PostgreSQL did not record it (a restart would not keep it).
  const setSchedule = (paused: boolean) => async (_req: Request, res: Response) => {
    await (paused ? d.daemon.pause() : d.daemon.resume()).catch((err: unknown) => {
      throw new AppError(
        'POSTGRES_UNAVAILABLE',
        `The schedule is ${paused ? 'paused' : 'running'} in this process, but PostgreSQL did not record it (${err instanceof Error ? err.message : String(err)}): a restart would ${paused ? 'resume' : 'pause'} it. Try again.`,
        { status: 503 },
      );
    });
    res.json(await status());
  };
  r.post('/pause', setSchedule(true));
  r.post('/resume', setSchedule(false));
  r.post('/resync/:table', async (req, res) => {
    await resyncTable(d.pool, d.config.targetSchema, String(req.params.table));
    d.logger.info('table resync requested through the admin API', { table: req.params.table });
    res.json({
      table: req.params.table,
      status: 'loading',
      message: 'Emptied; the next cycle loads it again from MySQL.',
    });
  });
  r.post('/verify', async (req, res) => {
    const table = typeof req.query.table === 'string' && req.query.table !== '' ? req.query.table : undefined;
    const tables = await verifyTables(d.config, d.pool, table);
    res.json({ ok: !tables.some(hasDrift), tables });
  });
  r.post('/sinks/:sink/retry', async (req, res) => {
    const relay = d.relays?.relay(sinkParam(req));
    if (!relay)
      throw new AppError('SINK_NOT_RUNNING', `The ${req.params.sink} sink does not run in this daemon.`, {
        status: 409,
      });
    res.json(await relay.retryParked());
  });
  r.post('/sinks/:sink/replay', async (req, res) => {
    const sink = sinkParam(req);
    await markBootstrapping(d.pool, sink);
    d.relays?.relay(sink)?.wake();
    res.json({ sink, message: 'The relay empties the sink and fills it from the mirror at its next step.' });
  });
  triggerRoutes(r, d);
  r.use(adminErrors(d.logger));
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

/**
 * The admin API's errors as JSON `{error, message}`: an unknown table, sink or trigger 404, a
 * conflict 409, a bad trigger or body 400; a server error is logged.
 */
function adminErrors(logger: Logger) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
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
    if (status >= 500) logger.error('admin API request failed', { code: e.code, error: e.message });
    res.status(status).json({ error: e.code, message: e.message });
  };
}
