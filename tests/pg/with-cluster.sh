#!/usr/bin/env bash
# Runs CMD… with a throwaway PostgreSQL cluster (tests/pg/cluster.sh) and
# STEPDOWN_TEST_PG_URL pointing at its test database (its Unix socket), and
# STEPDOWN_TEST_PG_TLS_DIR at its TLS listener's folder (port, password,
# ca.pem, other-ca.pem) when it has one; stops and removes the
# cluster afterwards, whether CMD passed, failed or was interrupted. Exits
# with CMD's status.
#
#   tests/pg/with-cluster.sh cargo test --workspace
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: with-cluster.sh CMD [ARGS…]" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cluster="$here/cluster.sh"
# A state file of its own: a cluster started by hand (cluster.sh start) is left alone.
export STEPDOWN_PG_STATE=${STEPDOWN_PG_STATE:-$(cd "$here/../.." && pwd)/target/pg-with-cluster.state}

trap '"$cluster" stop' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
STEPDOWN_TEST_PG_URL="$("$cluster" start)"
export STEPDOWN_TEST_PG_URL
echo "with-cluster: STEPDOWN_TEST_PG_URL=$STEPDOWN_TEST_PG_URL"
if STEPDOWN_TEST_PG_TLS_DIR="$("$cluster" tls-dir 2>/dev/null)"; then
  export STEPDOWN_TEST_PG_TLS_DIR
  echo "with-cluster: STEPDOWN_TEST_PG_TLS_DIR=$STEPDOWN_TEST_PG_TLS_DIR (TLS on 127.0.0.1:$(cat "$STEPDOWN_TEST_PG_TLS_DIR/port"))"
else
  unset STEPDOWN_TEST_PG_TLS_DIR
  echo "with-cluster: no TLS listener (STEPDOWN_PG_TLS=0 or no openssl): the TLS tests will say skipped"
fi
status=0
"$@" || status=$?
exit "$status"
