import session from 'express-session';
import MySQLStoreFactory from 'express-mysql-session';
import { mysqlUrlParts } from '../../../lib/mysql-url';
import type { Role } from '../repositories/accounts-repository';

export interface SessionUser {
  accountId: number;
  username: string;
  role: Role;
  studentId: number | null;
}

export interface Flash {
  kind: 'success' | 'error' | 'info';
  message: string;
}

declare module 'express-session' {
  interface SessionData {
    user?: SessionUser;
    flash?: Flash;
  }
}

export interface SessionOptions {
  mysqlUrl: string;
  secret: string;
  cookieSecure: boolean;
}

const EIGHT_HOURS = 8 * 60 * 60 * 1000;

/**
 * Sessions live in MySQL's `sessions` table (excluded from CDC by default) so a portal restart
 * keeps everyone logged in. Nothing is stored until there is something to keep.
 */
export function createSessionMiddleware(options: SessionOptions) {
  const MySQLStore = MySQLStoreFactory(session);
  // The table comes from mysql/init/002-portal-sessions.sql; creating it here would race the
  // first requests.
  const store = new MySQLStore({
    ...mysqlUrlParts(options.mysqlUrl),
    expiration: EIGHT_HOURS,
    connectionLimit: 5,
    createDatabaseTable: false,
  });
  const middleware = session({
    name: 'campus.sid',
    secret: options.secret,
    store,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: { httpOnly: true, sameSite: 'lax', secure: options.cookieSecure, maxAge: EIGHT_HOURS },
  });
  return { middleware, close: () => store.close() };
}
