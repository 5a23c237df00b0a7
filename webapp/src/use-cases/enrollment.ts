import type { Knex } from 'knex';
import { portalError } from '../errors';
import { countEnrolled, isTermOpen, lockCourse } from '../repositories/courses-repository';
import {
  findClash,
  findEnrollmentForUpdate,
  insertEnrollment,
  markDropped,
  markEnrolled,
} from '../repositories/enrollments-repository';

export interface EnrollmentDeps {
  db: Knex;
  now: () => Date;
}

// READ COMMITTED so that, once the course row lock is ours, the seat count sees every enrollment
// committed by the transaction that held the lock before us (REPEATABLE READ could count from an
// older snapshot and oversell the last seat).
const TX = { isolationLevel: 'read committed' } as const;

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/**
 * Enrolls a student: the course row is locked first, so concurrent enrollments in one course
 * (and a student's double click) are serialised and exactly one racer takes the last seat.
 * Refusals are AppErrors whose message is shown to the student.
 */
export async function enroll(
  deps: EnrollmentDeps,
  studentId: number,
  courseId: number,
): Promise<{ code: string; title: string }> {
  return deps.db.transaction(async (trx) => {
    const now = deps.now();
    const course = await lockCourse(trx, courseId);
    if (!course) throw portalError('NOT_FOUND', 'That course does not exist.');
    if (!(await isTermOpen(trx, course.year, course.semester, isoDate(now)))) {
      throw portalError(
        'TERM_CLOSED',
        `Enrollment for ${course.code} is closed: its term (${course.year}, semester ${course.semester}) is not open for enrollment.`,
      );
    }
    const existing = await findEnrollmentForUpdate(trx, studentId, courseId);
    if (existing?.status === 'enrolled')
      throw portalError('ALREADY_ENROLLED', `You are already enrolled in ${course.code}.`);
    if ((await countEnrolled(trx, courseId)) >= course.capacity) {
      throw portalError('COURSE_FULL', `${course.code} is full: all ${course.capacity} seats are taken.`);
    }
    const clash = await findClash(trx, studentId, courseId);
    if (clash) {
      throw portalError(
        'TIMETABLE_CLASH',
        `${course.code} clashes with ${clash.code} (${clash.startsAt.toISOString().slice(0, 16).replace('T', ' ')} UTC) on your timetable.`,
      );
    }
    if (existing) await markEnrolled(trx, existing.id, now);
    else await insertEnrollment(trx, studentId, courseId, now);
    return { code: course.code, title: course.title };
  }, TX);
}

/** Drops a course the student holds; the row stays with status `dropped` and `dropped_at`. */
export async function drop(
  deps: EnrollmentDeps,
  studentId: number,
  courseId: number,
): Promise<{ code: string; title: string }> {
  return deps.db.transaction(async (trx) => {
    const now = deps.now();
    const course = await lockCourse(trx, courseId);
    if (!course) throw portalError('NOT_FOUND', 'That course does not exist.');
    const existing = await findEnrollmentForUpdate(trx, studentId, courseId);
    if (existing?.status !== 'enrolled') throw portalError('NOT_ENROLLED', `You are not enrolled in ${course.code}.`);
    if (!(await isTermOpen(trx, course.year, course.semester, isoDate(now)))) {
      throw portalError('TERM_CLOSED', `${course.code} can no longer be dropped: its term is not open for changes.`);
    }
    await markDropped(trx, existing.id, now);
    return { code: course.code, title: course.title };
  }, TX);
}
