import path from 'node:path';
import { availableParallelism } from 'node:os';
import express, { type Express } from 'express';
import type { Knex } from 'knex';
import cookieParser from 'cookie-parser';
import type { Logger } from '../../lib/logger';
import { errorHandler, notFound } from './http/error-handler';
import { createCsrf } from './http/csrf';
import { exposeFlash } from './http/flash';
import { ejsWithoutWith } from './http/view-engine';
import { bytes, count, num } from './http/wording';
import { checkSessionAccount, createSessionMiddleware } from './http/session';
import type { EnrollmentsRead } from './http/session-reads';
import { createTransactions } from './db/transactions';
import { InFlight } from './http/in-flight';
import { PortalMetrics } from './http/portal-metrics';
import { noStore, rejectControlCharactersInQuery, securityHeaders } from './http/security-headers';
import { routes } from './routes';
import { SEATS_MAX_AGE_MS } from './use-cases/catalogue';
import type { Pool } from 'pg';
import type { DaemonAdmin } from './clients/daemon-admin';
import { ReportStores, type StoreSettings } from './reports/report-stores';
import { PROJECT_ROOT } from '../../lib/project-root';
import type { WorkerLink } from './workers';

export interface AppDeps {
  db: Knex;
  logger: Logger;
  mysqlUrl: string;
  sessionSecret: string;
  cookieSecure: boolean;
  trustProxy: number;
  loginRateLimit: number;
  /** Failed logins per account per 15 minutes (default 5). */
  loginAccountLimit?: number;
  /** bcrypt cost of the stored hashes: an unknown username is checked against a hash of this cost. */
  bcryptRounds?: number;
  /**
   * bcrypt comparisons (logins) run at once by this process; default: one per core. A portal of
   * several worker processes gives each its share of the cores (main.ts).
   */
  hashingConcurrency?: number;
  /** Absolute session lifetime and idle timeout (defaults 8 h and 60 min). */
  sessionAbsoluteMs?: number;
  sessionIdleMs?: number;
  /** How long the catalogue's course list is held in memory (default 5 s; 0: read per page). */
  catalogueMaxAgeMs?: number;
  /**
   * How long the catalogue's seats taken are held (default 0.5 s; 0: read per page): what
   * another worker process's enroll or drop may take to show in this one's catalogue.
   */
  seatsMaxAgeMs?: number;
  pg?: Pool;
  daemonAdmin?: DaemonAdmin;
  /** Where the reports read (Redis, MongoDB, Neo4j, Elasticsearch); absent: all from the mirror. */
  stores?: StoreSettings;
  /** The clock; tests pin it to put terms inside or outside their enrollment window. */
  now?: () => Date;
  /** The other worker processes serving the same port (see workers.ts); absent: this one alone. */
  workers?: WorkerLink;
  /** Count requests, enrollments and the process's own figures (PortalApp.metrics; see portal-metrics.ts). */
  metrics?: boolean;
}

export interface PortalApp {
  app: Express;
  /**
   * Waits for the requests in flight (at most CLOSE_WAIT_MS), then releases what the app holds
   * besides `db` (the session store's and the transactions' pools, the report stores).
   */
  close: () => Promise<void>;
  /** The app's metrics, when asked for (AppDeps.metrics): main.ts serves them on PORTAL_METRICS_PORT. */
  metrics?: PortalMetrics;
}

/** What the student's pages read of their enrollments with the session (see createSessionMiddleware). */
const ENROLLMENTS_READ_BY_PAGE: Partial<Record<string, EnrollmentsRead>> = {
  '/courses': 'statuses',
  '/timetable': 'statuses',
  '/timetable.ics': 'statuses',
  '/enrollments': 'courses',
};
const COURSE_PAGE = /^\/courses\/\d+$/;

function enrollmentsReadFor(path: string): EnrollmentsRead | undefined {
  return ENROLLMENTS_READ_BY_PAGE[path] ?? (COURSE_PAGE.test(path) ? 'statuses' : undefined);
}

/** The longest close() waits for the requests in flight (main.ts ends the process at 10 s). */
const CLOSE_WAIT_MS = 5_000;

