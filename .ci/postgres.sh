#!/usr/bin/env bash
# Throwaway PostgreSQL + PostGIS server for the test suite (locally and in CI).
#
# CONTRACT
# ========
# Usage:  .ci/postgres.sh [start|stop|destroy|url]        (default: start)
#   start    install missing Debian packages, create the cluster if needed, start it if stopped, make sure the
#            roles and databases below exist; idempotent (running it again only re-checks and prints the URL).
#   stop     stop the server (the cluster stays on disk; `start` brings it back).
#   destroy  stop the server and delete ${PGTEST_DIR} (only if this script created it).
#   url      print the export line of a running server (exit 1 if it is not running).
#
# Input environment (all optional):
#   PGTEST_DIR           cluster home, default /tmp/hh-pg   (data/, sock/, log/, env live below it)
#   PGTEST_PORT          TCP port wanted, default 54329; if taken by another process the next free port
#                        (up to +50) is used and remembered, so later runs without PGTEST_PORT reuse it
#   PGTEST_OWNER_PASSWORD  password of role hh_owner, default hh_owner_test
#   PGTEST_APP_PASSWORD    password of role hh_app,   default hh_app_test
#
# What exists after `start`:
#   * a cluster owned by the OS user `postgres` (when run as root; otherwise by the calling user), listening on
#     127.0.0.1:${port} and on the unix socket ${PGTEST_DIR}/sock (mode 0700: only the cluster owner), with
#     fsync/synchronous_commit/full_page_writes off (fast, NOT crash safe: test data only), UTF8, locale C.UTF-8
#     (code-point order, like SQLite's BINARY collation), TimeZone UTC.
#   * TCP auth: scram-sha-256 for every role; the unix socket accepts only the cluster owner (peer auth).
#   * role hh_owner  LOGIN CREATEDB, not superuser: owns the databases and the schema, runs the migrations, and
#                    creates/drops one database per test session/worker.
#   * role hh_app    LOGIN only: the application's role. It has CONNECT + USAGE on schema public and NOTHING on
#                    tables: the migrations (run as hh_owner) must GRANT what the app needs (the audit table:
#                    INSERT, SELECT only). No default privileges are set, so a missing GRANT fails the tests.
#   * database hh_template  owner hh_owner, extension postgis (3.x) installed by the superuser, IS_TEMPLATE true,
#                    ALLOW_CONNECTIONS false (nobody can connect, so CREATE DATABASE ... TEMPLATE never fails with
#                    "source database is being accessed by other users"). Per-worker databases:
#                        CREATE DATABASE hh_t_gw0 TEMPLATE hh_template;     -- as hh_owner, autocommit
#                        DROP DATABASE IF EXISTS hh_t_gw0 WITH (FORCE);     -- at session end
#   * database hh_test      a copy of hh_template (postgis), owner hh_owner, for ad-hoc use.
#
# Output: progress on stderr; the LAST line of stdout is one shell statement (also written to ${PGTEST_DIR}/env):
#   export HOSPITAL_HOTSPOTS_TEST_PG=postgresql+psycopg://hh_owner:PW@127.0.0.1:PORT/hh_test
#          HOSPITAL_HOTSPOTS_TEST_PG_APP=postgresql+psycopg://hh_app:PW@127.0.0.1:PORT/hh_test
#          HOSPITAL_HOTSPOTS_TEST_PG_TEMPLATE=hh_template
#   (on one line). Use:   eval "$(.ci/postgres.sh | tail -n 1)"     or     . /tmp/hh-pg/env
# Tests replace the database name of these URLs (sqlalchemy.engine.make_url(url).set(database=...)).
#
# Needs: Debian/Ubuntu apt (only if packages are missing), bash, coreutils, util-linux (runuser).
set -euo pipefail

ACTION="${1:-start}"
PGTEST_DIR="${PGTEST_DIR:-/tmp/hh-pg}"
WANT_PORT="${PGTEST_PORT:-54329}"
OWNER_PW="${PGTEST_OWNER_PASSWORD:-hh_owner_test}"
APP_PW="${PGTEST_APP_PASSWORD:-hh_app_test}"
DATA="$PGTEST_DIR/data"
SOCK="$PGTEST_DIR/sock"
LOGF="$PGTEST_DIR/log/postgres.log"
MARK="$PGTEST_DIR/.hh-pg-cluster"
CONF_NAME="hh_test.conf"

