#!/usr/bin/env bash
# The benchmark programs' command lines: bad input gets exit 2 and a message
# naming the problem. inprocess-bench also runs a short echo (no root, no
# network: two stacks joined in memory) and must print its result line; no
# figure is judged here, timing belongs to the benchmarks themselves.
set -uo pipefail
dir=${1:?usage: $0 BUILD_BIN_DIR}
pass=0 fail=0
# As root the whole test runs in a network namespace of its own (unshare),
# whose lo carries 198.18.0.1: the kernel-ping cases below talk to a server
# there, and nothing reaches any other address or interface.
if [ "$(id -u)" -eq 0 ] && [ -z "${CORONET_CLI_NETNS:-}" ] && command -v unshare >/dev/null; then
  exec env CORONET_CLI_NETNS=1 unshare --net bash "$0" "$@"
fi
own_netns=0
if [ -n "${CORONET_CLI_NETNS:-}" ] && ip link set lo up && ip addr add 198.18.0.1/32 dev lo; then own_netns=1; fi
lo_addr=198.18.0.1

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
expect "latency-bench: bad --backend -> exit 2 naming the choices" 2 \
  "latency-bench: --backend: unknown backend 'dpdk' (available: af_packet, af_xdp)" \
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
# --timing only where it is used: raw-pong, tcp-server, tcp-ping.
expect "latency-bench: --timing on raw-ping -> exit 2" 2 "--timing does not apply to raw-ping" \
  latency-bench raw-ping --iface lo --addr 198.18.0.2/24 --peer 198.18.0.3 --peer-mac 02:00:00:00:00:03 --timing
expect "latency-bench: --timing on kernel-ping -> exit 2" 2 "--timing does not apply to kernel-ping" \
  latency-bench kernel-ping --to 198.18.0.1:7 --timing
expect "latency-bench: --timing on kernel-server -> exit 2" 2 "--timing does not apply to kernel-server" \
  latency-bench kernel-server --listen 198.18.0.1:7 --timing
# A warm-up as long as the run's limit would leave no time for samples.
expect "latency-bench: --warmup-ms 60000 with the pings' 60 s limit -> exit 2" 2 \
  "--warmup-ms 60000 leaves no time for samples: it must be shorter than the run's limit of 60 s" \
  latency-bench kernel-ping --to 198.18.0.1:7 --warmup-ms 60000
expect "latency-bench: --warmup-ms 2000 with --max-seconds 2 -> exit 2" 2 \
  "--warmup-ms 2000 leaves no time for samples: it must be shorter than the run's limit of 2 s" \
  latency-bench raw-ping --iface lo --addr 198.18.0.2/24 --peer 198.18.0.3 --peer-mac 02:00:00:00:00:03 \
  --max-seconds 2 --warmup-ms 2000
expect "handshake-bench: bad --xdp-mode -> exit 2" 2 "handshake-bench: --xdp-mode takes auto, native or generic; got 'turbo'" \
  handshake-bench coronet --iface lo --addr 198.18.0.2/24 --to 198.18.0.1:7 --backend af_xdp --xdp-mode turbo

