import { portalError } from '../errors';
import { lockCourseForStudent } from '../repositories/courses-repository';
import { deleteWaitlistEntry, insertWaitlistEntry, waitlistPlace } from '../repositories/waitlist-repository';
import { type EnrollmentDeps, isoDate, lockToTake, refuseClash, transactionsOf } from './enrollment';

/** What joining or leaving a waitlist changed: the course, and the student's place once it commits. */
export interface WaitlistChange {
  code: string;
  title: string;
  position?: number;
}

/**
 * Puts a student in a full course's waitlist, under the course's row lock (the lock enroll and
 * drop take, so a seat freed meanwhile is either theirs to enroll in or given to the line they
 * joined). Refused like an enroll when the term is closed, the student holds the course or it
 * clashes with their timetable (the seat could never be given to them), and when seats are left.
 */
export async function joinWaitlist(deps: EnrollmentDeps, studentId: number, courseId: number): Promise<WaitlistChange> {
  return transactionsOf(deps).run(async (trx) => {
    const now = deps.now();
    const locked = await lockToTake(trx, studentId, courseId, now, 'The waitlist for');
    const { course } = locked;
    if (locked.waitlistEntryId !== undefined) {
      const { position } = await waitlistPlace(trx, studentId, courseId);
      throw portalError(
        'ALREADY_WAITLISTED',
        `You are already on the waitlist for ${course.code}${position ? ` (number ${position} in line)` : ''}.`,
      );
    }
    if (locked.enrolled < course.capacity) {
      throw portalError('SEATS_LEFT', `${course.code} has seats left: enroll instead of joining its waitlist.`);
    }
    await refuseClash(deps, trx, courseId, locked, ': a seat could not be given to you');
    await insertWaitlistEntry(trx, studentId, courseId, now);
    const { position } = await waitlistPlace(trx, studentId, courseId);
    return { code: course.code, title: course.title, position };
  });
}

/** Takes a student out of a course's waitlist. */
export async function leaveWaitlist(
  deps: EnrollmentDeps,
  studentId: number,
  courseId: number,
): Promise<WaitlistChange> {
  return transactionsOf(deps).run(async (trx) => {
    // The course's lock (no seat is given from the line meanwhile); a drop's statement, which
    // leaves out the student's other courses that only a clash check needs.
    const locked = await lockCourseForStudent(trx, courseId, studentId, isoDate(deps.now()), 'drop');
    if (!locked) throw portalError('NOT_FOUND', 'That course does not exist.');
    const { course } = locked;
    if (!(await deleteWaitlistEntry(trx, studentId, courseId))) {
      throw portalError(
        'NOT_WAITLISTED',
        locked.enrollment?.status === 'enrolled'
          ? `You are not on the waitlist for ${course.code}: you are enrolled in it.`
          : `You are not on the waitlist for ${course.code}.`,
      );
    }
    return { code: course.code, title: course.title };
  });
}
