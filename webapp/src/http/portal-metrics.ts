import http from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Knex } from 'knex';
import client, { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from '../../../lib/logger';
import type { PoolUsage, Transactions } from '../db/transactions';

/** The route label of a request no route answered: a 404, or one refused before routing (CSRF, a bad query). */
const NO_ROUTE = 'none';

/**
 * The portal's Prometheus metrics, in a registry of its own per app:
 * - `portal_http_requests_total{method,route,status}` and
 *   `portal_http_request_duration_seconds{method,route}`: every response, by the route that
 *   answered it (its pattern, `/courses/:id/enroll`, never the URL: ids and queries would make
 *   a series per student), `none` when no route did, `/static` for the assets;
 * - `portal_enrollment_changes_total{action,outcome}`: enrolls and drops, committed or refused
 *   (by the refusal's code: `COURSE_FULL`, `TIMETABLE_CLASH`, ...), what registration week is
 *   watched by;
 * - `portal_http_requests_in_flight`, `portal_mysql_pool_connections{pool,state}` (connections
 *   used, and requests waiting for one, of the pages' pool, the session reads' and the enroll and
 *   drop transactions') and `portal_mysql_pool_limit{pool}`, read at scrape time;
 * - Node's and the process's own (`portal_process_cpu_seconds_total`,
 *   `portal_nodejs_eventloop_lag_p99_seconds`, heap, ...).
 * Served on PORTAL_METRICS_PORT (see serveMetrics), never on the pages' port.
 */
export class PortalMetrics {
  readonly registry: Registry = new client.Registry();
  private readonly requests: client.Counter<'method' | 'route' | 'status'>;
  private readonly durations: client.Histogram<'method' | 'route'>;
  private readonly enrollments: client.Counter<'action' | 'outcome'>;
  /** Each (method, route, status)'s counter and histogram children: looked up once, not per request. */
  private readonly children = new Map<string, { count: { inc(): void }; time: { observe(v: number): void } }>();

  constructor(sources: {
    inFlight: () => number;
    db?: Knex;
    transactions?: Transactions;
    sessions?: { usage(): PoolUsage };
  }) {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry, prefix: 'portal_' });
    this.requests = new client.Counter({
      name: 'portal_http_requests_total',
      help: 'Responses sent, by method, route pattern (none: no route answered) and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.durations = new client.Histogram({
      name: 'portal_http_request_duration_seconds',
      help: 'Time from a request arriving to its response ending, by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.enrollments = new client.Counter({
      name: 'portal_enrollment_changes_total',
      help: "Enrolls, drops and waitlist joins and leaves, by outcome: committed, or the refusal's code (COURSE_FULL, TIMETABLE_CLASH, ...)",
      labelNames: ['action', 'outcome'],
      registers,
    });
    new client.Gauge({
      name: 'portal_http_requests_in_flight',
      help: 'Requests arrived and not yet answered',
      registers,
      collect() {
        this.set(sources.inFlight());
      },
    });
    // The portal's MySQL pools: the pages' (knex: catalogue, logins, staff), the session reads'
    // and the enroll and drop transactions'. Requests waiting for a connection of one (stop 59:
    // the transactions' five, the sessions' five) are where a POST's time went.
    const pools: { pool: string; usage: () => PoolUsage }[] = [];
    const knexPool = sources.db?.client.pool as
      { numUsed(): number; numPendingAcquires(): number; max: number } | undefined;
    if (knexPool)
      pools.push({
        pool: 'pages',
        usage: () => ({ used: knexPool.numUsed(), waiting: knexPool.numPendingAcquires(), limit: knexPool.max }),
      });
    if (sources.sessions) pools.push({ pool: 'sessions', usage: sources.sessions.usage });
    if (sources.transactions?.usage) pools.push({ pool: 'enroll_drop', usage: sources.transactions.usage });
    const usages = () => pools.map(({ pool, usage }) => ({ pool, ...usage() }));
    new client.Gauge({
      name: 'portal_mysql_pool_connections',
      help: "The portal's MySQL pools (pages; sessions: the session reads, counted in statements; enroll_drop: the enroll and drop transactions): connections in use, and requests waiting for one",
      labelNames: ['pool', 'state'],
      registers,
      collect() {
        for (const u of usages()) {
          this.set({ pool: u.pool, state: 'used' }, u.used);
          this.set({ pool: u.pool, state: 'waiting' }, u.waiting);
        }
      },
    });
    new client.Gauge({
      name: 'portal_mysql_pool_limit',
      help: "The most connections each of the portal's MySQL pools opens",
      labelNames: ['pool'],
      registers,
      collect() {
        for (const u of usages()) this.set({ pool: u.pool }, u.limit);
      },
    });
  }

  /** Counts every response as it ends; install before everything that may answer. */
  readonly middleware = (req: Request, res: Response, next: NextFunction): void => {
    const start = performance.now();
    res.once('finish', () => {
      const route = routeOf(req);
      const key = `${req.method} ${route} ${res.statusCode}`;
      let child = this.children.get(key);
      if (!child) {
        child = {
          count: this.requests.labels(req.method, route, String(res.statusCode)),
          time: this.durations.labels(req.method, route),
        };
        this.children.set(key, child);
      }
      child.count.inc();
      child.time.observe((performance.now() - start) / 1000);
    });
    next();
  };

  /** An enroll or a drop this process answered: `committed`, or the code of its refusal (COURSE_FULL, ...). */
  enrollmentChanged(action: 'enroll' | 'drop' | 'join_waitlist' | 'leave_waitlist', outcome: string): void {
    this.enrollments.inc({ action, outcome });
  }

  /**
   * In a worker process of the portal (see workers.ts): lets the primary, which serves the port
   * PORTAL_METRICS_PORT, read this registry and add it to the other workers'.
   */
  shareWithPrimary(): void {
    // The constructor installs prom-client's answer to the primary's requests in this worker.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([this.registry]);
  }
}

/** The route pattern that answered `req` (its router's mount point included), else `/static` or `none`. */
function routeOf(req: Request): string {
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof pattern === 'string') return `${req.baseUrl}${pattern}`;
  return req.originalUrl.startsWith('/static/') ? '/static' : NO_ROUTE;
}

/**
 * Serves `GET /metrics` on `port` (all interfaces, as the daemon's CDC_HTTP_PORT), from the
 * registry of this process, or, in the primary of several workers, from all the workers' added
 * up. Anything else gets a 404. Resolves once listening; `close()` stops it.
 */
export async function serveMetrics(
  port: number,
  registry: Registry | 'workers',
  logger: Logger,
): Promise<{ port: number; close: () => Promise<void> }> {
  const source = registry === 'workers' ? new AggregatorRegistry() : registry;
  const read = () => (source instanceof AggregatorRegistry ? source.clusterMetrics() : source.metrics());
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: the metrics are at /metrics\n');
      return;
    }
    read().then(
      (text) => res.writeHead(200, { 'content-type': source.contentType }).end(text),
      (err: unknown) => {
        // A worker that did not answer in time (starting, or stuck): say so, and which way to look.
        logger.warn('metrics not served', { error: err instanceof Error ? err.message : String(err) });
        res
          .writeHead(503, { 'content-type': 'text/plain' })
          .end('Metrics unavailable: a portal worker did not answer\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
