import type { Knex } from 'knex';
import { type Transactions, committing, knexTransactions } from '../db/transactions';
import { portalError } from '../errors';
import { addSeatsTaken, lockCourseForStudent } from '../repositories/courses-repository';
import { insertEnrollment, markDropped, markEnrolled } from '../repositories/enrollments-repository';
import { CourseSchedules } from './course-schedules';

export interface EnrollmentDeps {
  db: Knex;
  /** Where the enroll and drop transactions run (absent: knex transactions on `db`). */
  transactions?: Transactions;
  now: () => Date;
  /** Course schedules held for the clash check (absent: read on every enroll). */
  schedules?: CourseSchedules;
}

const UNCACHED = new CourseSchedules(0);

/** What an enroll or drop changed: its course, and the course's seats taken once it commits. */
export interface EnrollmentChange {
  code: string;
  title: string;
  seatsTaken: number;
}

function transactionsOf(deps: EnrollmentDeps): Transactions {
  return deps.transactions ?? knexTransactions(deps.db);
}

/** The day (YYYY-MM-DD, UTC) whose open terms an enroll or drop at `d` may change. */
export function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** "2026-09-07 09:30": a class's start as the clash messages give it (UTC). */
export function utcMinute(d: Date): string {
  return d.toISOString().slice(0, 16).replace('T', ' ');
}

/**
 * Enrolls a student: the course row (with its seat count and the student's enrollment) is locked
 * first, so concurrent enrollments in one course (and a student's double click) are serialised
 * and exactly one racer takes the last seat; the seat count moves in the same transaction.
 * Both enroll and drop run READ COMMITTED, as every portal connection does (createKnex,
 * createTransactions): once the
 * course row lock is ours, the reads see every enrollment committed by its previous holder.
 * Refusals are AppErrors whose message is shown to the student.
 */
export async function enroll(deps: EnrollmentDeps, studentId: number, courseId: number): Promise<EnrollmentChange> {
  return transactionsOf(deps).run(async (trx) => {
    const now = deps.now();
    const locked = await lockCourseForStudent(trx, courseId, studentId, isoDate(now), 'enroll');
    if (!locked) throw portalError('NOT_FOUND', 'That course does not exist.');
    const { course, enrollment } = locked;
    if (!locked.termOpen) {
      throw portalError(
        'TERM_CLOSED',
        `Enrollment for ${course.code} is closed: its term (${course.year}, semester ${course.semester}) is not open for enrollment.`,
      );
    }
    if (enrollment?.status === 'enrolled')
      throw portalError('ALREADY_ENROLLED', `You are already enrolled in ${course.code}.`);
    if (locked.enrolled >= course.capacity) {
      throw portalError('COURSE_FULL', `${course.code} is full: all ${course.capacity} seats are taken.`);
    }
    const clash = await (deps.schedules ?? UNCACHED).findClash(trx, courseId, locked.otherCourseIds);
    if (clash) {
      throw portalError(
        'TIMETABLE_CLASH',
        `${course.code} clashes with ${clash.code} (${utcMinute(clash.startsAt)} UTC) on your timetable.`,
      );
    }
    if (enrollment) await markEnrolled(committing(trx), enrollment.id, courseId, now);
    else {
      await insertEnrollment(trx, studentId, courseId, now);
      await addSeatsTaken(committing(trx), courseId, 1);
    }
    return { code: course.code, title: course.title, seatsTaken: locked.enrolled + 1 };
  });
}

/** Drops a course the student holds; the row stays with status `dropped` and `dropped_at`. */
export async function drop(deps: EnrollmentDeps, studentId: number, courseId: number): Promise<EnrollmentChange> {
  return transactionsOf(deps).run(async (trx) => {
    const now = deps.now();
    const locked = await lockCourseForStudent(trx, courseId, studentId, isoDate(now), 'drop');
    if (!locked) throw portalError('NOT_FOUND', 'That course does not exist.');
    const { course, enrollment } = locked;
    if (enrollment?.status !== 'enrolled') throw portalError('NOT_ENROLLED', `You are not enrolled in ${course.code}.`);
    if (!locked.termOpen) {
      throw portalError('TERM_CLOSED', `${course.code} can no longer be dropped: its term is not open for changes.`);
    }
    await markDropped(committing(trx), enrollment.id, courseId, now);
    return { code: course.code, title: course.title, seatsTaken: Math.max(0, locked.enrolled - 1) };
  });
}
