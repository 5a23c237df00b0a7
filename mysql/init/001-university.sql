-- campus-sync: the university data model (MySQL 8 and MariaDB 10.11 both accept this file).
-- Used by the docker init (/docker-entrypoint-initdb.d) and by `npm run db:migrate` / the tests,
-- so every statement is idempotent (IF NOT EXISTS).

CREATE TABLE IF NOT EXISTS universities (
  id            INT UNSIGNED NOT NULL AUTO_INCREMENT,
  name          VARCHAR(200) NOT NULL,
  short_name    VARCHAR(32)  NOT NULL,
  city          VARCHAR(100) NOT NULL,
  founded_year  YEAR         NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_universities_short_name (short_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS institutes (
  id             INT UNSIGNED NOT NULL AUTO_INCREMENT,
  university_id  INT UNSIGNED NOT NULL,
  name           VARCHAR(200) NOT NULL,
  PRIMARY KEY (id),
  KEY ix_institutes_university (university_id),
  CONSTRAINT fk_institutes_university FOREIGN KEY (university_id) REFERENCES universities (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS departments (
  id            INT UNSIGNED NOT NULL AUTO_INCREMENT,
  institute_id  INT UNSIGNED NOT NULL,
  name          VARCHAR(200) NOT NULL,
  PRIMARY KEY (id),
  KEY ix_departments_institute (institute_id),
  CONSTRAINT fk_departments_institute FOREIGN KEY (institute_id) REFERENCES institutes (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS specialties (
  id             INT UNSIGNED NOT NULL AUTO_INCREMENT,
  department_id  INT UNSIGNED NOT NULL,
  code           VARCHAR(16)  NOT NULL,
  name           VARCHAR(200) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_specialties_code (code),
  KEY ix_specialties_department (department_id),
  CONSTRAINT fk_specialties_department FOREIGN KEY (department_id) REFERENCES departments (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS student_groups (
  id             INT UNSIGNED NOT NULL AUTO_INCREMENT,
  specialty_id   INT UNSIGNED NOT NULL,
  name           VARCHAR(32)  NOT NULL,
  year_of_study  TINYINT UNSIGNED NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_student_groups_name (name),
  KEY ix_student_groups_specialty (specialty_id),
  CONSTRAINT fk_student_groups_specialty FOREIGN KEY (specialty_id) REFERENCES specialties (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS students (
  id              INT UNSIGNED NOT NULL AUTO_INCREMENT,
  group_id        INT UNSIGNED NOT NULL,
  student_number  CHAR(10)     NOT NULL,
  first_name      VARCHAR(100) NOT NULL,
  last_name       VARCHAR(100) NOT NULL,
  email           VARCHAR(254) NOT NULL,
  enrolled_on     DATE         NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_students_number (student_number),
  UNIQUE KEY uq_students_email (email),
  KEY ix_students_group (group_id),
  KEY ix_students_name (last_name, first_name),
  CONSTRAINT fk_students_group FOREIGN KEY (group_id) REFERENCES student_groups (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A term is open for enrollment between enrollment_opens and enrollment_closes (inclusive dates).
CREATE TABLE IF NOT EXISTS terms (
  id                 INT UNSIGNED NOT NULL AUTO_INCREMENT,
  year               SMALLINT UNSIGNED NOT NULL,
  semester           TINYINT UNSIGNED  NOT NULL,
  starts_on          DATE NOT NULL,
  ends_on            DATE NOT NULL,
  enrollment_opens   DATE NOT NULL,
  enrollment_closes  DATE NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_terms_year_semester (year, semester),
  CONSTRAINT ck_terms_semester CHECK (semester IN (1, 2))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS courses (
  id                  INT UNSIGNED NOT NULL AUTO_INCREMENT,
  department_id       INT UNSIGNED NOT NULL,
  code                VARCHAR(16)  NOT NULL,
  title               VARCHAR(200) NOT NULL,
  description         TEXT         NULL,
  credits             DECIMAL(4,1) NOT NULL,
  year                SMALLINT UNSIGNED NOT NULL,
  semester            TINYINT UNSIGNED  NOT NULL,
  capacity            INT UNSIGNED NOT NULL,
  required_equipment  SET('projector','whiteboard','computers','lab_bench','audio','smartboard') NOT NULL DEFAULT '',
  created_at          TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (id),
  UNIQUE KEY uq_courses_code_term (code, year, semester),
  KEY ix_courses_term_department (year, semester, department_id),
  KEY ix_courses_department (department_id),
  KEY ix_courses_title (title),
  CONSTRAINT fk_courses_department FOREIGN KEY (department_id) REFERENCES departments (id),
  CONSTRAINT ck_courses_semester CHECK (semester IN (1, 2))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS lectures (
  id         INT UNSIGNED NOT NULL AUTO_INCREMENT,
  course_id  INT UNSIGNED NOT NULL,
  number     SMALLINT UNSIGNED NOT NULL,
  title      VARCHAR(200) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_lectures_course_number (course_id, number),
  CONSTRAINT fk_lectures_course FOREIGN KEY (course_id) REFERENCES courses (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS lecture_materials (
  id          INT UNSIGNED NOT NULL AUTO_INCREMENT,
  lecture_id  INT UNSIGNED NOT NULL,
  title       VARCHAR(200) NOT NULL,
  body        MEDIUMTEXT   NOT NULL,
  PRIMARY KEY (id),
  KEY ix_lecture_materials_lecture (lecture_id),
  CONSTRAINT fk_lecture_materials_lecture FOREIGN KEY (lecture_id) REFERENCES lectures (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS classrooms (
  id         INT UNSIGNED NOT NULL AUTO_INCREMENT,
  building   VARCHAR(32) NOT NULL,
  number     VARCHAR(16) NOT NULL,
  capacity   INT UNSIGNED NOT NULL,
  equipment  SET('projector','whiteboard','computers','lab_bench','audio','smartboard') NOT NULL DEFAULT '',
  PRIMARY KEY (id),
  UNIQUE KEY uq_classrooms_building_number (building, number)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per (lecture occurrence, group): a lecture given to several groups at once in one
-- classroom has one row per group with the same time and classroom.
CREATE TABLE IF NOT EXISTS schedule (
  id            INT UNSIGNED NOT NULL AUTO_INCREMENT,
  lecture_id    INT UNSIGNED NOT NULL,
  group_id      INT UNSIGNED NOT NULL,
  classroom_id  INT UNSIGNED NOT NULL,
  starts_at     DATETIME NOT NULL,
  ends_at       DATETIME NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_schedule_lecture_group (lecture_id, group_id),
  KEY ix_schedule_group_time (group_id, starts_at),
  KEY ix_schedule_classroom_time (classroom_id, starts_at),
  CONSTRAINT fk_schedule_lecture FOREIGN KEY (lecture_id) REFERENCES lectures (id),
  CONSTRAINT fk_schedule_group FOREIGN KEY (group_id) REFERENCES student_groups (id),
  CONSTRAINT fk_schedule_classroom FOREIGN KEY (classroom_id) REFERENCES classrooms (id),
  CONSTRAINT ck_schedule_times CHECK (ends_at > starts_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS attendance (
  schedule_id  INT UNSIGNED NOT NULL,
  student_id   INT UNSIGNED NOT NULL,
  attended     TINYINT(1)   NOT NULL,
  marked_at    TIMESTAMP    NULL DEFAULT NULL,
  PRIMARY KEY (schedule_id, student_id),
  KEY ix_attendance_student (student_id),
  CONSTRAINT fk_attendance_schedule FOREIGN KEY (schedule_id) REFERENCES schedule (id),
  CONSTRAINT fk_attendance_student FOREIGN KEY (student_id) REFERENCES students (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Drop keeps the row (status = 'dropped', dropped_at set); enrolling again flips it back.
CREATE TABLE IF NOT EXISTS enrollments (
  id           INT UNSIGNED NOT NULL AUTO_INCREMENT,
  student_id   INT UNSIGNED NOT NULL,
  course_id    INT UNSIGNED NOT NULL,
  status       ENUM('enrolled','dropped') NOT NULL DEFAULT 'enrolled',
  enrolled_at  DATETIME(3) NOT NULL,
  dropped_at   DATETIME(3) NULL DEFAULT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_enrollments_student_course (student_id, course_id),
  KEY ix_enrollments_course_status (course_id, status),
  CONSTRAINT fk_enrollments_student FOREIGN KEY (student_id) REFERENCES students (id),
  CONSTRAINT fk_enrollments_course FOREIGN KEY (course_id) REFERENCES courses (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS accounts (
  id             INT UNSIGNED NOT NULL AUTO_INCREMENT,
  username       VARCHAR(64)  NOT NULL,
  password_hash  VARCHAR(100) NOT NULL,
  role           ENUM('student','staff','operator') NOT NULL,
  student_id     INT UNSIGNED NULL,
  created_at     TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (id),
  UNIQUE KEY uq_accounts_username (username),
  UNIQUE KEY uq_accounts_student (student_id),
  CONSTRAINT fk_accounts_student FOREIGN KEY (student_id) REFERENCES students (id),
  CONSTRAINT ck_accounts_student_role CHECK ((role = 'student') = (student_id IS NOT NULL))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
