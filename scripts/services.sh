#!/usr/bin/env bash
# The servers the tests and `npm start` need on a machine without Docker: MariaDB, PostgreSQL
# and Redis from Debian's packages (plus docker-compose, which validates docker-compose.yml, and
# Chromium for the browser tests). Used by .ci/run and by developers alike.
#
#   scripts/services.sh up      install what is missing, start what is stopped, print TEST_* lines
#   scripts/services.sh status  say what answers
#   scripts/services.sh down    stop the three servers
#
# `up` prints `export TEST_MYSQL_URL=...` / `TEST_POSTGRES_URL=...` lines when the fresh servers
# need a test account (a fresh MariaDB takes root over the socket only; a fresh PostgreSQL wants a
# password over TCP), so a shell can `eval "$(scripts/services.sh up)"`. Everything else goes to
# stderr.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
say() { echo "services: $*" >&2; }

install_missing() {
  local need=()
  [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server mariadb-client)
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
  command -v redis-server >/dev/null || need+=(redis-server)
  command -v docker-compose >/dev/null || need+=(docker-compose)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  # npm run stores -- fetch: unpacks Elasticsearch, builds with Maven, a JDK and Go.
  command -v unzip >/dev/null || need+=(unzip)
  command -v mvn >/dev/null || need+=(maven)
  command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
  command -v go >/dev/null || need+=(golang)
  if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    apt-get update -qq >&2
    apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

wait_for() { # name, command...
  local name=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  say "$name did not come up"; return 1
}

mariadb_up() { mariadb-admin --protocol=socket ping >/dev/null 2>&1; }
postgres_up() { pg_isready -h 127.0.0.1 -q 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; }
pg_cluster() { ls /etc/postgresql | sort -V | tail -n1; }

# Production-like PostgreSQL settings (the compose file passes the same): Debian's 128 MB of
# shared buffers made the backends write dirty pages themselves while a cycle closed 46,000 history
# versions (3.4 s; 1.0 s with 2 GB), and 1 GB of WAL checkpointed several times per load.
postgres_conf() {
  local conf
  conf="/etc/postgresql/$(pg_cluster)/main/conf.d/campus-sync.conf"
  [ -d "$(dirname "$conf")" ] || return 0
  cat >"$conf.new" <<'CONF'
shared_buffers = 2GB
max_wal_size = 8GB
checkpoint_timeout = 15min
random_page_cost = 1.1
CONF
  if cmp -s "$conf.new" "$conf"; then rm -f "$conf.new"; return 0; fi
  mv "$conf.new" "$conf"
  # A server already running takes the reloadable ones now, shared_buffers at its next start.
  postgres_up && su postgres -c "psql -q -c 'SELECT pg_reload_conf()'" >/dev/null 2>&1 || true
}

up() {
  install_missing
  # Without systemd nothing creates the servers' runtime directories after a fresh install.
  install -d -o mysql -g mysql /run/mysqld 2>/dev/null || true
  install -d -o mysql -g mysql -m 700 /var/lib/mysql-tmp
  install -d -o postgres -g postgres /var/run/postgresql 2>/dev/null || true
  # A production-like buffer pool (Debian's default is 128 MB, smaller than a 100,000-student
  # university's working set, so every full sweep of the daemon would evict the portal's pages).
  # Room for the definitions of every test's tables: the suites create databases of 15-20 tables
  # each, three at a time, and a definition evicted from MariaDB's 400 can make a prepared
  # statement fail with error 1615 (MDEV-17124; suspected in one CI failure, not reproduced).
  # Temporary tables in a folder of its own: any MariaDB starting on the machine deletes the
  # `#sql*` files it may in its tmpdir, so in /tmp a test's private server took this one's live
  # ones (a CI run failed on it; test/private-servers.db.test.ts).
  mariadb_up || start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql \
    --innodb-buffer-pool-size=2G --table-definition-cache=4096 --tmpdir=/var/lib/mysql-tmp
  postgres_conf
  postgres_up || pg_ctlcluster --skip-systemctl-redirect "$(pg_cluster)" main start >&2
  redis_up || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >&2
  wait_for MariaDB mariadb_up
  wait_for PostgreSQL postgres_up
  wait_for Redis redis_up
  # A server started before this script knew better gets the pool too (resized online).
  mariadb --protocol=socket -e 'SET GLOBAL innodb_buffer_pool_size = GREATEST(@@innodb_buffer_pool_size, 2147483648)' >&2 || true
  mariadb --protocol=socket -e 'SET GLOBAL table_definition_cache = GREATEST(@@table_definition_cache, 4096)' >&2 || true

  # Test accounts where root/postgres are not usable over TCP without a password.
  if ! mariadb -h127.0.0.1 -uroot -e 'SELECT 1' >/dev/null 2>&1; then
    mariadb --protocol=socket -e "CREATE USER IF NOT EXISTS 'campus_ci'@'127.0.0.1' IDENTIFIED BY 'campus_ci'; GRANT ALL ON *.* TO 'campus_ci'@'127.0.0.1' WITH GRANT OPTION;"
    echo "export TEST_MYSQL_URL='mysql://campus_ci:campus_ci@127.0.0.1:3306/'"
  fi
  if ! psql -h 127.0.0.1 -U postgres -c 'SELECT 1' postgres >/dev/null 2>&1; then
    if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -c 'SELECT 1' postgres >/dev/null 2>&1; then
      su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >&2
    fi
    echo "export TEST_POSTGRES_URL='postgres://postgres:postgres@127.0.0.1:5432/postgres'"
  fi
  say "MariaDB, PostgreSQL and Redis are up"
}

status() {
  local rc=0
  if mariadb_up; then say "MariaDB: up"; else say "MariaDB: down"; rc=1; fi
  if postgres_up; then say "PostgreSQL: up"; else say "PostgreSQL: down"; rc=1; fi
  if redis_up; then say "Redis: up"; else say "Redis: down"; rc=1; fi
  return $rc
}

down() {
  redis_up && redis-cli -h 127.0.0.1 shutdown nosave >/dev/null 2>&1 || true
  postgres_up && pg_ctlcluster --skip-systemctl-redirect "$(pg_cluster)" main stop >&2 || true
  mariadb_up && mariadb-admin --protocol=socket shutdown >&2 || true
  say "stopped"
}

case "${1:-}" in
  up) up ;;
  status) status ;;
  down) down ;;
  *) echo "usage: scripts/services.sh up|status|down" >&2; exit 2 ;;
esac