/** Builds the portal without listening; `main.ts` listens, tests use supertest or port 0. */
export function createApp(deps: AppDeps): PortalApp {
  const app = express();
  const stores = new ReportStores(deps.pg, deps.stores ?? { schema: 'public' });
  const lifetimes = { absoluteMs: deps.sessionAbsoluteMs ?? 8 * 3_600_000, idleMs: deps.sessionIdleMs ?? 3_600_000 };
  const sessions = createSessionMiddleware({
    mysqlUrl: deps.mysqlUrl,
    secret: deps.sessionSecret,
    cookieSecure: deps.cookieSecure,
    ...lifetimes,
    // The catalogue shows the student's status in each course of the page, a course's page in
    // that course (and its clashes with the courses held); the timetable and its calendar file,
    // the courses they hold; the enrollments page, each enrollment and its course.
    readsEnrollments: (req) => (req.method === 'GET' && enrollmentsReadFor(req.path)) || false,
  });
  const transactions = createTransactions(deps.mysqlUrl);
  const inFlight = new InFlight();
  const metrics = deps.metrics
    ? new PortalMetrics({ inFlight: () => inFlight.size, db: deps.db, sessions, transactions })
    : undefined;
  const csrf = createCsrf({ secret: deps.sessionSecret, cookieSecure: deps.cookieSecure });

  app.set('views', path.join(PROJECT_ROOT, 'webapp/src/views'));
  // Formatting the console's views share: instants in UTC, any mirrored value as text.
  app.locals.utc = (d: Date | string | null | undefined) =>
    d ? new Date(d).toISOString().replace('T', ' ').slice(0, 19) : '';
  app.locals.count = count;
  app.locals.bytes = bytes;
  app.locals.num = num;
  app.locals.cell = (v: unknown) =>
    v === null || v === undefined
      ? 'NULL'
      : v instanceof Date
        ? v.toISOString()
        : Buffer.isBuffer(v)
          ? `0x${v.toString('hex').slice(0, 64)}${v.length > 32 ? '…' : ''}`
          : typeof v === 'object'
            ? JSON.stringify(v)
            : String(v);
  app.engine('ejs', ejsWithoutWith());
  app.set('view engine', 'ejs');
  // Pages are never cached (no-store): hashing every body for an ETag would buy nothing.
  app.set('etag', false);
  app.set('trust proxy', deps.trustProxy);
  app.disable('x-powered-by');

  // First, so that every request (probes included) is counted until its response ends.
  app.use(inFlight.middleware);
  if (metrics) app.use(metrics.middleware);
  app.use(securityHeaders());
  app.use('/static', express.static(path.join(PROJECT_ROOT, 'webapp/src/public'), { maxAge: '1h' }));
  app.use(noStore);
  // Probes come first: no session, cookie or body is read for them.
  app.get('/healthz', async (_req, res) => {
    await deps.db.raw('SELECT 1');
    res.json({ status: 'ok' });
  });
  app.use(rejectControlCharactersInQuery);
  app.use(express.urlencoded({ extended: false, limit: '20kb' }));
  app.use(express.json({ limit: '100kb' }));
  // Unsigned parsing: the session and CSRF cookies carry their own signatures, and the flash's is
  // checked where it is read (exposeFlash).
  app.use(cookieParser());
  app.use(sessions.middleware);
  app.use(checkSessionAccount(deps.db, lifetimes));
  app.use(exposeFlash(deps.sessionSecret));
  app.use((req, res, next) => {
    res.locals.user = req.session.user;
    res.locals.path = req.path;
    // Lazy: only pages that render a form set the token cookie; one token per response.
    let token: string | undefined;
    res.locals.csrfToken = () => (token ??= csrf.token(req, res));
    next();
  });
  app.use(csrf.protection);
  app.use(
    routes({
      db: deps.db,
      transactions,
      pg: deps.pg,
      daemonAdmin: deps.daemonAdmin,
      stores,
      now: deps.now ?? (() => new Date()),
      loginRateLimit: deps.loginRateLimit,
      loginAccountLimit: deps.loginAccountLimit ?? 5,
      bcryptRounds: deps.bcryptRounds ?? 12,
      hashingConcurrency: deps.hashingConcurrency ?? availableParallelism(),
      catalogueMaxAgeMs: deps.catalogueMaxAgeMs ?? 5_000,
      seatsMaxAgeMs: deps.seatsMaxAgeMs ?? SEATS_MAX_AGE_MS,
      workers: deps.workers,
      metrics,
    }),
  );
  app.use(notFound);
  app.use(errorHandler(deps.logger));

  return {
    app,
    metrics,
    close: async () => {
      // The requests still being worked on (their clients may have left) finish first: their
      // transactions and session saves need the pools.
      if (!(await inFlight.idle(CLOSE_WAIT_MS)))
        deps.logger.warn('closing with requests still in flight', { requests: inFlight.size });
      await sessions.close();
      await transactions.close();
      await stores.close();
    },
  };
}
