import express, { type Express } from 'express';
import type { Pool } from 'pg';
import type { CdcDaemon } from '../daemon';
import type { DaemonMetrics } from './daemon-metrics';
import { type AdminDeps, adminApi } from './admin-api';

/**
 * The daemon's HTTP face for orchestrators and Prometheus: /healthz (the process answers),
 * /readyz (it reaches PostgreSQL and is active or a standby), /metrics. These three need no
 * token, so an image HEALTHCHECK and a Prometheus scrape work without the admin token; they
 * carry no row data (readiness names an error by its code only). The admin API, when
 * CDC_ADMIN_TOKEN is set, is mounted after them and guards only its own routes.
 */
export function createDaemonHttp(
  daemon: CdcDaemon,
  pool: Pool,
  metrics: DaemonMetrics,
  admin?: Omit<AdminDeps, 'daemon' | 'pool'>,
): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const s = daemon.status();
    try {
      await pool.query('SELECT 1');
    } catch {
      res.status(503).json({ ready: false, reason: 'PostgreSQL is unreachable', state: s.state });
      return;
    }
    const ready = s.state === 'active' || s.state === 'standby';
    res.status(ready ? 200 : 503).json({
      ready,
      state: s.state,
      paused: s.paused,
      lastSuccessAt: s.lastSuccessAt,
      // The code only: messages can name tables and row keys, which a probe has no business seeing.
      lastError: s.lastError ? { code: s.lastError.code } : undefined,
    });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  // The admin API only exists when CDC_ADMIN_TOKEN is set: no token, no remote control.
  if (admin) app.use(adminApi({ ...admin, daemon, pool }));
  return app;
}
