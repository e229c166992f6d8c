#!/usr/bin/env bash
# Runs the end-to-end suite against the real built app: tauri-driver in front
# of WebKitWebDriver, everything under a virtual X display.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

if [ -z "${DISPLAY:-}" ]; then
  exec xvfb-run -a -s "-screen 0 1280x800x24" "$0" "$@"
fi

port="${STEPDOWN_WEBDRIVER_PORT:-4444}"
log="$root/target/e2e-tauri-driver.log"
mkdir -p "$root/target"
# A distinct native port too, so two runs on one machine do not collide.
tauri-driver --port "$port" --native-port "$((port + 1))" --native-driver /usr/bin/WebKitWebDriver >"$log" 2>&1 &
driver=$!
trap 'kill $driver 2>/dev/null || true; wait $driver 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/status" >/dev/null 2>&1; then break; fi
  if ! kill -0 $driver 2>/dev/null; then echo "tauri-driver exited early:"; cat "$log"; exit 1; fi
  sleep 0.1
done

echo "e2e: driving $root/target/debug/stepdown-app through tauri-driver on port $port (DISPLAY=$DISPLAY)"
# Test files may be named (`run.sh tests/e2e/doses.test.mjs`); all of them otherwise.
if [ "$#" -gt 0 ]; then files=("$@"); else files=("$root"/tests/e2e/*.test.mjs); fi
STEPDOWN_WEBDRIVER_URL="http://127.0.0.1:$port" node --test --test-concurrency=1 "${files[@]}"
