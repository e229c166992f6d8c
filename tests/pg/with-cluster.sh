#!/usr/bin/env bash
# Runs CMD… with a throwaway PostgreSQL cluster (tests/pg/cluster.sh) and
# STEPDOWN_TEST_PG_URL pointing at its test database; stops and removes the
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
status=0
"$@" || status=$?
exit "$status"
