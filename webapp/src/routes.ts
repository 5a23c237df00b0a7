import { Router } from 'express';
import type { Knex } from 'knex';
import type { Transactions } from './db/transactions';
import { rateLimit } from 'express-rate-limit';
import { portalError } from './errors';
import { requireLogin, requireRole } from './http/guards';
import { adminCourseHandlers } from './http/handlers/admin-course-handlers';
import { accountHandlers } from './http/handlers/account-handlers';
import { authHandlers, homePath } from './http/handlers/auth-handlers';
import { courseHandlers } from './http/handlers/course-handlers';
import { studentHandlers } from './http/handlers/student-handlers';
import { opsHandlers } from './http/handlers/ops-handlers';
import { consoleHandlers } from './http/handlers/console-handlers';
import { triggerHandlers } from './http/handlers/trigger-handlers';
import type { DaemonAdmin } from './clients/daemon-admin';
import type { Pool } from 'pg';
import { reportHandlers } from './http/handlers/report-handlers';
import { hashingSlots, normaliseUsername } from './use-cases/accounts';
import { CourseCatalogue } from './use-cases/catalogue';
import { CourseSchedules } from './use-cases/course-schedules';
import { seatWaitlistedStudents } from './use-cases/enrollment';
import type { ReportStores } from './reports/report-stores';
import type { WorkerLink } from './workers';
import type { PortalMetrics } from './http/portal-metrics';

export interface RouteDeps {
  db: Knex;
  /** Where enroll and drop run their transactions. */
  transactions: Transactions;
  /** The PostgreSQL mirror and daemon state (operator console); absent: those pages say so. */
  pg?: Pool;
  /** The daemon's admin API (console controls); absent: the controls say so. */
  daemonAdmin?: DaemonAdmin;
  /** The stores the reports read (and the mirror they fall back to). */
  stores: ReportStores;
  now: () => Date;
  loginRateLimit: number;
  loginAccountLimit: number;
  bcryptRounds: number;
  /** bcrypt comparisons run at once by this process (see hashingSlots). */
  hashingConcurrency: number;
  /** How long the catalogue's course list is held in memory (0: read per page). */
  catalogueMaxAgeMs: number;
  /** How long the catalogue's seats taken are held (0: read per page). */
  seatsMaxAgeMs: number;
  /** The other worker processes: rate limits counted with them, course edits told to them. */
  workers?: WorkerLink;
  /** Where enrolls and drops are counted, when the portal keeps metrics. */
  metrics?: PortalMetrics;
}

