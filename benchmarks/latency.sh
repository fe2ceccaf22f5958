#!/usr/bin/env bash
# benchmarks/latency.sh - round-trip latency of 64-byte messages on each packet
# device: the device's own floor next to coronet's TCP on it, and the kernel's
# TCP, on one veth pair in one run (as root; builds what it needs in build/).
#
#   benchmarks/latency.sh [--count N] [--runs N] [--warmup-ms MS] [--devices LIST] [--split] [--bin DIR]
#
# LIST: comma-separated, any of af_packet, af_xdp-native, af_xdp-generic,
# kernel (default: all four). For each device, busy-polling and then sleeping:
#   raw  latency-bench raw-pong (.3, lt-kn) and raw-ping (.2, lt-co): a 64-byte
#        Ethernet+IPv4 frame through the device alone, the floor for any TCP on it
#   TCP  latency-bench tcp-server (.3, lt-kn) and tcp-ping (.2, lt-co): coronet
#        on both ends of the same device, 64 bytes written then read back;
#        tcp-ping takes raw round trips in turn with them (--interleave-raw,
#        blocks of 100 kept samples, raw first: "raw*"), so TCP and its floor
#        meet the same seconds
# kernel: latency-bench kernel-server (.1, lt-kn) and kernel-ping (.4, lt-co),
# TCP_NODELAY, blocking sockets ("sleep") and recv(MSG_DONTWAIT) spinning ("busy").
# Every ping warms up for --warmup-ms (default 300: an XDP attach is slow for
# ~30 ms), then takes --count samples (default 20000, at most 1000000) within
# a time limit: 60 s, or more for a large --count or --warmup-ms: the warm-up
# + 0.5 ms a sample + 1 s (a sleeping tcp-ping takes a raw and a TCP round
# trip a sample, ~60 µs each here, so 60 s would not hold 1000000 samples).
# A ping that keeps fewer than --count samples is a failed measurement (and
# the exit status 1). The whole sequence is repeated --runs times (default 5), so
# drift during the run hits raw and TCP alike; a p50/p90/p99 cell is the
# median over the runs (for an even --runs, the mean of the middle two), and
# TCP/raw* is the median of the runs' own ratios of TCP to raw* (same seconds).
#
# Lab "lt" (198.18.42.0/24), one veth pair lt-co0 <-> lt-kn0:
#   lt-kn: the kernel 198.18.42.1; coronet's far end 198.18.42.3 (no kernel address)
#   lt-co: coronet 198.18.42.2 (no kernel address); the kernel 198.18.42.4, for
#          its own client
# The table: p50 of the raw floor alone, of raw* and of TCP, TCP/raw* (paired per run; the
# target when busy-polling: at most 1.1), p90/p99 of each, and the frames coronet's client
# sent and received per round trip (1/1: no pure ACKs). Figures in µs; compare
# within one run (docs/latency.md). --split adds a second table: the busy rows
# once more with --timing, the time each program holds a message (from the
# frame's delivery by the device until its reply is committed / flushed), so
# the difference between TCP and raw is placed on the client or the server.
# Exit status: 0, 1 if a measurement failed, 2 on bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."
count=20000
runs=5
warmup_ms=300
devices=af_packet,af_xdp-native,af_xdp-generic,kernel
bin=
split=0
usage() {
  echo "usage: $0 [--count N] [--runs N] [--warmup-ms MS] [--devices af_packet,af_xdp-native,af_xdp-generic,kernel]" \
    "[--split] [--bin DIR]" >&2
  [ -n "${1:-}" ] && echo "latency.sh: $1" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --count) [ $# -ge 2 ] || usage "--count needs a value"; count=$2; shift 2 ;;
    --runs) [ $# -ge 2 ] || usage "--runs needs a value"; runs=$2; shift 2 ;;
    --warmup-ms) [ $# -ge 2 ] || usage "--warmup-ms needs a value"; warmup_ms=$2; shift 2 ;;
    --devices) [ $# -ge 2 ] || usage "--devices needs a list"; devices=$2; shift 2 ;;
    --split) split=1; shift ;;
    --bin) [ $# -ge 2 ] || usage "--bin needs a directory"; bin=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 { if (!/^#/) exit; print }' "$0"; exit 0 ;;  # the comment block above
    *) usage "unknown argument '$1'" ;;
  esac
