#!/bin/sh
# Docker init only: the CDC daemon's SELECT-only account, granted what it mirrors and nothing
# more: SELECT on every table of the database except the portal's housekeeping (sessions,
# schema_migrations, course_seats), and on `accounts` every column except `password_hash`
# (MySQL column privileges; the daemon leaves the column out by default too). Runs after the
# schema files, so the grants cover the tables they create; a table added later needs its own
#   GRANT SELECT ON campus.<table> TO 'cdc_reader'@'%';
# The password comes from the environment (CDC_MYSQL_PASSWORD in .env); there is no default.
set -eu
: "${CDC_MYSQL_PASSWORD:?CDC_MYSQL_PASSWORD must be set for the cdc_reader account}"
: "${MYSQL_DATABASE:?MYSQL_DATABASE must be set}"
READER="${CDC_MYSQL_USER:-cdc_reader}"
root() { mysql -uroot ${MYSQL_ROOT_PASSWORD:+-p"$MYSQL_ROOT_PASSWORD"} "$@"; }

root -e "CREATE USER IF NOT EXISTS '${READER}'@'%' IDENTIFIED BY '${CDC_MYSQL_PASSWORD}'"
# The GRANT statements are generated from information_schema (CHAR(96) is the backtick).
root -N -B "$MYSQL_DATABASE" <<SQL | root "$MYSQL_DATABASE"
SET @who = CONCAT(QUOTE('${READER}'), '@''%''');
SET @db = CONCAT(CHAR(96), DATABASE(), CHAR(96));
SELECT CONCAT('GRANT SELECT ON ', @db, '.', CHAR(96), TABLE_NAME, CHAR(96), ' TO ', @who, ';')
  FROM information_schema.TABLES
 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'
   AND TABLE_NAME NOT IN ('accounts', 'sessions', 'schema_migrations', 'course_seats');
SELECT CONCAT('GRANT SELECT (', GROUP_CONCAT(CHAR(96), COLUMN_NAME, CHAR(96) ORDER BY ORDINAL_POSITION), ') ON ', @db, '.accounts TO ', @who, ';')
  FROM information_schema.COLUMNS
 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'accounts' AND COLUMN_NAME <> 'password_hash'
HAVING COUNT(*) > 0;
SQL
root -e "FLUSH PRIVILEGES"