# kernel-ping against kernel-server or a socat that echoes five messages and
# closes, both on 198.18.0.1 in the test's own namespace (root; see the top):
# the stop reason on stderr, and exit 0 only with --count samples. No figure
# and no speed is judged: a stopped server answers nothing however long the
# ping waits.
lo_log=$(mktemp /tmp/coronet-cli-lo.XXXXXX)
lo_pid='' lo_port=''
lo_stop() {
  [ -n "$lo_pid" ] || return 0
  kill -CONT "$lo_pid" 2>/dev/null
  kill -TERM "$lo_pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$lo_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$lo_pid" 2>/dev/null
  wait "$lo_pid" 2>/dev/null
  lo_pid=
}
trap 'lo_stop; rm -f "$lo_log"' EXIT
# lo_server kernel|five: a server on $lo_addr:$lo_port (a few ports tried,
# from this shell's PID); waits (bounded) for it to listen. Each ends by
# itself within 50 s; lo_pid is the server itself (SIGSTOP must reach it).
lo_server() {
  local kind=$1 try ready
  for try in 1 2 3 4 5; do
    lo_port=$((20000 + ($$ * 7 + try * 1031) % 20000))
    if [ "$kind" = kernel ]; then
      "$dir/latency-bench" kernel-server --listen $lo_addr:$lo_port --max-seconds 50 >"$lo_log" 2>&1 &
      ready="kernel-server: ready"
    else
      socat -d -d -T 50 TCP-LISTEN:$lo_port,bind=$lo_addr,reuseaddr \
        SYSTEM:'dd bs=64 count=5 iflag=fullblock status=none' >"$lo_log" 2>&1 &
      ready="listening on"
    fi
    lo_pid=$!
    for _ in $(seq 50); do
      grep -q "$ready" "$lo_log" && return 0
      kill -0 "$lo_pid" 2>/dev/null || break
      sleep 0.1
    done
    lo_stop
  done
  return 1
}
# lo_check NAME STATUS WANT OUTPUT PATTERN...: one counted ok/FAIL line; ok when
# STATUS is WANT and OUTPUT has every PATTERN.
lo_check() {
  local name=$1 rc=$2 want=$3 out=$4 p ok=1
  shift 4
  for p in "$@"; do grep -q -- "$p" <<<"$out" || ok=0; done
  if [ "$rc" -eq "$want" ] && [ $ok -eq 1 ]; then
    echo "ok   - $name"; pass=$((pass + 1))
  else
    echo "FAIL - $name: status $rc (want $want), output:"; head -5 <<<"$out"; fail=$((fail + 1))
  fi
}
# lo_expect NAME STATUS PATTERN... -- ARGS: kernel-ping ARGS wants STATUS and every PATTERN.
lo_expect() {
  local name=$1 want=$2 patterns=()
  shift 2
  while [ "$1" != -- ]; do patterns+=("$1"); shift; done
  shift
  local out rc
  out=$(timeout 60 "$dir/latency-bench" kernel-ping --to $lo_addr:$lo_port "$@" 2>&1); rc=$?
  lo_check "$name" "$rc" "$want" "$out" "${patterns[@]}"
}
if [ $own_netns -eq 0 ]; then
  if [ "${CORONET_REQUIRE_LAB:-0}" = 1 ]; then
    echo "FAIL - the kernel-ping cases need a network namespace of their own (root, unshare)"; fail=$((fail + 1))
  else
    echo "skip - the kernel-ping cases (need root for a network namespace of their own)"
  fi
elif ! command -v socat >/dev/null || ! command -v ss >/dev/null; then
  echo "FAIL - the loopback cases need socat and ss (scripts/setup.sh installs them)"; fail=$((fail + 1))
elif ! lo_server kernel; then
  echo "FAIL - kernel-server did not come up on loopback:"; cat "$lo_log"; fail=$((fail + 1))
else
  lo_expect "latency-bench kernel-ping: all --count samples -> exit 0, count reached" 0 \
    "^result mode=kernel-ping device=kernel wait=sleep samples=200 " \
    "kernel-ping: 200 of 200 samples kept; stopped: count reached" -- --count 200 --warmup-ms 0
  kill -STOP "$lo_pid"  # the kernel still completes handshakes; nothing is echoed
  lo_expect "latency-bench kernel-ping: time limit before --count -> exit 1, the line still printed" 1 \
    "^result mode=kernel-ping device=kernel wait=sleep samples=0 warmup=0 unit=us" \
    "kernel-ping: 0 of 200 samples kept; stopped: time limit reached (1 s)" -- --count 200 --warmup-ms 0 --max-seconds 1
  # SIGTERM once the ping is connected (its handlers are installed before it connects).
  "$dir/latency-bench" kernel-ping --to $lo_addr:$lo_port --count 200 --max-seconds 50 >"$lo_log.ping" 2>&1 &
  ping_pid=$!
  for _ in $(seq 100); do
    ss -Htn state established "dport = :$lo_port" | grep -q . && break
    sleep 0.1
  done
  kill -TERM "$ping_pid"
  wait "$ping_pid"; rc=$?
  lo_check "latency-bench kernel-ping: SIGTERM -> exit 1, stopped: signal SIGTERM" "$rc" 1 "$(cat "$lo_log.ping")" \
    "^result mode=kernel-ping .* samples=0 " "kernel-ping: 0 of 200 samples kept; stopped: signal SIGTERM"
  rm -f "$lo_log.ping"
  lo_stop
  if ! lo_server five; then
    echo "FAIL - socat did not come up on loopback:"; cat "$lo_log"; fail=$((fail + 1))
  else
    lo_expect "latency-bench kernel-ping: the server closes after 5 echoes -> exit 1, peer closed" 1 \
      "^result mode=kernel-ping device=kernel wait=sleep samples=5 " \
      "kernel-ping: 5 of 100 samples kept; stopped: the server closed the connection" -- --count 100 --warmup-ms 0
    lo_stop
  fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
