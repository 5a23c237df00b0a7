import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { AppError } from '../../../../lib/app-error';
import { portalError } from '../../errors';
import { EQUIPMENT, findCourse, listDepartments } from '../../repositories/courses-repository';
import { listCourseRoster } from '../../repositories/enrollments-repository';
import { countWaiting, listWaitingStudents, longestWaitlists } from '../../repositories/waitlist-repository';
import { count } from '../wording';
import type { CourseCatalogue } from '../../use-cases/catalogue';
import { parseCatalogueQuery, saveCourse } from '../../use-cases/courses';
import { sendCsv } from '../csv';
import { setFlash } from '../flash';
import { idParam } from '../query-params';

const EMPTY_FORM = {
  department_id: '',
  code: '',
  title: '',
  description: '',
  credits: '5',
  year: String(new Date().getUTCFullYear()),
  semester: '1',
  capacity: '30',
  required_equipment: [] as string[],
};

/**
 * `coursesChanged` drops what the portal holds of courses (catalogue, schedules) after a save, in
 * every worker process, before the response goes out.
 */
export function adminCourseHandlers(
  db: Knex,
  catalogue: CourseCatalogue,
  coursesChanged: () => Promise<void>,
  /** Gives a course's free seats to its waitlist (after a save: the capacity may have grown); how many. */
  seatWaitlisted: (courseId: number) => Promise<number>,
) {
  async function renderForm(
    res: Response,
    status: number,
    courseId: number | undefined,
    form: Record<string, unknown>,
    errors: Record<string, string> = {},
  ): Promise<void> {
    const eq = form.required_equipment;
    const values = { ...form, required_equipment: Array.isArray(eq) ? eq : eq ? [eq] : [] };
    res.status(status).render('admin/course-form', {
      title: courseId ? 'Edit course' : 'New course',
      courseId,
      values,
      errors,
      departments: await listDepartments(db),
      equipment: EQUIPMENT,
    });
  }

  async function save(req: Request, res: Response, id: number | undefined): Promise<void> {
    try {
      const savedId = await saveCourse(db, id, req.body ?? {});
      const seated = id ? await seatWaitlisted(id) : 0;
      await coursesChanged();
      setFlash(
        res,
        'success',
        !id
          ? 'Course created.'
          : seated > 0
            ? `Course saved. ${count(seated, 'student')} from its waitlist ${seated === 1 ? 'was' : 'were'} enrolled in the new seats.`
            : 'Course saved.',
      );
      res.redirect(303, `/admin/courses/${savedId}/edit`);
    } catch (err) {
      if (err instanceof AppError && err.code === 'VALIDATION_FAILED') {
        return renderForm(res, 400, id, req.body ?? {}, (err.details.fields as Record<string, string>) ?? {});
      }
      throw err;
    }
  }

  function courseId(req: Request): number {
    const id = idParam(req.params.id);
    if (!id) throw portalError('NOT_FOUND', 'That course does not exist.');
    return id;
  }

  return {
    async list(req: Request, res: Response): Promise<void> {
      const filter = parseCatalogueQuery(req.query);
      const page = filter.page ?? 1;
      const result = await catalogue.search({ q: filter.q, page, pageSize: 50 });
      const [waiting, longest] = await Promise.all([
        countWaiting(
          db,
          result.rows.map((c) => c.id),
        ),
        page === 1 && !filter.q ? longestWaitlists(db, 10) : [],
      ]);
      res.render('admin/courses', {
        title: 'Manage courses',
        filter,
        page,
        pages: Math.max(1, Math.ceil(result.total / 50)),
        courses: result.rows.map((c) => ({ ...c, waiting: waiting.get(c.id) ?? 0 })),
        longest,
      });
    },
    newForm: (_req: Request, res: Response) => renderForm(res, 200, undefined, EMPTY_FORM),
    create: (req: Request, res: Response) => save(req, res, undefined),
    async editForm(req: Request, res: Response): Promise<void> {
      const course = await findCourse(db, courseId(req));
      if (!course) throw portalError('NOT_FOUND', 'That course does not exist.');
      await renderForm(res, 200, course.id, {
        department_id: String(course.departmentId),
        code: course.code,
        title: course.title,
        description: course.description ?? '',
        credits: course.credits,
        year: String(course.year),
        semester: String(course.semester),
        capacity: String(course.capacity),
        required_equipment: course.requiredEquipment,
      });
    },
    update: (req: Request, res: Response) => save(req, res, courseId(req)),

    /** GET /admin/courses/:id/students: who is enrolled in the course (staff: class lists, e-mails). */
    async students(req: Request, res: Response): Promise<void> {
      const { course, roster } = await rosterOf(req);
      const waiting = await listWaitingStudents(db, course.id);
      res.render('admin/course-students', { title: `Students of ${course.code}`, course, roster, waiting });
    },

    /** GET /admin/courses/:id/students.csv: the same list, every column, for a spreadsheet. */
    async studentsCsv(req: Request, res: Response): Promise<void> {
      const { course, roster } = await rosterOf(req);
      sendCsv(
        res,
        `students-${course.code}-${course.year}-${course.semester}.csv`,
        ['Student number', 'Last name', 'First name', 'Email', 'Group', 'Enrolled at (UTC)'],
        roster.map((r) => [r.studentNumber, r.lastName, r.firstName, r.email, r.group, r.enrolledAt.toISOString()]),
      );
    },
  };

  async function rosterOf(req: Request) {
    const id = courseId(req);
    const [course, roster] = await Promise.all([findCourse(db, id), listCourseRoster(db, id)]);
    if (!course) throw portalError('NOT_FOUND', 'That course does not exist.');
    return { course, roster };
  }
}
