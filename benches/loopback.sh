#!/usr/bin/env bash
# Requests/s over real HTTP on loopback with wrk (2 connections per core), bare vs our layer.
# Usage: bash benches/loopback.sh [seconds-per-run] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-3}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)"; exit 1; }
cargo build --release --example bench_server -q
bin=target/release/examples/bench_server
cores=$(nproc)
conns=$((2 * cores))
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
declare -A total
for round in $(seq "$rounds"); do
  for mode in bare metrics spans; do
    "$bin" "$mode" "127.0.0.1:$port" >/dev/null &
    pid=$!
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/api/items/1" >/dev/null && break; sleep 0.1; done
    rps=$(wrk -t"$cores" -c"$conns" -d"${secs}s" "http://127.0.0.1:$port/api/items/1" | awk '/Requests\/sec/ {print $2}')
    kill "$pid"; wait "$pid" 2>/dev/null || true
    echo "round $round $mode: $rps req/s"
    total[$mode]=$(python3 -c "print(${total[$mode]:-0} + $rps)")
  done
done
python3 - "${total[bare]}" "${total[metrics]}" "${total[spans]}" "$rounds" <<'PY'
import sys
bare, metrics, spans, rounds = map(float, sys.argv[1:])
print(f"mean req/s  bare {bare/rounds:.0f}  metrics {metrics/rounds:.0f}  spans {spans/rounds:.0f}")
print(f"ratio to bare  metrics {metrics/bare:.3f}  spans {spans/bare:.3f}")
PY