say() { echo "[postgres.sh] $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

case "$PGTEST_DIR" in
  /*) ;;
  *) die "PGTEST_DIR must be an absolute path (got '$PGTEST_DIR')" ;;
esac
[[ "$WANT_PORT" =~ ^[0-9]+$ ]] || die "PGTEST_PORT must be a number"

# ---------------------------------------------------------------- who owns the cluster
if [ "$(id -u)" -eq 0 ]; then
  CLUSTER_USER=postgres
else
  CLUSTER_USER="$(id -un)"
fi
as_owner() {
  # Run a command as the cluster owner, from a directory it can read (root's cwd may be closed to it).
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u "$CLUSTER_USER" -- "$@")
  else
    (cd / && "$@")
  fi
}

# ---------------------------------------------------------------- packages
pg_major() {
  # Highest PostgreSQL major version whose server binaries are installed (Debian layout), or empty.
  local d best=""
  for d in /usr/lib/postgresql/*/bin/initdb; do
    [ -x "$d" ] || continue
    d="${d#/usr/lib/postgresql/}"; d="${d%%/*}"
    if [ -z "$best" ] || [ "$d" -gt "$best" ]; then best="$d"; fi
  done
  echo "$best"
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "packages missing ($*) and no apt-get; install PostgreSQL + PostGIS yourself"
  [ "$(id -u)" -eq 0 ] || die "packages missing ($*); run this script as root once to install them"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$APT_UPDATED" -eq 0 ]; then
    say "apt-get update"
    apt-get -o DPkg::Lock::Timeout=900 update -qq
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_packages() {
  local major
  major="$(pg_major)"
  if [ -z "$major" ]; then
    apt_install postgresql postgresql-contrib
    major="$(pg_major)"
    [ -n "$major" ] || die "postgresql installed but no /usr/lib/postgresql/*/bin/initdb found"
  fi
  if [ ! -f "/usr/share/postgresql/$major/extension/postgis.control" ]; then
    apt_install "postgresql-$major-postgis-3"
  fi
  id -u "$CLUSTER_USER" >/dev/null 2>&1 || die "OS user $CLUSTER_USER missing (the postgresql package creates it)"
  PG_MAJOR="$major"
  BIN="/usr/lib/postgresql/$major/bin"
}

# ---------------------------------------------------------------- helpers on the cluster
port_in_use() {
  # True when something accepts TCP connections on 127.0.0.1:$1.
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

conf_port() { sed -n "s/^port = \([0-9]*\).*/\1/p" "$DATA/$CONF_NAME" 2>/dev/null | tail -n 1; }

is_running() { [ -f "$DATA/PG_VERSION" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

psql_su() {
  # psql as the cluster superuser over the unix socket: psql_su DBNAME [psql args...]
  local db="$1"; shift
  as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U "$CLUSTER_USER" -d "$db" "$@"
}

write_conf() {
  cat >"$DATA/$CONF_NAME" <<EOF
# Written by .ci/postgres.sh: a throwaway test server. NOT crash safe.
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCK'
unix_socket_permissions = 0700
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = '4GB'
checkpoint_timeout = '30min'
max_connections = 200
max_locks_per_transaction = 256
shared_buffers = '256MB'
maintenance_work_mem = '256MB'
password_encryption = 'scram-sha-256'
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
log_min_messages = warning
EOF
  chown "$CLUSTER_USER" "$DATA/$CONF_NAME"
}

pick_port() {
  # An explicit PGTEST_PORT first, else the port remembered from an earlier start; then the next free port.
  local p first
  first="$(conf_port || true)"
  [ -z "${PGTEST_PORT:-}" ] || first="$PGTEST_PORT"
  for p in $first $(seq "$WANT_PORT" $((WANT_PORT + 50))); do
    if ! port_in_use "$p"; then PORT="$p"; return 0; fi
  done
  die "no free TCP port in $WANT_PORT..$((WANT_PORT + 50))"
}

init_cluster() {
  if [ -d "$DATA" ] && [ -f "$DATA/PG_VERSION" ] && [ "$(cat "$DATA/PG_VERSION")" != "$PG_MAJOR" ]; then
    [ -f "$MARK" ] || die "$DATA holds a PostgreSQL $(cat "$DATA/PG_VERSION") cluster not made by this script"
    say "cluster in $DATA is version $(cat "$DATA/PG_VERSION"), binaries are $PG_MAJOR: recreating"
    rm -rf "$DATA"
  fi
  if [ -f "$DATA/PG_VERSION" ]; then return 0; fi
  if [ -e "$DATA" ] && [ -n "$(ls -A "$DATA" 2>/dev/null)" ]; then
    [ -f "$MARK" ] || die "$DATA exists, is not empty and was not made by this script"
    rm -rf "$DATA"   # a half-finished initdb of ours
  fi
  mkdir -p "$PGTEST_DIR" "$DATA" "$SOCK" "$(dirname "$LOGF")"
  touch "$MARK"
  chown -R "$CLUSTER_USER" "$PGTEST_DIR"
  chmod 0700 "$DATA" "$SOCK"
  as_owner test -w "$DATA" || die "user $CLUSTER_USER cannot write $DATA (is a parent directory closed to it?)"
  local locale=C.UTF-8
  locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$' || locale=C
  say "initdb $DATA (PostgreSQL $PG_MAJOR, superuser $CLUSTER_USER, locale $locale)"
  as_owner "$BIN/initdb" -D "$DATA" -U "$CLUSTER_USER" --encoding=UTF8 --locale="$locale" \
    --auth-local=peer --auth-host=scram-sha-256 --no-instructions >/dev/null
  # Only the cluster owner on the socket; every role by password on loopback TCP; nothing else.
  cat >"$DATA/pg_hba.conf" <<EOF
# Written by .ci/postgres.sh
# TYPE  DATABASE  USER             ADDRESS         METHOD
local   all       $CLUSTER_USER                    peer
host    all       all              127.0.0.1/32    scram-sha-256
EOF
  chown "$CLUSTER_USER" "$DATA/pg_hba.conf"
  echo "include_if_exists = '$CONF_NAME'" >>"$DATA/postgresql.conf"
}

start_cluster() {
  if is_running; then
    PORT="$(conf_port)"
    [ "$PORT" = "$WANT_PORT" ] || [ -z "${PGTEST_PORT:-}" ] || say "already running on port $PORT (PGTEST_PORT=$WANT_PORT ignored)"
    return 0
  fi
  pick_port
  mkdir -p "$SOCK" "$(dirname "$LOGF")"
  chown "$CLUSTER_USER" "$SOCK" "$(dirname "$LOGF")"
  chmod 0700 "$SOCK"
  write_conf
  say "starting on 127.0.0.1:$PORT (log $LOGF)"
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOGF" -w -t 60 -s start || {
    tail -n 20 "$LOGF" >&2 || true
    die "pg_ctl start failed"
  }
  local i
  for i in $(seq 1 60); do
    if as_owner "$BIN/pg_isready" -q -h "$SOCK" -p "$PORT"; then return 0; fi
    sleep 0.5
  done
  die "server did not become ready in 30 s (log $LOGF)"
}

ensure_objects() {
  # Roles (passwords re-set every run, so a changed PGTEST_*_PASSWORD takes effect).
  psql_su postgres -v owner_pw="$OWNER_PW" -v app_pw="$APP_PW" <<'SQL'
SELECT 'CREATE ROLE hh_owner' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hh_owner') \gexec
SELECT 'CREATE ROLE hh_app' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hh_app') \gexec
ALTER ROLE hh_owner LOGIN CREATEDB NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'owner_pw';
ALTER ROLE hh_app   LOGIN NOCREATEDB NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'app_pw';
-- A template left half-made by an interrupted run (IS_TEMPLATE is set last) is rebuilt.
SELECT 'DROP DATABASE hh_template' FROM pg_database WHERE datname = 'hh_template' AND NOT datistemplate \gexec
SQL
  local have
  have="$(psql_su postgres -tA -c "SELECT count(*) FROM pg_database WHERE datname = 'hh_template'")"
  if [ "$have" = "0" ]; then
    say "creating database hh_template with PostGIS"
    psql_su postgres -c "CREATE DATABASE hh_template OWNER hh_owner TEMPLATE template0 ENCODING 'UTF8'"
    psql_su hh_template <<'SQL'
CREATE EXTENSION IF NOT EXISTS postgis;
-- PG 15 default: public is owned by pg_database_owner (= hh_owner in every copy), PUBLIC may USAGE, not CREATE.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO hh_app;
SQL
    psql_su postgres -c "ALTER DATABASE hh_template WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
  fi
  have="$(psql_su postgres -tA -c "SELECT count(*) FROM pg_database WHERE datname = 'hh_test'")"
  if [ "$have" = "0" ]; then
    say "creating database hh_test from hh_template"
    psql_su postgres -c "CREATE DATABASE hh_test OWNER hh_owner TEMPLATE hh_template"
  fi
}

export_line() {
  local base="postgresql+psycopg://%s:%s@127.0.0.1:$PORT/hh_test"
  # shellcheck disable=SC2059
  printf "export HOSPITAL_HOTSPOTS_TEST_PG=$base HOSPITAL_HOTSPOTS_TEST_PG_APP=$base HOSPITAL_HOTSPOTS_TEST_PG_TEMPLATE=hh_template\n" \
    hh_owner "$OWNER_PW" hh_app "$APP_PW"
}

# ---------------------------------------------------------------- actions
case "$ACTION" in
  start)
    ensure_packages
    init_cluster
    start_cluster
    ensure_objects
    line="$(export_line)"
    printf '%s\n' "$line" >"$PGTEST_DIR/env"
    chmod 0644 "$PGTEST_DIR/env"
    say "ready: PostgreSQL $PG_MAJOR + PostGIS on 127.0.0.1:$PORT, databases hh_template (template) and hh_test"
    printf '%s\n' "$line"
    ;;
  stop)
    PG_MAJOR="$(pg_major)"; BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
    if [ -n "$PG_MAJOR" ] && is_running; then
      as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -s stop
      say "stopped"
    else
      say "not running"
    fi
    ;;
  destroy)
    "$0" stop
    if [ -d "$PGTEST_DIR" ]; then
      [ -f "$MARK" ] || die "$PGTEST_DIR was not made by this script; not deleting it"
      rm -rf "$PGTEST_DIR"
      say "deleted $PGTEST_DIR"
    fi
    ;;
  url)
    PG_MAJOR="$(pg_major)"; BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
    { [ -n "$PG_MAJOR" ] && is_running; } || die "not running (run: $0 start)"
    PORT="$(conf_port)"
    export_line
    ;;
  *)
    die "unknown action '$ACTION' (start|stop|destroy|url)"
    ;;
esac
