import type { Request, Response } from 'express';
import { AppError } from '../../../../lib/app-error';
import { portalError } from '../../errors';
import { termOpenOn } from '../../repositories/courses-repository';
import { listEnrolledCourseIds } from '../../repositories/enrollments-repository';
import type { CourseCatalogue } from '../../use-cases/catalogue';
import { CourseSchedules } from '../../use-cases/course-schedules';
import { parseCatalogueQuery } from '../../use-cases/courses';
import { type EnrollmentDeps, drop, enroll, isoDate, utcMinute } from '../../use-cases/enrollment';
import { joinWaitlist, leaveWaitlist } from '../../use-cases/waitlist';
import { waitlistPlace } from '../../repositories/waitlist-repository';
import { setFlash } from '../flash';
import { idParam } from '../query-params';
import { currentStudent, safeNext } from '../guards';
import { enrolledCourseIdsReadWith, enrollmentStatusesReadWith } from '../session-reads';
import type { PortalMetrics } from '../portal-metrics';

const PAGE_SIZE = 20;
/** "Thursday 10 Sept" (with the year added: en-GB would put a comma after the weekday), in UTC. */
const CLASS_DAY = new Intl.DateTimeFormat('en-GB', {
  weekday: 'long',
  day: 'numeric',
  month: 'short',
  timeZone: 'UTC',
});
const hm = (d: Date) => d.toISOString().slice(11, 16);

const courseId = (req: Request) => idParam(req.params.id);

export function courseHandlers(deps: EnrollmentDeps, catalogue: CourseCatalogue, metrics?: PortalMetrics) {
  const schedules = deps.schedules ?? new CourseSchedules(0);
  /** Enroll, drop and the waitlist's join and leave share this: run the use case, flash its outcome (and count it), go back to the page. */
  async function changeEnrollment(
    req: Request,
    res: Response,
    name: 'enroll' | 'drop' | 'join_waitlist' | 'leave_waitlist',
    action: (studentId: number, courseId: number) => Promise<string>,
  ): Promise<void> {
    const student = currentStudent(req);
    const back = safeNext(req.body?.back) ?? '/courses';
    try {
      const message = await action(student.studentId, courseId(req));
      metrics?.enrollmentChanged(name, 'committed');
      setFlash(res, 'success', message);
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
          withSeatsLeft: filter.seats === '1',
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

    /**
     * GET /courses/:id: what a student reads before taking a course (its description, its
     * classes, the term's enrollment window, seats left) with the action the catalogue offers, and
     * a warning when the course clashes with one they hold, so the enroll's refusal is no surprise.
     */
    async course(req: Request, res: Response): Promise<void> {
      const id = courseId(req);
      const course = id ? await catalogue.course(id) : undefined;
      if (!course) throw portalError('NOT_FOUND', 'That course does not exist.');
      const user = req.session.user!;
      const statuses = enrollmentStatusesReadWith(user);
      const [entry, terms, classes] = await Promise.all([
        catalogue.entry(course, user.studentId, statuses),
        catalogue.terms(),
        schedules.classesOf(deps.db, id),
      ]);
      const open = termOpenOn(terms, isoDate(deps.now()))(course.year, course.semester);
      let clash: { code: string; startsAt: Date } | undefined;
      if (user.studentId != null && open && entry.myStatus !== 'enrolled') {
        const held =
          enrolledCourseIdsReadWith(user)?.filter((c) => c !== id) ??
          (await listEnrolledCourseIds(deps.db, user.studentId, id));
        clash = await schedules.findClash(deps.db, id, held);
      }
      // The line matters once the course is full: read it only then.
      const waitlist =
        user.studentId != null && open && entry.myStatus !== 'enrolled' && entry.seatsLeft === 0
          ? await waitlistPlace(deps.db, user.studentId, id)
          : undefined;
      res.render('course', {
        waitlist,
        title: `${course.code} ${course.title}`,
        course: entry,
        description: course.description,
        term: terms.find((t) => t.year === course.year && t.semester === course.semester),
        open,
        clash: clash && { code: clash.code, at: `${utcMinute(clash.startsAt)} UTC` },
        classes: classes.map((c) => ({
          day: `${CLASS_DAY.format(c.startsAt)} ${c.startsAt.getUTCFullYear()}`,
          date: c.startsAt.toISOString(),
          time: `${hm(c.startsAt)}–${hm(c.endsAt)}`,
          lecture: c.lectureTitle,
          room: `${c.building} ${c.room}`.trim(),
        })),
        isStudent: user.studentId != null,
        isStaff: user.role === 'staff',
        back: `/courses/${id}`,
      });
    },

    enroll: (req: Request, res: Response) =>
      changeEnrollment(req, res, 'enroll', async (studentId, id) => {
        const course = await enroll(deps, studentId, id);
        catalogue.noteSeatsTaken(id, course.seatsTaken);
        return `You are enrolled in ${course.code} ${course.title}.`;
      }),
    drop: (req: Request, res: Response) =>
      changeEnrollment(req, res, 'drop', async (studentId, id) => {
        const course = await drop(deps, studentId, id);
        catalogue.noteSeatsTaken(id, course.seatsTaken);
        return `You dropped ${course.code} ${course.title}.`;
      }),
    joinWaitlist: (req: Request, res: Response) =>
      changeEnrollment(req, res, 'join_waitlist', async (studentId, id) => {
        const { code, title, position } = await joinWaitlist(deps, studentId, id);
        return `You are on the waitlist for ${code} ${title}: number ${position} in line. You will be enrolled when a seat frees up.`;
      }),
    leaveWaitlist: (req: Request, res: Response) =>
      changeEnrollment(req, res, 'leave_waitlist', async (studentId, id) => {
        const { code, title } = await leaveWaitlist(deps, studentId, id);
        return `You left the waitlist for ${code} ${title}.`;
      }),
  };
}
