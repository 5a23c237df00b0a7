import type { Request, Response } from 'express';
import ical from 'ical-generator';
import { optionalDate } from '../query-params';
import type { Knex } from 'knex';
import { listMyEnrollments } from '../../repositories/enrollments-repository';
import { listMyWaitlists } from '../../repositories/waitlist-repository';
import type { CourseCatalogue } from '../../use-cases/catalogue';
import type { CourseSchedules } from '../../use-cases/course-schedules';
import { isoDate } from '../../use-cases/enrollment';
import { currentStudent } from '../guards';
import { enrolledCourseIdsReadWith, myEnrollmentsReadWith, waitlistCountReadWith } from '../session-reads';

const DAY = 24 * 60 * 60 * 1000;
/** The latest instant a Date holds: "every class, however late". */
const END_OF_TIME = new Date(8.64e15);

/**
 * "Monday 2 Sept": one formatter for every page (`toLocaleDateString` with options builds a new
 * one per call, ~0.4 ms each: five of them were most of a timetable page's cost).
 */
const DAY_NAME = new Intl.DateTimeFormat('en-GB', { weekday: 'long', day: 'numeric', month: 'short', timeZone: 'UTC' });

/** Monday 00:00 UTC of the week holding `d`. */
export function mondayOf(d: Date): Date {
  const day = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  return new Date(day.getTime() - ((day.getUTCDay() + 6) % 7) * DAY);
}

/** The credits taken in each term (DECIMAL(4,1) values, summed in tenths: no float drift). */
export function creditsByTerm(
  enrolled: { year: number; semester: number; credits: string }[],
): { term: string; credits: string }[] {
  const tenths = new Map<string, number>();
  for (const e of enrolled) {
    const term = `${e.year} / ${e.semester}`;
    tenths.set(term, (tenths.get(term) ?? 0) + Math.round(Number(e.credits) * 10));
  }
  return [...tenths].map(([term, t]) => ({ term, credits: (t / 10).toFixed(1) }));
}

export function studentHandlers(db: Knex, schedules: CourseSchedules, catalogue: CourseCatalogue, now: () => Date) {
  return {
    async enrollments(req: Request, res: Response): Promise<void> {
      const student = currentStudent(req);
      // Read with the session (one round trip for the page), unless it came from elsewhere.
      const user = req.session.user!;
      const [rows, termOpen, waitlists] = await Promise.all([
        myEnrollmentsReadWith(user) ?? listMyEnrollments(db, student.studentId),
        catalogue.termOpenOn(isoDate(now())),
        waitlistCountReadWith(user) === 0 ? [] : listMyWaitlists(db, student.studentId),
      ]);
      const enrolled = rows.filter((r) => r.status === 'enrolled');
      res.render('enrollments', {
        title: 'My enrollments',
        termOpen,
        enrolled,
        creditsByTerm: creditsByTerm(enrolled),
        dropped: rows.filter((r) => r.status === 'dropped'),
        waitlists,
      });
    },

    async timetable(req: Request, res: Response): Promise<void> {
      const student = currentStudent(req);
      const week = optionalDate(req.query.week, 'week');
      const monday = mondayOf(week ? new Date(`${week}T00:00:00Z`) : now());
      const sunday = new Date(monday.getTime() + 7 * DAY);
      const enrolled = enrolledCourseIdsReadWith(req.session.user!);
      const { slots, next } = await schedules.timetable(db, student.studentId, monday, sunday, enrolled);
      const nextClass = slots.length === 0 ? next : undefined;
      const days = Array.from({ length: 7 }, (_, i) => {
        const date = new Date(monday.getTime() + i * DAY);
        return {
          date,
          name: DAY_NAME.format(date),
          slots: slots.filter(
            (s) => s.startsAt.getTime() >= date.getTime() && s.startsAt.getTime() < date.getTime() + DAY,
          ),
        };
      });
      const iso = (d: Date) => d.toISOString().slice(0, 10);
      res.render('timetable', {
        title: 'My timetable',
        monday,
        days: days.filter((d, i) => i < 5 || d.slots.length > 0),
        prevWeek: iso(new Date(monday.getTime() - 7 * DAY)),
        nextWeek: iso(sunday),
        nextClassWeek: nextClass ? iso(mondayOf(nextClass)) : undefined,
        thisWeek: monday.getTime() === mondayOf(now()).getTime(),
      });
    },

    /**
     * GET /timetable.ics: every class of the student's courses as an iCalendar file, for their
     * own calendar. Each class keeps its UID from one download to the next (course and start),
     * so importing a newer file updates the classes instead of adding them twice.
     */
    async calendar(req: Request, res: Response): Promise<void> {
      const student = currentStudent(req);
      const enrolled = enrolledCourseIdsReadWith(req.session.user!);
      const { slots } = await schedules.timetable(db, student.studentId, new Date(0), END_OF_TIME, enrolled);
      const calendar = ical({
        name: `Timetable of ${student.username}`,
        prodId: { company: 'campus-sync', product: 'portal', language: 'EN' },
      });
      for (const s of slots) {
        calendar.createEvent({
          id: `course-${s.courseId}-${s.startsAt.toISOString()}@campus-sync`,
          start: s.startsAt,
          end: s.endsAt,
          stamp: now(),
          summary: `${s.code} ${s.title}`,
          description: s.lectureTitle,
          location: `${s.building} ${s.room}`.trim(),
        });
      }
      res
        .type('text/calendar; charset=utf-8')
        .attachment(`timetable-${student.username}.ics`)
        .send(calendar.toString());
    },
  };
}
