#!/usr/bin/env bash
# The benchmark scripts' command lines (benchmarks/latency.sh, throughput.sh,
# handshake.sh): bad input gets exit 2 and a message naming the problem,
# before anything is built, installed or set up. Nothing is measured here.
set -uo pipefail
dir=${1:?usage: $0 BUILD_BIN_DIR}
bench=$(cd "$(dirname "$0")/../../benchmarks" && pwd)
pass=0 fail=0

# expect NAME PATTERN SCRIPT ARGS...: wants exit 2 and PATTERN in the output.
expect() {
  local name=$1 pattern=$2 script=$3
  shift 3
  local out rc
  out=$(timeout 60 bash "$bench/$script" "$@" 2>&1); rc=$?
  if [ "$rc" -eq 2 ] && grep -q -- "$pattern" <<<"$out"; then
    echo "ok   - $name"; pass=$((pass + 1))
  else
    echo "FAIL - $name: status $rc (want 2), output:"; head -5 <<<"$out"; fail=$((fail + 1))
  fi
}

expect "latency.sh: unknown flag" "latency.sh: unknown argument '--bogus'" latency.sh --bogus
expect "latency.sh: --count without a value" "latency.sh: --count needs a value" latency.sh --count
expect "latency.sh: --count 0" "latency.sh: --count takes 1..1000000" latency.sh --count 0
expect "latency.sh: --runs 21" "latency.sh: --runs takes 1..20" latency.sh --runs 21
expect "latency.sh: --warmup-ms x" "latency.sh: --warmup-ms takes 0..60000" latency.sh --warmup-ms x
# A leading zero: [ -ge ] would read 010 as 10, $(( )) as octal 8, and 08 or
# 09 would fail only after the whole run.
expect "latency.sh: --runs 010" "latency.sh: --runs takes 1..20" latency.sh --runs 010
expect "latency.sh: --runs 08" "latency.sh: --runs takes 1..20" latency.sh --runs 08
expect "latency.sh: --count 09" "latency.sh: --count takes 1..1000000" latency.sh --count 09
expect "latency.sh: --count 0100" "latency.sh: --count takes 1..1000000" latency.sh --count 0100
expect "latency.sh: --count 1000001" "latency.sh: --count takes 1..1000000" latency.sh --count 1000001
expect "latency.sh: --count of 20 digits" "latency.sh: --count takes 1..1000000" latency.sh --count 99999999999999999999
expect "latency.sh: --warmup-ms 00" "latency.sh: --warmup-ms takes 0..60000" latency.sh --warmup-ms 00
expect "latency.sh: --warmup-ms 0300" "latency.sh: --warmup-ms takes 0..60000" latency.sh --warmup-ms 0300
expect "latency.sh: --warmup-ms 60001" "latency.sh: --warmup-ms takes 0..60000" latency.sh --warmup-ms 60001
expect "latency.sh: an unknown device" "latency.sh: unknown device 'foo' in --devices" latency.sh --devices af_packet,foo
expect "throughput.sh: unknown flag" "throughput.sh: unknown argument '--bogus'" throughput.sh --bogus
expect "throughput.sh: --offloads maybe" "throughput.sh: --offloads takes on, off or both" throughput.sh --offloads maybe
expect "throughput.sh: --bytes x" "throughput.sh: --bytes takes a byte count" throughput.sh --bytes x
# --help prints the comment block at the top and nothing of the code below it.
help=$(timeout 60 bash "$bench/latency.sh" --help 2>&1); rc=$?
if [ $rc -eq 0 ] && [ "$(head -1 <<<"$help")" = "# benchmarks/latency.sh - round-trip latency of 64-byte messages on each packet" ] &&
  [ "$(tail -1 <<<"$help")" = "# Exit status: 0, 1 if a measurement failed, 2 on bad usage." ] && ! grep -qv '^#' <<<"$help"; then
  echo "ok   - latency.sh --help: the comment block, exactly"; pass=$((pass + 1))
else
  echo "FAIL - latency.sh --help: status $rc, last lines:"; tail -3 <<<"$help"; fail=$((fail + 1))
fi
expect "handshake.sh: unknown flag" "handshake.sh: unknown argument '--bogus'" handshake.sh --bogus
expect "handshake.sh: --count x, before any lab" "handshake.sh: --count takes 1..20000" handshake.sh --count x
expect "handshake.sh: --count 0" "handshake.sh: --count takes 1..20000" handshake.sh --count 0
# Past the root check only as root (CI runs as root).
if [ "$(id -u)" -eq 0 ]; then
  expect "latency.sh: --bin that is no directory" "latency.sh: --bin: no directory /nonexistent" \
    latency.sh --bin /nonexistent
  expect "latency.sh: --bin without latency-bench" "latency.sh: no latency-bench in /" latency.sh --bin /
  expect "throughput.sh: --bin that is no directory" "throughput.sh: --bin: no directory /nonexistent" \
    throughput.sh --bin /nonexistent
else
  echo "skip - the --bin cases need root"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
