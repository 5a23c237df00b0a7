import type { Request, Response } from 'express';
import { AppError } from '../../../../lib/app-error';
import { termOpenOn } from '../../repositories/courses-repository';
import type { CourseCatalogue } from '../../use-cases/catalogue';
import { parseCatalogueQuery } from '../../use-cases/courses';
import { type EnrollmentDeps, drop, enroll, isoDate } from '../../use-cases/enrollment';
import { setFlash } from '../flash';
import { currentStudent, safeNext } from '../guards';
import { enrollmentStatusesReadWith } from '../session-reads';
import type { PortalMetrics } from '../portal-metrics';

const PAGE_SIZE = 20;

function courseId(req: Request): number {
  const id = Number(req.params.id);
  return Number.isInteger(id) && id > 0 ? id : 0;
}

export function courseHandlers(deps: EnrollmentDeps, catalogue: CourseCatalogue, metrics?: PortalMetrics) {
  /** Enroll and drop share this: run the use case, flash its outcome (and count it), go back to the page. */
  async function changeEnrollment(
    req: Request,
    res: Response,
    action: typeof enroll,
    name: 'enroll' | 'drop',
    verb: string,
  ): Promise<void> {
    const student = currentStudent(req);
    const back = safeNext(req.body?.back) ?? '/courses';
    try {
      const id = courseId(req);
      const course = await action(deps, student.studentId, id);
      catalogue.noteSeatsTaken(id, course.seatsTaken);
      metrics?.enrollmentChanged(name, 'committed');
      setFlash(res, 'success', `${verb} ${course.code} ${course.title}.`);
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      metrics?.enrollmentChanged(name, err.code);
      setFlash(res, 'error', err.message);
    }
    res.redirect(303, back);
  }

  return {
    async catalogue(req: Request, res: Response): Promise<void> {
      const filter = parseCatalogueQuery(req.query);
      const page = filter.page ?? 1;
      const user = req.session.user;
      const [result, { departments, terms }] = await Promise.all([
        catalogue.search({
          q: filter.q,
          year: filter.year,
          semester: filter.semester,
          departmentId: filter.department,
          page,
          pageSize: PAGE_SIZE,
          studentId: user?.studentId,
          statuses: user ? enrollmentStatusesReadWith(user) : undefined,
        }),
        catalogue.departmentsAndTerms(),
      ]);
      const pages = Math.max(1, Math.ceil(result.total / PAGE_SIZE));
      res.render('courses', {
        title: 'Course catalogue',
        back: req.originalUrl,
        filter,
        page,
        pages,
        total: result.total,
        courses: result.rows,
        departments,
        terms,
        termOpen: termOpenOn(terms, isoDate(deps.now())),
        isStudent: user?.studentId != null,
      });
    },

    enroll: (req: Request, res: Response) => changeEnrollment(req, res, enroll, 'enroll', 'You are enrolled in'),
    drop: (req: Request, res: Response) => changeEnrollment(req, res, drop, 'drop', 'You dropped'),
  };
}
