#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests, from Debian's postgresql-15.
#
#   tests/pg/cluster.sh start   initdb + start (replacing any left by a run
#                               that died), create the test database and
#                               roles, print the URL
#   tests/pg/cluster.sh url     print the URL of the running cluster
#   tests/pg/cluster.sh psql [ARGS…]   psql on the test database as the owner
#                               (-U USER and -d DB choose others)
#   tests/pg/cluster.sh tls-dir print the TLS folder (below), if any
#   tests/pg/cluster.sh stop    stop it and remove everything
#   tests/pg/cluster.sh status  exit 0 when it runs
#
# A Unix socket for the tests, and, to test TLS against a real server, a
# TCP listener on 127.0.0.1 only, on a free port, that accepts nothing but
# TLS with a password (pg_hba: hostssl, scram-sha-256; hostnossl rejected).
# Its certificates are made by Debian's openssl at start, throwaway, in
# DIR/tls: ca.pem (the CA that signed the server's certificate, whose only
# name is DNS:localhost), other-ca.pem (a CA that signed nothing), and
# `password` (the owner's, for TCP sign-ins only; the socket is trust).
# STEPDOWN_PG_TLS=0, or no openssl, leaves the socket alone (no TCP).
# The data directory, socket and certificates live in one temporary
# directory, recorded in $STEPDOWN_PG_STATE (default
# target/pg-cluster.state beside this checkout), so stop finds what start
# made. Fast, unsafe settings (fsync=off): for tests only, never for a
# store anyone relies on.
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
# On the socket every role signs in without a password (trust) on
# stepdown_test; on stepdown_signin, the database of the desktop's sign-in
# tests (same roles, no store made), the seats sign in with their passwords,
# SEAT-test-password (scram), and the owner still by trust.
# The URL is for stepdown_test_owner on stepdown_test, e.g.
#   postgresql:///stepdown_test?host=/tmp/stepdown-pg.X/sock&port=5432&user=stepdown_test_owner
# (the form the `postgres` crate and libpq accept for a socket directory).
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
STATE=${STEPDOWN_PG_STATE:-$root/target/pg-cluster.state}
DB=stepdown_test
# Where seats sign in with a password (the desktop's sign-in tests), each
# SEAT-test-password.
SIGNIN_DB=stepdown_signin
PASSWORD_SUFFIX=-test-password
OWNER=stepdown_test_owner
# Without TCP the port only names the socket file; with TCP it is the
# listener's too, a free one chosen at start (recorded in DIR/port).
PORT=${STEPDOWN_PG_PORT:-5432}

die() { echo "cluster.sh: $*" >&2; exit 1; }

as_server() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

state_dir() { [ -f "$STATE" ] && cat "$STATE" || true; }

port_of() { cat "$1/port" 2>/dev/null || echo "$PORT"; }

url_of() {
  local dir=$1
  printf 'postgresql:///%s?host=%s&port=%s&user=%s\n' "$DB" "$dir/sock" "$(port_of "$dir")" "$OWNER"
}

# A port nothing listens on, from the dynamic range (the server's bind is
# the real test: start retries on another when it loses a race).
free_port() {
  local p
  for p in $(shuf -i 20000-60999 -n 50); do
    ss -Htln "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
  done
  die "no free TCP port found"
}

# The throwaway CA, the server's certificate (SAN DNS:localhost only, so
# 127.0.0.1 fails verify-full) and a second CA that signed nothing.
make_tls() {
  local t=$1
  mkdir -p "$t"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  {
    openssl req -x509 "${ec[@]}" -keyout "$t/ca.key" -out "$t/ca.pem" -days 2 \
      -subj "/CN=Stepdown throwaway test CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -x509 "${ec[@]}" -keyout "$t/other-ca.key" -out "$t/other-ca.pem" -days 2 \
      -subj "/CN=Stepdown other test CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    # No CN: a name checked could only come from the SAN.
    openssl req -new "${ec[@]}" -keyout "$t/server.key" -out "$t/server.csr" \
      -subj "/O=Stepdown test server"
    printf '%s\n' 'subjectAltName=DNS:localhost' 'basicConstraints=critical,CA:FALSE' \
      'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' >"$t/server.ext"
    openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" \
      -set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile "$t/server.ext" -out "$t/server.crt"
  } >"$t/openssl.log" 2>&1 || { cat "$t/openssl.log" >&2; die "openssl could not make the test certificates"; }
  openssl rand -hex 16 >"$t/password"
  chmod 600 "$t/server.key" "$t/ca.key" "$t/other-ca.key"
  chmod 600 "$t/password"
  chmod 644 "$t/ca.pem" "$t/other-ca.pem" "$t/server.crt"
}

