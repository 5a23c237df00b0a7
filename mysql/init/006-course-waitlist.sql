-- The waitlist of a full course: students in line for a seat, first come first served. When a
-- seat frees up (a drop, or staff raising the capacity) the portal enrolls the first student in
-- line whose timetable has room for the course, in the transaction that freed it and under the
-- course's row lock, and takes them out of the line. Mirrored by the CDC daemon like the
-- university's tables (an analyst's measure of demand per course). Written for both MySQL 8 and
-- MariaDB, and idempotent like the files before it.
CREATE TABLE IF NOT EXISTS course_waitlist (
  id         INT UNSIGNED NOT NULL AUTO_INCREMENT,
  course_id  INT UNSIGNED NOT NULL,
  student_id INT UNSIGNED NOT NULL,
  joined_at  DATETIME(3) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_course_waitlist_course_student (course_id, student_id),
  KEY ix_course_waitlist_student (student_id),
  CONSTRAINT fk_course_waitlist_course FOREIGN KEY (course_id) REFERENCES courses (id) ON DELETE CASCADE,
  CONSTRAINT fk_course_waitlist_student FOREIGN KEY (student_id) REFERENCES students (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
