#!/bin/sh
# Docker init only: the CDC daemon's SELECT-only account. Its password comes from the
# environment (CDC_MYSQL_PASSWORD in .env); there is no default.
set -eu
: "${CDC_MYSQL_PASSWORD:?CDC_MYSQL_PASSWORD must be set for the cdc_reader account}"
mysql -uroot -p"$MYSQL_ROOT_PASSWORD" <<SQL
CREATE USER IF NOT EXISTS 'cdc_reader'@'%' IDENTIFIED BY '${CDC_MYSQL_PASSWORD}';
GRANT SELECT ON \`${MYSQL_DATABASE}\`.* TO 'cdc_reader'@'%';
FLUSH PRIVILEGES;
SQL
