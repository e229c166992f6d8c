#!/usr/bin/env bash
# Launches the real app under Xvfb and saves what the screen shows.
# Per-screen screenshots are also written by the end-to-end suite.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -z "${DISPLAY:-}" ]; then
  exec xvfb-run -a -s "-screen 0 1280x800x24" "$0" "$@"
fi
out="$root/target/screenshots"
mkdir -p "$out"
"$root/target/debug/stepdown-app" &
app=$!
trap 'kill $app 2>/dev/null || true; wait $app 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if xwininfo -root -tree 2>/dev/null | grep -q '"Stepdown"'; then break; fi
  sleep 0.1
done
sleep 2 # let WebKit paint the page, not just map the window
import -window root "$out/app-launch.png"
echo "saved $out/app-launch.png"
