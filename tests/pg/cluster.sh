#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests, from Debian's postgresql-15.
#
#   tests/pg/cluster.sh start   initdb + start (replacing any left by a run
#                               that died), create the test database and
#                               roles, print the URL
#   tests/pg/cluster.sh url     print the URL of the running cluster
#   tests/pg/cluster.sh psql [ARGS…]   psql on the test database as the owner
#                               (-U USER and -d DB choose others)
#   tests/pg/cluster.sh stop    stop it and remove everything
#   tests/pg/cluster.sh status  exit 0 when it runs
#
# Only a Unix socket, no TCP: listen_addresses is empty. The data directory
# and the socket live in one temporary directory, recorded in
# $STEPDOWN_PG_STATE (default target/pg-cluster.state beside this checkout),
# so stop finds what start made. Fast, unsafe settings (fsync=off): for
# tests only, never for a store anyone relies on.
#
# The server runs as the `postgres` OS user (initdb refuses root); run as
# root, as CI does, it is started through runuser. As another user it runs
# as that user.
#
# Roles made (a throwaway cluster):
#   stepdown_test_owner  LOGIN CREATEDB CREATEROLE, owns stepdown_test; runs
#                        the migrations and the store tests
#   stepdown_pharmacist, stepdown_admin   the group roles of migration 2
#   seat_alice, seat_bob   LOGIN, pharmacists;  seat_admin LOGIN, admin
# Every role signs in without a password (trust) on stepdown_test, and with
# its password, ROLE-test-password (scram), on stepdown_signin, the
# database of the desktop's sign-in tests (same roles, no store made).
# The URL is for stepdown_test_owner on stepdown_test, e.g.
#   postgresql:///stepdown_test?host=/tmp/stepdown-pg.X/sock&port=5432&user=stepdown_test_owner
# (the form the `postgres` crate and libpq accept for a socket directory).
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
STATE=${STEPDOWN_PG_STATE:-$root/target/pg-cluster.state}
DB=stepdown_test
# Where roles sign in with a password (the desktop's sign-in tests): the
# same roles, each with the password ROLE-test-password.
SIGNIN_DB=stepdown_signin
PASSWORD_SUFFIX=-test-password
OWNER=stepdown_test_owner
PORT=${STEPDOWN_PG_PORT:-5432}   # with no TCP, only names the socket file

die() { echo "cluster.sh: $*" >&2; exit 1; }

as_server() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

state_dir() { [ -f "$STATE" ] && cat "$STATE" || true; }

url_of() {
  local dir=$1
  printf 'postgresql:///%s?host=%s&port=%s&user=%s\n' "$DB" "$dir/sock" "$PORT" "$OWNER"
}

running() {
  local dir; dir=$(state_dir)
  [ -n "$dir" ] && [ -f "$dir/data/postmaster.pid" ] \
    && as_server "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

stop() {
  local dir; dir=$(state_dir)
  if [ -n "$dir" ] && [ -d "$dir" ]; then
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_server "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    case "$dir" in
      */stepdown-pg.*) rm -rf -- "$dir" ;;
      *) die "refusing to remove $dir (not a directory this script made)" ;;
    esac
  fi
  rm -f -- "$STATE"
}

psql_as() {
  local user=$1; shift
  local dir; dir=$(state_dir)
  "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$PORT" -U "$user" "$@"
}

start() {
  [ -x "$PGBIN/initdb" ] || die "$PGBIN/initdb not found: install Debian's postgresql-15 (make setup)"
  # Whatever a previous run left (it may have died): stopped and removed.
  stop
  mkdir -p "$(dirname "$STATE")"
  local dir
  # /tmp, not $TMPDIR: run as root, the server's user must reach the folder.
  dir=$(mktemp -d "${STEPDOWN_PG_TMP:-/tmp}/stepdown-pg.XXXXXX")
  echo "$dir" >"$STATE"
  mkdir -p "$dir/sock"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "no postgres OS user (the postgresql package creates it)"
    chown -R postgres: "$dir"
  fi
  chmod 700 "$dir"
  # The postgres user must reach the directory through its parents.
  as_server test -w "$dir/sock" || die "$dir is not writable by the server's user"
  as_server "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  # Password sign-in (scram) on the sign-in test database only, for every
  # role but the superuser that sets up; trust elsewhere.
  as_server sh -c "printf 'local all postgres trust\nlocal %s all scram-sha-256\nlocal all all trust\n' '$SIGNIN_DB' >'$dir/data/pg_hba.conf'"
  as_server "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses='' -c unix_socket_directories='$dir/sock' -p $PORT \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
        -c max_connections=200 -c shared_buffers=64MB" \
    start >/dev/null || { cat "$dir/server.log" >&2; die "the server did not start"; }
  # Anyone may use the socket (the tests run as root or the developer).
  chmod 755 "$dir"
  psql_as postgres -d postgres <<SQL
CREATE ROLE $OWNER LOGIN CREATEDB CREATEROLE;
CREATE DATABASE $DB OWNER $OWNER ENCODING 'UTF8' TEMPLATE template0;
CREATE ROLE stepdown_pharmacist NOLOGIN;
CREATE ROLE stepdown_admin NOLOGIN;
GRANT stepdown_pharmacist, stepdown_admin TO $OWNER WITH ADMIN OPTION;
-- As migration 2 would, made here so that tests migrating new schemas in
-- parallel do not race to grant it (one is refused as a duplicate).
GRANT stepdown_pharmacist TO stepdown_admin;
CREATE ROLE seat_alice LOGIN IN ROLE stepdown_pharmacist;
CREATE ROLE seat_bob LOGIN IN ROLE stepdown_pharmacist;
CREATE ROLE seat_admin LOGIN IN ROLE stepdown_admin, stepdown_pharmacist;
CREATE DATABASE $SIGNIN_DB OWNER $OWNER ENCODING 'UTF8' TEMPLATE template0;
ALTER ROLE $OWNER PASSWORD '$OWNER$PASSWORD_SUFFIX';
ALTER ROLE seat_alice PASSWORD 'seat_alice$PASSWORD_SUFFIX';
ALTER ROLE seat_bob PASSWORD 'seat_bob$PASSWORD_SUFFIX';
ALTER ROLE seat_admin PASSWORD 'seat_admin$PASSWORD_SUFFIX';
SQL
  # PostgreSQL 15 no longer lets everyone create in schema public; the owner
  # of the database owns its public schema.
  psql_as postgres -d "$DB" -c "ALTER SCHEMA public OWNER TO $OWNER"
  psql_as postgres -d "$SIGNIN_DB" -c "ALTER SCHEMA public OWNER TO $OWNER"
  url_of "$dir"
}

cmd=${1:-}
shift || true
case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) running ;;
  url)
    running || die "no cluster running (tests/pg/cluster.sh start)"
    url_of "$(state_dir)"
    ;;
  psql)
    running || die "no cluster running (tests/pg/cluster.sh start)"
    user=$OWNER
    db=$DB
    args=()
    while [ $# -gt 0 ]; do
      case "$1" in
        -U) user=$2; shift 2 ;;
        -d) db=$2; shift 2 ;;
        *) args+=("$1"); shift ;;
      esac
    done
    psql_as "$user" -d "$db" "${args[@]}"
    ;;
  *) die "usage: cluster.sh start|stop|url|psql [ARGS…]|status" ;;
esac
