import type { Knex } from 'knex';
import { type Sql, type Transactions, committing, knexTransactions } from '../db/transactions';
import { portalError } from '../errors';
import { type LockedCourse, addSeatsTaken, lockCourseForStudent } from '../repositories/courses-repository';
import {
  findEnrollmentForUpdate,
  insertEnrollment,
  listEnrolledCourseIds,
  markDropped,
  markEnrolled,
} from '../repositories/enrollments-repository';
import { deleteWaitlistEntryById, firstInLine } from '../repositories/waitlist-repository';
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

export function transactionsOf(deps: EnrollmentDeps): Transactions {
  return deps.transactions ?? knexTransactions(deps.db);
}

/** The schedules the clash check reads: those held for `deps`, else read on each check. */
export function schedulesOf(deps: EnrollmentDeps): CourseSchedules {
  return deps.schedules ?? UNCACHED;
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
    const locked = await lockToTake(trx, studentId, courseId, now, 'Enrollment for');
    const { course, enrollment } = locked;
    if (locked.enrolled >= course.capacity) {
      throw portalError(
        'COURSE_FULL',
        `${course.code} is full: all ${course.capacity} seats are taken. You can join its waitlist from the course page.`,
      );
    }
    await refuseClash(deps, trx, courseId, locked, '');
    // A student who waited and finds a seat free takes it directly, and leaves the line.
    if (locked.waitlistEntryId !== undefined) await deleteWaitlistEntryById(trx, locked.waitlistEntryId);
    if (enrollment) await markEnrolled(committing(trx), enrollment.id, courseId, now);
    else {
      await insertEnrollment(trx, studentId, courseId, now);
      await addSeatsTaken(committing(trx), courseId, 1);
    }
    return { code: course.code, title: course.title, seatsTaken: locked.enrolled + 1 };
  });
}

/**
 * Locks a course for a student taking it (an enroll, or a place in its waitlist), with the
 * refusals both share: no such course, its term closed (`closedWhat`: "Enrollment for", "The
 * waitlist for"), the student holding it already.
 */
export async function lockToTake(
  trx: Sql,
  studentId: number,
  courseId: number,
  now: Date,
  closedWhat: string,
): Promise<LockedCourse> {
  const locked = await lockCourseForStudent(trx, courseId, studentId, isoDate(now), 'enroll');
  if (!locked) throw portalError('NOT_FOUND', 'That course does not exist.');
  const { course, enrollment } = locked;
  if (!locked.termOpen) {
    throw portalError(
      'TERM_CLOSED',
      `${closedWhat} ${course.code} is closed: its term (${course.year}, semester ${course.semester}) is not open for enrollment.`,
    );
  }
  if (enrollment?.status === 'enrolled')
    throw portalError('ALREADY_ENROLLED', `You are already enrolled in ${course.code}.`);
  return locked;
}

/** Refuses a course that clashes with one the student holds (`consequence` ends the message). */
export async function refuseClash(
  deps: EnrollmentDeps,
  trx: Sql,
  courseId: number,
  locked: LockedCourse,
  consequence: string,
): Promise<void> {
  const clash = await schedulesOf(deps).findClash(trx, courseId, locked.otherCourseIds);
  if (clash) {
    throw portalError(
      'TIMETABLE_CLASH',
      `${locked.course.code} clashes with ${clash.code} (${utcMinute(clash.startsAt)} UTC) on your timetable${consequence}.`,
    );
  }
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
    const left = Math.max(0, locked.enrolled - 1);
    if (!locked.hasWaitlist) {
      await markDropped(committing(trx), enrollment.id, courseId, now);
      return { code: course.code, title: course.title, seatsTaken: left };
    }
    await markDropped(trx, enrollment.id, courseId, now);
    const seated = await seatFromWaitlist(deps, trx, courseId, course.capacity - left, now);
    return { code: course.code, title: course.title, seatsTaken: left + seated };
  });
}

/** How many students of a waitlist are looked at per read, while seats are left to give. */
const LINE_SLICE = 20;

/**
 * Gives up to `seats` free seats of a course to the students in its waitlist, in line order,
 * inside the transaction that freed them and under the course's row lock (so the seat is never
 * up for grabs between the drop and the waiting student's enroll). A student whose timetable
 * now clashes with the course keeps their place and the seat goes to the next one. Returns the
 * seats given.
 */
async function seatFromWaitlist(
  deps: EnrollmentDeps,
  trx: Sql,
  courseId: number,
  seats: number,
  now: Date,
): Promise<number> {
  let given = 0;
  let skipped = 0;
  while (given < seats) {
    const line = await firstInLine(trx, courseId, skipped + LINE_SLICE);
    const waiting = line.slice(skipped);
    if (waiting.length === 0) break;
    for (const entry of waiting) {
      if (given === seats) break;
      const held = await listEnrolledCourseIds(trx, entry.studentId, courseId);
      if (await schedulesOf(deps).findClash(trx, courseId, held)) {
        skipped++;
        continue;
      }
      if (!(await deleteWaitlistEntryById(trx, entry.id))) continue; // gone meanwhile (a write outside the portal: leaving takes this lock too)
      const enrollment = await findEnrollmentForUpdate(trx, entry.studentId, courseId);
      if (enrollment?.status === 'enrolled') continue; // enrolled outside the portal: the line was stale
      if (enrollment) await markEnrolled(trx, enrollment.id, courseId, now);
      else {
        await insertEnrollment(trx, entry.studentId, courseId, now);
        await addSeatsTaken(trx, courseId, 1);
      }
      given++;
    }
  }
  return given;
}

/**
 * After staff raised a course's capacity: the new seats go to its waitlist first (while its
 * term is open for enrollment). Returns the seats given.
 */
export async function seatWaitlistedStudents(deps: EnrollmentDeps, courseId: number): Promise<number> {
  return transactionsOf(deps).run(async (trx) => {
    const now = deps.now();
    const locked = await lockCourseForStudent(trx, courseId, 0, isoDate(now), 'drop');
    if (!locked?.termOpen || !locked.hasWaitlist) return 0;
    const free = locked.course.capacity - locked.enrolled;
    return free > 0 ? seatFromWaitlist(deps, trx, courseId, free, now) : 0;
  });
}