/** The portal's route table: every URL, its guard and its handler, in one place. */
export function routes(deps: RouteDeps): Router {
  const { db, now } = deps;
  // One bound on bcrypt comparisons for logins and password changes alike.
  const hashing = hashingSlots(deps.hashingConcurrency);
  const auth = authHandlers(db, deps.bcryptRounds, hashing);
  const account = accountHandlers(db, deps.bcryptRounds, hashing);
  const catalogue = new CourseCatalogue(db, deps.catalogueMaxAgeMs, deps.seatsMaxAgeMs);
  const schedules = new CourseSchedules(deps.catalogueMaxAgeMs);
  // A staff edit drops what this process holds at once, and what the other workers hold.
  const forgetCourses = () => {
    catalogue.invalidate();
    schedules.invalidate();
  };
  deps.workers?.onCourseEdit(forgetCourses);
  const enrollment = { db, transactions: deps.transactions, schedules, now };
  const courses = courseHandlers(enrollment, catalogue, deps.metrics);
  const student = studentHandlers(db, schedules, catalogue, now);
  const admin = adminCourseHandlers(
    db,
    catalogue,
    async () => {
      forgetCourses();
      await deps.workers?.announceCourseEdit();
    },
    (id) => seatWaitlistedStudents(enrollment, id),
  );
  const ops = opsHandlers(deps.pg, deps.daemonAdmin, now);
  const console_ = consoleHandlers(deps.pg, db, deps.stores.settings.schema, now);
  const triggers = triggerHandlers(deps.pg, deps.daemonAdmin);
  const reports = reportHandlers(deps.stores, now);
  const loginLimiter = rateLimit({
    windowMs: 15 * 60 * 1000,
    limit: deps.loginRateLimit,
    store: deps.workers?.rateLimitStore('login-client'),
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, _res, next) =>
      next(portalError('RATE_LIMITED', 'Too many login attempts. Wait a few minutes and try again.')),
  });
  // Beside the per-client limit: failed logins per account, from anywhere, so guessing one
  // account's password from many addresses is slowed as well. Only wrong passwords (401) are
  // counted: at login, and a wrong current password on the account page (whose session is the
  // account's), so a borrowed session cannot guess the password it would need to change it.
  const accountLimiter = rateLimit({
    windowMs: 15 * 60 * 1000,
    limit: deps.loginAccountLimit,
    store: deps.workers?.rateLimitStore('login-account'),
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
    keyGenerator: (req) => {
      const typed = typeof req.body?.username === 'string' ? req.body.username : (req.session.user?.username ?? '');
      return `account:${normaliseUsername(typed) ?? '(malformed)'}`;
    },
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (req, _res, next) =>
      next(
        portalError(
          'RATE_LIMITED',
          `Too many ${req.path === '/login' ? 'failed logins' : 'wrong passwords'} for this account. Wait 15 minutes and try again, or ask an administrator to reset the password.`,
        ),
      ),
  });

  const r = Router();
  r.get('/', (req, res) => res.redirect(req.session.user ? homePath(req.session.user.role) : '/login'));
  r.get('/login', auth.showLogin);
  r.post('/login', loginLimiter, accountLimiter, auth.login);
  r.post('/logout', auth.logout);
  r.get('/account', requireLogin, account.show);
  r.post('/account/password', requireLogin, accountLimiter, account.changePassword);

  r.get('/courses', requireLogin, courses.catalogue);
  r.get('/courses/:id', requireLogin, courses.course);
  r.post('/courses/:id/enroll', requireRole('student'), courses.enroll);
  r.post('/courses/:id/drop', requireRole('student'), courses.drop);
  r.post('/courses/:id/waitlist', requireRole('student'), courses.joinWaitlist);
  r.post('/courses/:id/waitlist/leave', requireRole('student'), courses.leaveWaitlist);
  r.get('/enrollments', requireRole('student'), student.enrollments);
  r.get('/timetable', requireRole('student'), student.timetable);
  r.get('/timetable.ics', requireRole('student'), student.calendar);

  r.get('/admin/courses', requireRole('staff'), admin.list);
  r.get('/admin/courses/new', requireRole('staff'), admin.newForm);
  r.post('/admin/courses', requireRole('staff'), admin.create);
  r.get('/admin/courses/:id/edit', requireRole('staff'), admin.editForm);
  r.post('/admin/courses/:id', requireRole('staff'), admin.update);
  r.get('/admin/courses/:id/students', requireRole('staff'), admin.students);
  r.get('/admin/courses/:id/students.csv', requireRole('staff'), admin.studentsCsv);

  r.get('/reports', requireRole('staff', 'operator'), reports.index);
  r.get('/reports/:report.csv', requireRole('staff', 'operator'), reports.csv);
  r.get('/reports/:report', requireRole('staff', 'operator'), reports.page);
  r.get('/api/reports/:report', requireRole('staff', 'operator'), reports.json);

  r.use('/ops', requireRole('operator'), console_.alertBanner);
  r.get('/ops/sync-history', requireRole('operator'), ops.syncHistory);
  r.get('/ops/sync-history/:id', requireRole('operator'), ops.cycle);
  r.get('/ops/sinks', requireRole('operator'), ops.sinks);
  r.post('/ops/actions/:action', requireRole('operator'), ops.action);
  r.get('/ops/tables', requireRole('operator'), console_.tables);
  r.get('/ops/tables/:table', requireRole('operator'), console_.table);
  r.get('/ops/tables/:table/history', requireRole('operator'), console_.rowHistory);
  r.get('/ops/charts', requireRole('operator'), console_.charts);
  r.get('/ops/alerts', requireRole('operator'), console_.alerts);
  r.get('/ops/triggers', requireRole('operator'), triggers.list);
  r.post('/ops/triggers', requireRole('operator'), triggers.add);
  r.post('/ops/triggers/:name/:op', requireRole('operator'), triggers.action);
  return r;
}
