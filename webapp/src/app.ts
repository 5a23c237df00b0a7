import path from 'node:path';
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Knex } from 'knex';
import { csrfSync } from 'csrf-sync';
import type { Logger } from '../../lib/logger';
import { errorHandler, notFound } from './http/error-handler';
import { exposeFlash } from './http/flash';
import { createSessionMiddleware } from './http/session';
import { routes } from './routes';
import type { Pool } from 'pg';
import type { DaemonAdmin } from './clients/daemon-admin';
import { ReportStores, type StoreSettings } from './reports/report-stores';
import { PROJECT_ROOT } from '../../lib/project-root';

export interface AppDeps {
  db: Knex;
  logger: Logger;
  mysqlUrl: string;
  sessionSecret: string;
  cookieSecure: boolean;
  trustProxy: number;
  loginRateLimit: number;
  pg?: Pool;
  daemonAdmin?: DaemonAdmin;
  /** Where the reports read (Redis, MongoDB, Neo4j, Elasticsearch); absent: all from the mirror. */
  stores?: StoreSettings;
  /** The clock; tests pin it to put terms inside or outside their enrollment window. */
  now?: () => Date;
}

export interface PortalApp {
  app: Express;
  /** Releases what the app holds besides `db` (the session store's pool and timer). */
  close: () => Promise<void>;
}

/** Builds the portal without listening; `main.ts` listens, tests use supertest or port 0. */
export function createApp(deps: AppDeps): PortalApp {
  const app = express();
  const stores = new ReportStores(deps.pg, deps.stores ?? { schema: 'public' });
  const sessions = createSessionMiddleware({
    mysqlUrl: deps.mysqlUrl,
    secret: deps.sessionSecret,
    cookieSecure: deps.cookieSecure,
  });
  const { csrfSynchronisedProtection, generateToken } = csrfSync({
    getTokenFromRequest: (req) =>
      typeof req.body?._csrf === 'string' ? req.body._csrf : (req.headers['x-csrf-token'] as string | undefined),
  });

  app.set('views', path.join(PROJECT_ROOT, 'webapp/src/views'));
  app.set('view engine', 'ejs');
  app.set('trust proxy', deps.trustProxy);
  app.disable('x-powered-by');

  app.use(helmet());
  app.use('/static', express.static(path.join(PROJECT_ROOT, 'webapp/src/public'), { maxAge: '1h' }));
  app.use(express.urlencoded({ extended: false, limit: '20kb' }));
  app.use(express.json({ limit: '100kb' }));
  app.use(sessions.middleware);
  app.use(exposeFlash);
  app.use((req, res, next) => {
    res.locals.user = req.session.user;
    res.locals.path = req.path;
    // Lazy: only pages that render a form put a token (and so a session) in place.
    res.locals.csrfToken = () => generateToken(req);
    next();
  });
  app.use(csrfSynchronisedProtection);
  app.use(
    routes({
      db: deps.db,
      pg: deps.pg,
      daemonAdmin: deps.daemonAdmin,
      stores,
      now: deps.now ?? (() => new Date()),
      loginRateLimit: deps.loginRateLimit,
    }),
  );
  app.use(notFound);
  app.use(errorHandler(deps.logger));

  return {
    app,
    close: async () => {
      await sessions.close();
      await stores.close();
    },
  };
}
