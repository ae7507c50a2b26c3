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
declare -A total cpu
for round in $(seq "$rounds"); do
  for mode in bare metrics spans; do
    "$bin" "$mode" "127.0.0.1:$port" >/dev/null &
    pid=$!
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/api/items/1" >/dev/null && break; sleep 0.1; done
    cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    out=$(wrk -t"$cores" -c"$conns" -d"${secs}s" "http://127.0.0.1:$port/api/items/1")
    cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    # Server CPU per request (clock ticks are 10 ms): robust to how busy the other core is.
    cpu_us=$(python3 -c "print(round(($cpu1 - $cpu0) * 10000 / $reqs, 2))")
    echo "round $round $mode: $rps req/s, server CPU $cpu_us us/request"
    total[$mode]=$(python3 -c "print(${total[$mode]:-0} + $rps)")
    cpu[$mode]=$(python3 -c "print(${cpu[$mode]:-0} + $cpu_us)")
  done
done
python3 - "${total[bare]}" "${total[metrics]}" "${total[spans]}" "${cpu[bare]}" "${cpu[metrics]}" "${cpu[spans]}" "$rounds" <<'PY'
import sys
bare, metrics, spans, cb, cm, cs, rounds = map(float, sys.argv[1:])
print(f"mean req/s  bare {bare/rounds:.0f}  metrics {metrics/rounds:.0f}  spans {spans/rounds:.0f}")
print(f"req/s ratio to bare  metrics {metrics/bare:.3f}  spans {spans/bare:.3f}")
print(f"server CPU us/request  bare {cb/rounds:.2f}  metrics {cm/rounds:.2f}  spans {cs/rounds:.2f}")
PY