tls_wanted() {
  [ "${STEPDOWN_PG_TLS:-1}" != 0 ] && command -v openssl >/dev/null && command -v ss >/dev/null
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
  "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$(port_of "$dir")" -U "$user" "$@"
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
  fi
  local tls=""
  if tls_wanted; then
    make_tls "$dir/tls"
    tls="$dir/tls"
  fi
  if [ "$(id -u)" = 0 ]; then chown -R postgres: "$dir"; fi
  chmod 700 "$dir"
  # The postgres user must reach the directory through its parents.
  as_server test -w "$dir/sock" || die "$dir is not writable by the server's user"
  as_server "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  local net="-c listen_addresses=''"
  # On the socket: trust, but for the seats on the sign-in test database,
  # who sign in with their passwords (scram), as the desktop's sign-in asks.
  printf '%s\n' 'local all postgres trust' \
    "local $SIGNIN_DB $OWNER trust" \
    "local $SIGNIN_DB all scram-sha-256" \
    'local all all trust' >"$dir/data/pg_hba.conf"
  if [ -n "$tls" ]; then
    # TCP only with TLS and a password.
    printf '%s\n' 'hostssl all all 127.0.0.1/32 scram-sha-256' \
      'hostnossl all all 127.0.0.1/32 reject' >>"$dir/data/pg_hba.conf"
    net="-c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file='$tls/server.crt' \
         -c ssl_key_file='$tls/server.key'"
  fi
  local port=$PORT attempt
  for attempt in 1 2 3 4 5; do
    [ -n "$tls" ] && port=$(free_port)
    if as_server "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "$net -c unix_socket_directories='$dir/sock' -p $port \
          -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
          -c max_connections=200 -c shared_buffers=64MB" \
      start >/dev/null; then
      break
    fi
    # Another process took the port between the check and the bind: another.
    if [ -n "$tls" ] && [ "$attempt" -lt 5 ] && grep -q "could not bind\|could not create any TCP" "$dir/server.log"; then
      continue
    fi
    cat "$dir/server.log" >&2
    die "the server did not start"
  done
  echo "$port" >"$dir/port"
  if [ -n "$tls" ]; then echo "$port" >"$tls/port"; fi
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
ALTER ROLE seat_alice PASSWORD 'seat_alice$PASSWORD_SUFFIX';
ALTER ROLE seat_bob PASSWORD 'seat_bob$PASSWORD_SUFFIX';
ALTER ROLE seat_admin PASSWORD 'seat_admin$PASSWORD_SUFFIX';
SQL
  # PostgreSQL 15 no longer lets everyone create in schema public; the owner
  # of the database owns its public schema.
  psql_as postgres -d "$DB" -c "ALTER SCHEMA public OWNER TO $OWNER"
  psql_as postgres -d "$SIGNIN_DB" -c "ALTER SCHEMA public OWNER TO $OWNER"
  if [ -n "$tls" ]; then
    # Read from the file by psql itself, never on a command line.
    psql_as postgres -d postgres >/dev/null <<SQL
\\set pw \`cat '$tls/password'\`
ALTER ROLE $OWNER PASSWORD :'pw';
SQL
  fi
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
  tls-dir)
    running || die "no cluster running (tests/pg/cluster.sh start)"
    [ -f "$(state_dir)/tls/password" ] || die "this cluster has no TLS listener"
    echo "$(state_dir)/tls"
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
  *) die "usage: cluster.sh start|stop|url|tls-dir|psql [ARGS…]|status" ;;
esac
