#!/usr/bin/env bash
# Applies every migrations_pg file to a fresh database on the running test
# cluster (tests/pg/cluster.sh start) and runs tests/pg/access_test.sql:
# row-level security by practice, append-only audit log and review versions,
# the role on every audit entry, the chain as Rust computes it.
# Starts (and stops) a cluster of its own when none is running.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cluster="$here/cluster.sh"
DB=stepdown_access_test

if ! "$cluster" status; then
  export STEPDOWN_PG_STATE="$root/target/pg-access-test.state"
  "$cluster" start >/dev/null
  trap '"$cluster" stop' EXIT
fi

# psql on DB as USER (the cluster's socket, no password: a throwaway cluster).
run() { local user=$1; shift; "$cluster" psql -U "$user" "$@"; }

run postgres -d postgres -c "DROP DATABASE IF EXISTS $DB" \
  -c "CREATE DATABASE $DB OWNER stepdown_test_owner TEMPLATE template0 ENCODING 'UTF8'"
run postgres -d "$DB" -c "ALTER SCHEMA public OWNER TO stepdown_test_owner"
for m in "$root"/src/store/migrations_pg/0*.sql; do
  echo "access_test: applying $(basename "$m")"
  run stepdown_test_owner -d "$DB" --single-transaction -f "$m" >/dev/null
done
run stepdown_test_owner -d "$DB" -f "$here/access_test.sql"

# Concurrent appends: two seats, 4 connections each, 100 entries a
# connection, written without id or hash (the server assigns both). The
# chain must come out whole: every entry, in one order, verifying.
echo "== concurrent appends: 2 seats x 4 connections x 100 entries"
before=$(run seat_admin -d "$DB" -Atc "SELECT entries FROM stepdown_audit_verify()")
# (the tampered entry 2 of access_test.sql stays the first broken link)
script=$(mktemp)
cat >"$script" <<'SQL'
INSERT INTO audit_log (at, actor, action, entity, summary)
VALUES (to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'pgbench', 'change', 'store', 'concurrent append');
SQL
dir=$("$cluster" url | sed 's/.*host=\([^&]*\).*/\1/')
port=$("$cluster" url | sed 's/.*port=\([0-9]*\).*/\1/')
chmod 644 "$script"
pids=()
for seat in seat_alice seat_bob; do
  /usr/lib/postgresql/15/bin/pgbench -n -h "$dir" -p "$port" -U "$seat" -c 4 -j 4 -t 100 \
    -f "$script" "$DB" >"$script.$seat" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || { cat "$script".seat_*; echo "pgbench failed"; exit 1; }; done
grep -h "number of failed\|latency average\|tps" "$script".seat_* || true
rm -f "$script".seat_*
run seat_admin -d "$DB" -c "SELECT * FROM stepdown_audit_verify()"
run seat_admin -d "$DB" -Atc "
  SELECT check_that(v.entries = $before + 800, 'all 800 concurrent entries are in the log'),
         check_that(v.first_broken_id = 2, 'no link broken but the tampered one'),
         check_that(v.entries = v.head_entries AND v.last_hash = v.head_hash, 'the head follows'),
         check_that((SELECT count(*) = max(id) FROM audit_log), 'ids 1..n without a gap'),
         check_that((SELECT count(DISTINCT db_role) = 2 FROM audit_log WHERE actor = 'pgbench'),
                    'each entry carries its seat')
  FROM stepdown_audit_verify() v"
rm -f "$script"
run postgres -d postgres -c "DROP DATABASE $DB"
