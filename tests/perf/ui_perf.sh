#!/usr/bin/env bash
# Builds the bare baseline window and runs the desktop UI benchmarks under Xvfb.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
if [ -z "${DISPLAY:-}" ]; then
  exec xvfb-run -a -s "-screen 0 1280x800x24" "$0" "$@"
fi
# Same target dir as the app: the baseline reuses the same compiled Tauri.
CARGO_TARGET_DIR="$root/target" cargo build --manifest-path tests/perf/bare-window/Cargo.toml
port="${STEPDOWN_WEBDRIVER_PORT:-4446}"
tauri-driver --port "$port" --native-port $((port + 1)) --native-driver /usr/bin/WebKitWebDriver >"$root/target/perf-tauri-driver.log" 2>&1 &
driver=$!
trap 'kill $driver 2>/dev/null || true; wait $driver 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/status" >/dev/null 2>&1 && break
  sleep 0.1
done
STEPDOWN_WEBDRIVER_URL="http://127.0.0.1:$port" node tests/perf/ui_perf.mjs
