-- Registration week: what the portal reads on every page view must not grow with the university.
-- Written for both MySQL 8 and MariaDB, and idempotent (the docker init may have run it before the
-- portal's migrate records it).

-- Seats taken per course, kept by the portal's enroll and drop in the transaction that changes
-- the enrollment, under the course's row lock (the catalogue reads 20 of these rows instead of
-- counting every enrollment of 20 courses). A course without a row is counted and given one by
-- the first enroll or drop under that lock, so new courses and courses written straight into
-- MySQL need nothing.
-- Derived from `enrollments`: portal housekeeping, not mirrored by the CDC daemon by default.
-- `npm run admin -- recount-seats` recounts them after enrollments were written outside the portal.
CREATE TABLE IF NOT EXISTS course_seats (
  course_id INT UNSIGNED NOT NULL,
  enrolled  INT UNSIGNED NOT NULL,
  PRIMARY KEY (course_id),
  CONSTRAINT fk_course_seats_course FOREIGN KEY (course_id) REFERENCES courses (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO course_seats (course_id, enrolled)
SELECT c.id, COUNT(e.id)
  FROM courses c
  LEFT JOIN enrollments e ON e.course_id = c.id AND e.status = 'enrolled'
 GROUP BY c.id
ON DUPLICATE KEY UPDATE enrolled = VALUES(enrolled);

-- A student's timetable and next class look up the week's slots of each lecture of their courses.
SET @add_index = (
  SELECT IF(COUNT(*) = 0,
    'ALTER TABLE schedule ADD INDEX ix_schedule_lecture_time (lecture_id, starts_at)',
    'DO 0')
  FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'schedule' AND index_name = 'ix_schedule_lecture_time');
PREPARE add_index FROM @add_index;
EXECUTE add_index;
DEALLOCATE PREPARE add_index;