done
# Decimal numbers without a leading zero (bash's $(( )) reads 010 as octal 8
# and fails on 08), and few enough digits for [ -le ].
[[ "$count" =~ ^[1-9][0-9]{0,6}$ ]] && [ "$count" -le 1000000 ] || usage "--count takes 1..1000000"
[[ "$runs" =~ ^[1-9][0-9]?$ ]] && [ "$runs" -le 20 ] || usage "--runs takes 1..20"
[[ "$warmup_ms" =~ ^(0|[1-9][0-9]{0,4})$ ]] && [ "$warmup_ms" -le 60000 ] || usage "--warmup-ms takes 0..60000"
IFS=, read -r -a device_list <<<"$devices"
[ ${#device_list[@]} -ge 1 ] || usage "--devices needs at least one device"
for d in "${device_list[@]}"; do
  case "$d" in af_packet|af_xdp-native|af_xdp-generic|kernel) ;; *) usage "unknown device '$d' in --devices" ;; esac
done
[ "$(id -u)" -eq 0 ] || { echo "latency.sh: needs root (namespaces, AF_PACKET, AF_XDP)" >&2; exit 2; }
if [ -z "$bin" ]; then
  scripts/setup.sh >/dev/null
  cmake -S . -B build -G Ninja >/dev/null
  ninja -C build latency-bench >/dev/null
  bin=build/bin
fi
[ -d "$bin" ] || usage "--bin: no directory $bin"
lb=$(cd "$bin" && pwd)/latency-bench
[ -x "$lb" ] || usage "no latency-bench in $bin"

