#!/usr/bin/env bash
# The benchmark programs' command lines: bad input gets exit 2 and a message
# naming the problem. inprocess-bench also runs a short echo (no root, no
# network: two stacks joined in memory) and must print its result line; no
# figure is judged here, timing belongs to the benchmarks themselves.
set -uo pipefail
dir=${1:?usage: $0 BUILD_BIN_DIR}
pass=0 fail=0

# expect NAME STATUS PATTERN PROGRAM ARGS...: wants STATUS and PATTERN in the output.
expect() {
  local name=$1 want=$2 pattern=$3 prog=$4
  shift 4
  local out rc
  out=$(timeout 60 "$dir/$prog" "$@" 2>&1); rc=$?
  if [ "$rc" -eq "$want" ] && grep -q -- "$pattern" <<<"$out"; then
    echo "ok   - $name"; pass=$((pass + 1))
  else
    echo "FAIL - $name: status $rc (want $want), output:"; head -5 <<<"$out"; fail=$((fail + 1))
  fi
}

expect "inprocess-bench: --count not a number -> exit 2" 2 "--count takes 1..100000000" inprocess-bench --count x
expect "inprocess-bench: --size 0 -> exit 2" 2 "--size takes 1..65536" inprocess-bench --size 0
expect "inprocess-bench: unknown flag -> exit 2 naming it" 2 "unknown argument '--bogus'" inprocess-bench --bogus
expect "inprocess-bench: a value missing -> exit 2" 2 "--count needs a value" inprocess-bench --count
expect "inprocess-bench: a short busy-polled echo prints its result" 0 "result mode=inprocess wait=busy samples=2000 size=64" \
  inprocess-bench --count 2000
expect "inprocess-bench: a short sleeping echo of 3000 bytes prints its result" 0 \
  "result mode=inprocess wait=sleep samples=500 size=3000" inprocess-bench --count 500 --size 3000 --sleeping
expect "inprocess-bench: --no-fast-paths runs the general path and prints its result" 0 \
  "result mode=inprocess wait=busy samples=1000 size=64" inprocess-bench --count 1000 --no-fast-paths
expect "latency-bench: no mode -> exit 2 with usage" 2 "usage" latency-bench
expect "latency-bench: unknown mode -> exit 2" 2 "usage" latency-bench fly
expect "latency-bench: bad --backend -> exit 2 naming the choices" 2 "af_packet" \
  latency-bench raw-pong --iface lo --addr 198.18.0.2/24 --backend dpdk
expect "latency-bench: --frame-bytes below 64 -> exit 2" 2 "--frame-bytes takes 64..1514" \
  latency-bench raw-ping --iface lo --addr 198.18.0.2/24 --peer 198.18.0.3 --peer-mac 02:00:00:00:00:03 --frame-bytes 63
expect "latency-bench: --frame-bytes on tcp-ping without --interleave-raw -> exit 2" 2 \
  "--peer-mac and --frame-bytes apply to tcp-ping only with --interleave-raw" \
  latency-bench tcp-ping --iface lo --addr 198.18.0.2/24 --to 198.18.0.3:7 --frame-bytes 130
expect "latency-bench: --peer-mac on tcp-ping without --interleave-raw -> exit 2" 2 \
  "--peer-mac and --frame-bytes apply to tcp-ping only with --interleave-raw" \
  latency-bench tcp-ping --iface lo --addr 198.18.0.2/24 --to 198.18.0.3:7 --peer-mac 02:00:00:00:00:03
expect "latency-bench: tcp-ping --interleave-raw without --peer-mac -> exit 2" 2 \
  "tcp-ping --interleave-raw needs --peer-mac (the server's MAC)" \
  latency-bench tcp-ping --iface lo --addr 198.18.0.2/24 --to 198.18.0.3:7 --interleave-raw
expect "latency-bench: --interleave-raw on raw-ping -> exit 2" 2 "--interleave-raw does not apply to raw-ping" \
  latency-bench raw-ping --iface lo --addr 198.18.0.2/24 --peer 198.18.0.3 --peer-mac 02:00:00:00:00:03 --interleave-raw
expect "latency-bench: --interleave-raw on tcp-server -> exit 2" 2 "--interleave-raw does not apply to tcp-server" \
  latency-bench tcp-server --iface lo --addr 198.18.0.2/24 --port 7 --interleave-raw
for bad in spin spin: spin:0 spin:100001 spin:12x tcp-echo2 ""; do
  expect "latency-bench: --raw-work '$bad' -> exit 2" 2 "--raw-work takes spin:NS (NS 1..100000) or tcp-echo" \
    latency-bench tcp-server --iface lo --addr 198.18.0.2/24 --port 7 --raw-work "$bad"
done
expect "latency-bench: --raw-work on tcp-ping -> exit 2" 2 "--raw-work does not apply to tcp-ping" \
  latency-bench tcp-ping --iface lo --addr 198.18.0.2/24 --to 198.18.0.3:7 --raw-work tcp-echo
expect "latency-bench: --no-fast-paths on raw-pong -> exit 2" 2 "--no-fast-paths does not apply to raw-pong" \
  latency-bench raw-pong --iface lo --addr 198.18.0.2/24 --no-fast-paths
expect "handshake-bench: bad --xdp-mode -> exit 2" 2 "native" \
  handshake-bench coronet --iface lo --addr 198.18.0.2/24 --to 198.18.0.1:7 --backend af_xdp --xdp-mode turbo

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
