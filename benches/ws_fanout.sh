#!/usr/bin/env bash
# WebSocket fan-out: N clients subscribed at 1 s (quotes with 5 symbols + trading), optionally
# with slow clients that never read. Reports the server's CPU share (from /proc) during a steady
# window and its memory per connection.
# Usage: bash benches/ws_fanout.sh [clients] [slow] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-2000}
slow=${2:-0}
secs=${3:-20}
cargo build --release --bin swaggy-stacks --example ws_fanout -q
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
WS_MAX_CONNECTIONS=$((clients + 100)) DATABASE_URL="sqlite://$dir/f.db?mode=rwc" \
  target/release/swaggy-stacks serve --listen "127.0.0.1:$port" >"$dir/out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health/live" >/dev/null && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rss0=$(rss)
target/release/examples/ws_fanout "ws://127.0.0.1:$port/ws" "$clients" "$slow" "$secs" >"$dir/load" &
load=$!
# Wait until all clients are connected, then measure a steady window.
for _ in $(seq 600); do grep -q connected "$dir/load" 2>/dev/null && break; sleep 0.1; done
rss1=$(rss); t0=$(ticks); s0=$(date +%s.%N)
sleep "$secs"
t1=$(ticks); s1=$(date +%s.%N); rss2=$(rss)
wait $load || true
python3 - "$rss0" "$rss1" "$rss2" "$t0" "$t1" "$s0" "$s1" "$clients" "$slow" <<'PY'
import sys
rss0, rss1, rss2, t0, t1 = map(float, sys.argv[1:6]); s0, s1 = map(float, sys.argv[6:8]); n, slow = map(int, sys.argv[8:10])
cpu = (t1 - t0) / 100.0 / (s1 - s0)
print(f"clients {n} (slow {slow}): server CPU {cpu*100:.1f}% of one core; "
      f"RSS {rss0/1024:.1f} MiB idle -> {rss1/1024:.1f} MiB connected -> {rss2/1024:.1f} MiB after the window; "
      f"{(rss2-rss0)/n:.1f} KiB per connection")
PY
cat "$dir/load"