ns_co=lt-co ns_kn=lt-kn if_co=lt-co0 if_kn=lt-kn0
ip_kernel=198.18.42.1 ip_coronet=198.18.42.2 ip_coronet2=198.18.42.3 ip_kernel_co=198.18.42.4
port=7007
# Each ping's own limit (--help): 60 s, or the warm-up + 0.5 ms a sample + 1 s,
# always longer than the warm-up (latency-bench refuses a warm-up that is not).
# `timeout` adds a margin around every process, and -k 5 has it KILL one that
# is still there 5 s after its TERM (ip netns exec runs timeout in place, so
# $srv and $cli are timeout's PIDs: killing them would leave latency-bench).
max_seconds=$(((warmup_ms + count / 2 + 999) / 1000 + 1))
[ $max_seconds -ge 60 ] || max_seconds=60
tmp=$(mktemp -d /tmp/coronet-latency.XXXXXX)
srv=  # the server running now, if any
cli=  # the ping running now, if any
stop_server() {
  [ -n "$srv" ] || return 0
  kill -TERM "$srv" 2>/dev/null || true  # timeout passes it on, and KILLs 5 s later
  for _ in $(seq 100); do kill -0 "$srv" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$srv" 2>/dev/null || true  # timeout itself, should it still be there
  wait "$srv" 2>/dev/null || true
  srv=
}
# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
  if [ -n "$cli" ]; then
    kill -TERM "$cli" 2>/dev/null || true
    wait "$cli" 2>/dev/null || true
  fi
  stop_server
  scripts/lab.sh down --prefix lt >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The lab, with the kernel's second address on coronet's side (lab.sh's own
# option when it has one).
lab_flags=(--prefix lt --net 42)
if grep -q -- '--kernel-on-coronet-side' scripts/lab.sh; then lab_flags+=(--kernel-on-coronet-side); fi
scripts/lab.sh up "${lab_flags[@]}" >/dev/null
if ! ip -n $ns_co -4 addr show dev $if_co | grep -q "inet $ip_kernel_co/"; then
  ip -n $ns_co addr add $ip_kernel_co/24 dev $if_co
fi
mac_kn=$(ip -n $ns_kn link show $if_kn | awk '/link\/ether/ { print $2 }')
[ -n "$mac_kn" ] || { echo "latency.sh: no MAC address on $if_kn" >&2; exit 1; }

# start_server NS ARGS...: latency-bench in the background; waits (bounded)
# for its "ready" line. Returns 1 (log in $tmp/server.log) if it never comes.
start_server() {
  local ns=$1
  shift
  ip netns exec "$ns" timeout -k 5 $((max_seconds * 4)) "$lb" "$@" >"$tmp/server.log" 2>&1 &
  srv=$!
  for _ in $(seq 100); do
    grep -q ': ready' "$tmp/server.log" && return 0
    kill -0 "$srv" 2>/dev/null || break
    sleep 0.1
  done
  stop_server
  return 1
}

# measure KEY SERVER_NS SERVER_ARGS... -- CLIENT_NS CLIENT_ARGS...: one
# server/ping pair; the ping's result line goes to res[KEY] (the server's
# --timing line to res[KEY,server]), or "fail" (why: $tmp/failures): when the
# ping exits non-zero, or a result line it must print (with --interleave-raw,
# two) is missing or has other than --count samples.
declare -A res
measure() {
  local key=$1 server_ns=$2
  shift 2
  local server_args=()
  while [ "$1" != -- ]; do server_args+=("$1"); shift; done
  shift
  local client_ns=$1
  shift
  res[$key]=fail
  if ! start_server "$server_ns" "${server_args[@]}"; then
    { echo "$key: the server did not come up:"; cat "$tmp/server.log"; } >>"$tmp/failures"
    echo "$key: failed (reasons at the end)" >&2
    return
  fi
  local rc=0
  # In the background, so a signal to this script is handled at once (bash
  # runs traps only between foreground commands, or during `wait`).
  ip netns exec "$client_ns" timeout -k 5 $((max_seconds + 30)) "$lb" "$@" --count "$count" \
    --warmup-ms "$warmup_ms" --max-seconds $max_seconds >"$tmp/client.log" 2>&1 &
  cli=$!
  wait $cli || rc=$?
  cli=
  stop_server
  local line inter why=
  line=$(grep -v ' interleaved=' "$tmp/client.log" | grep -m1 '^result ' || true)
  inter=$(grep -m1 '^result mode=raw-ping .*interleaved=' "$tmp/client.log" || true)
  if [ $rc -ne 0 ]; then
    why="the ping exited with $rc"
  elif [ -z "$line" ]; then
    why="the ping printed no result line"
  elif [ "$(line_field "$line" samples)" != "$count" ]; then
    why="$(line_field "$line" samples) of $count samples"
  elif [[ " $* " == *" --interleave-raw "* ]] && [ -z "$inter" ]; then
    why="no interleaved raw-ping result line"
  elif [ -n "$inter" ] && [ "$(line_field "$inter" samples)" != "$count" ]; then
    why="$(line_field "$inter" samples) of $count interleaved raw samples"
  fi
  if [ -n "$why" ]; then
    { echo "$key: $why:"; cat "$tmp/client.log" "$tmp/server.log"; } >>"$tmp/failures"
    echo "$key: failed (reasons at the end)" >&2
    return
  fi
  res[$key]=$line
  res[$key,server]=$(grep -m1 'turnaround_n=' "$tmp/server.log" || true)
  # tcp-ping --interleave-raw's raw line: ROW,tcp#R -> ROW,inter#R
  line=$inter
  [ -n "$line" ] && res[${key/,tcp#/,inter#}]=$line
  # Progress on stderr: this measurement's p50 (and the interleaved floor's).
  echo "$key: p50 $(field "$key" p50)${line:+, raw* $(field "${key/,tcp#/,inter#}" p50)} us" >&2
}

# line_field LINE NAME: NAME=value from a result line, or "-".
line_field() {
  local v
  v=$(tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p")
  echo "${v:--}"
}
# field KEY NAME: NAME=value from res[KEY] (or res[KEY,server]), or "-" (also
# when latency-bench printed NAME=- for a figure without samples).
field() { line_field "${res[$1]:-}" "$2"; }
# median_of: the median of the numbers on stdin, one a line, with two
# decimals: the middle one, or the mean of the middle two for an even count.
median_of() {
  sort -g | awk '{ v[NR] = $1 }
    END { if (NR == 0) print "-"; else printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# median KEY NAME: the median of NAME over the runs of KEY ("KEY#1" ...), or
# "-" when a run has none.
median() {
  local vals=() r v
  for r in $(seq "$runs"); do
    v=$(field "$1#$r" "$2")
    [ "$v" = - ] && { echo -; return; }
    vals+=("$v")
  done
  printf '%s\n' "${vals[@]}" | median_of
}
# ratio_median ROW: the median over the runs of that run's TCP p50 / raw p50,
# the raw p50 being the one tcp-ping took in turn with its TCP samples
# (--interleave-raw), or "-". Both kinds of sample meet the same host
# conditions; this host's floor drifts by tens of percent between seconds,
# so the p50 columns, medians taken apart, do not divide into the ratio.
ratio_median() {
  local vals=() r a b q
  for r in $(seq "$runs"); do
    a=$(field "$1,tcp#$r" p50) b=$(field "$1,inter#$r" p50)
    if [ "$a" = - ] || [ "$b" = - ]; then echo -; return; fi
    q=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')
    [ "$q" = - ] && { echo -; return; }  # no ratio for this run: none for the row
    vals+=("$q")
  done
  printf '%s\n' "${vals[@]}" | median_of
}

declare -A dev_flags=([af_packet]="--backend af_packet" [af_xdp-native]="--backend af_xdp --xdp-mode native"
                      [af_xdp-generic]="--backend af_xdp --xdp-mode generic")
declare -A wait_flags=([busy]=--busy-poll [sleep]="")
rows=()
for d in "${device_list[@]}"; do
  rows+=("$d,busy" "$d,sleep")
done

# One run: every row, raw then TCP.
run_once() {
  local r=$1 row d w flags
  for row in "${rows[@]}"; do
    d=${row%,*} w=${row#*,}
    # shellcheck disable=SC2206  # the flags are words
    flags=(${dev_flags[$d]:-} ${wait_flags[$w]})
    if [ "$d" = kernel ]; then
      measure "$row,tcp#$r" $ns_kn kernel-server --listen $ip_kernel:$port "${flags[@]}" -- \
        $ns_co kernel-ping --to $ip_kernel:$port "${flags[@]}"
      continue
    fi
    measure "$row,raw#$r" $ns_kn raw-pong --iface $if_kn --addr $ip_coronet2/24 "${flags[@]}" -- \
      $ns_co raw-ping --iface $if_co --addr $ip_coronet/24 --peer $ip_coronet2 --peer-mac "$mac_kn" "${flags[@]}"
    measure "$row,tcp#$r" $ns_kn tcp-server --iface $if_kn --addr $ip_coronet2/24 --port $port "${flags[@]}" -- \
      $ns_co tcp-ping --iface $if_co --addr $ip_coronet/24 --to $ip_coronet2:$port "${flags[@]}" \
      --interleave-raw --peer-mac "$mac_kn"
  done
}

echo "latency: 64-byte round trips, $count samples after ${warmup_ms} ms of warm-up, median of $runs runs;" \
  "$(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$runs"); do run_once "$r"; done

echo
printf '%-16s %-6s %9s %9s %9s %8s   %-17s %-17s %s\n' device wait "raw p50" "raw* p50" "TCP p50" TCP/raw* \
  "raw p90 / p99" "TCP p90 / p99" "frames out/in per RTT"
for row in "${rows[@]}"; do
  dev=${row%,*} w=${row#*,}
  raw_p50=$(median "$row,raw" p50) tcp_p50=$(median "$row,tcp" p50) inter_p50=$(median "$row,inter" p50)
  raw_tail="$(median "$row,raw" p90) / $(median "$row,raw" p99)"
  tcp_tail="$(median "$row,tcp" p90) / $(median "$row,tcp" p99)"
  frames="$(median "$row,tcp" tx_per_rtt) / $(median "$row,tcp" rx_per_rtt)"
  if [ "$dev" = kernel ]; then raw_p50=- inter_p50=- raw_tail=- frames=-; fi
  ratio=-
  if [ "$dev" != kernel ]; then ratio=$(ratio_median "$row"); fi
  printf '%-16s %-6s %9s %9s %9s %8s   %-17s %-17s %s\n' "$dev" "$w" "$raw_p50" "$inter_p50" "$tcp_p50" "$ratio" \
    "$raw_tail" "$tcp_tail" "$frames"
done
echo "(µs, median of $runs runs; raw: the device alone (raw-pong/raw-ping); raw*: the same frame taken by tcp-ping" \
  "in turn with its TCP samples, blocks of 100 kept samples (--interleave-raw); TCP: coronet on both ends of that device, or" \
  "the kernel's own TCP; TCP/raw*: the median of each run's TCP p50 / raw* p50, both from the same seconds;" \
  "busy-polling target TCP/raw* <= 1.1)"

if [ $split -eq 1 ]; then
  split_devs=()
  for d in "${device_list[@]}"; do
    [ "$d" = kernel ] && continue
    # shellcheck disable=SC2206
    flags=(${dev_flags[$d]} --busy-poll)
    measure "$d,split,raw" $ns_kn raw-pong --iface $if_kn --addr $ip_coronet2/24 "${flags[@]}" --timing -- \
      $ns_co raw-ping --iface $if_co --addr $ip_coronet/24 --peer $ip_coronet2 --peer-mac "$mac_kn" "${flags[@]}"
    measure "$d,split,tcp" $ns_kn tcp-server --iface $if_kn --addr $ip_coronet2/24 --port $port "${flags[@]}" \
      --timing -- $ns_co tcp-ping --iface $if_co --addr $ip_coronet/24 --to $ip_coronet2:$port "${flags[@]}" --timing
    split_devs+=("$d")
  done
  echo
  echo "busy-polling with --timing (one run, p50, µs; - where nothing was timed): how long each side holds a" \
    "message; the rest of a round trip is the kernel and the link"
  fmt='%-16s %8s %8s | %9s | %10s %9s | %13s %12s %10s\n'
  # shellcheck disable=SC2059  # the format is ours
  printf "$fmt" device "raw p50" "TCP p50" "pong" "server" "server" "client" "client" "client"
  # shellcheck disable=SC2059
  printf "$fmt" "" "" "" "rx->flush" "rx->commit" "rx->flush" "write->commit" "write->flush" "rx->resume"
  for d in "${split_devs[@]}"; do
    # shellcheck disable=SC2059
    printf "$fmt" "$d" "$(field "$d,split,raw" p50)" "$(field "$d,split,tcp" p50)" \
      "$(field "$d,split,raw,server" rx_to_flush_p50)" "$(field "$d,split,tcp,server" rx_to_commit_p50)" \
      "$(field "$d,split,tcp,server" rx_to_flush_p50)" "$(field "$d,split,tcp" write_to_commit_p50)" \
      "$(field "$d,split,tcp" write_to_flush_p50)" "$(field "$d,split,tcp" rx_to_resume_p50)"
  done
  echo "(af_packet: a frame leaves at the scheduler's next io_uring submit, which may come before the flush;" \
    "its rx->flush then includes the send itself)"
fi

status=0
if [ -s "$tmp/failures" ]; then
  echo "-- failed measurements --"
  cat "$tmp/failures"
  status=1
fi
exit $status
