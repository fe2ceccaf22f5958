#!/usr/bin/env bash
# benchmarks/throughput.sh - bulk TCP throughput, coronet beside the kernel, on
# one veth pair in one run (as root; builds what it needs in build/).
#
#   benchmarks/throughput.sh [--bytes N] [--runs N] [--offloads on|off|both] [--bin DIR]
#                            [--backend af_packet|af_xdp] [--xdp-mode auto|native|generic]
#                            [--xdp-bind auto|zerocopy|copy] [--queue N]
#
# The device flags (net/device_flags.hpp) go to both coronets. With --backend
# af_xdp the kernel's offloads stay off (--offloads on|both is refused): AF_XDP
# has no PACKET_AUXDATA to tell coronet that a checksum was left to offload,
# so such segments are dropped (tests/lab/xdp_offloads_on_test.sh).
#
# Every transfer is coronet-bulk: the sender sends --bytes of its seeded stream
# one way, the receiver checks every byte against that seed (--verify-seed,
# no SHA-256: hashing runs at ~1.3 Gbit/s and would be what is measured) and
# reports the rate from the connection's establishment to the sender's FIN.
# A cell is the median of --runs, with the range; "x kernel" is the ratio to
# kernel -> kernel in the same lab, which is what to compare across sessions.
#
# Lab "tp" (198.18.41.0/24), one veth pair tp-co0 <-> tp-kn0:
#   tp-kn: the kernel 198.18.41.1; the second coronet 198.18.41.3 (no kernel address)
#   tp-co: coronet 198.18.41.2 (no kernel address); the kernel 198.18.41.4, for
#          its own client
# Rows (sender -> receiver):
#   kernel  -> kernel    .4 (tp-co) -> .1 (tp-kn)
#   coronet -> kernel    .2 (tp-co) -> .1 (tp-kn)
#   kernel  -> coronet   .1 (tp-kn) -> .2 (tp-co)
#   coronet -> coronet   .2 (tp-co) -> .3 (tp-kn)
# Offloads: lab.sh sets them on the kernel's end (off: what a real wire
# carries; on: veth's TSO super-frames), and with --kernel-on-coronet-side
# (which gives the kernel 198.18.41.4 on tp-co0) on tp-co0 too, so the
# kernel's own client sends as its server does.
set -euo pipefail
cd "$(dirname "$0")/.."
bytes=$((256 << 20))
runs=3
offloads=off
bin=
dev=()  # device flags for both coronets, checked by coronet-bulk
usage() {
  echo "usage: $0 [--bytes N] [--runs N] [--offloads on|off|both] [--bin DIR] [--backend af_packet|af_xdp]" \
    "[--xdp-mode auto|native|generic] [--xdp-bind auto|zerocopy|copy] [--queue N]" >&2
  [ -n "${1:-}" ] && echo "throughput.sh: $1" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --bytes) [ $# -ge 2 ] || usage "--bytes needs a value"; bytes=$2; shift 2 ;;
    --runs) [ $# -ge 2 ] || usage "--runs needs a value"; runs=$2; shift 2 ;;
    --offloads) [ $# -ge 2 ] || usage "--offloads needs a value"; offloads=$2; shift 2 ;;
    --bin) [ $# -ge 2 ] || usage "--bin needs a directory"; bin=$2; shift 2 ;;
    --backend|--xdp-mode|--xdp-bind|--queue) [ $# -ge 2 ] || usage "$1 needs a value"; dev+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) usage "unknown argument '$1'" ;;
  esac
done
[[ "$bytes" =~ ^[0-9]+[KMG]?$ ]] || usage "--bytes takes a byte count such as 268435456 or 256M"
[[ "$runs" =~ ^[0-9]+$ ]] && [ "$runs" -ge 1 ] && [ "$runs" -le 100 ] || usage "--runs takes 1..100"
case "$offloads" in on|off) modes=("$offloads") ;; both) modes=(off on) ;; *) usage "--offloads takes on, off or both" ;; esac
backend=af_packet
for ((i = 0; i + 1 < ${#dev[@]}; i += 2)); do [ "${dev[i]}" = --backend ] && backend=${dev[i + 1]}; done
if [ "$backend" = af_xdp ] && [ "$offloads" != off ]; then
  usage "--backend af_xdp runs with the kernel's offloads off only (--offloads off)"
fi
[ "$(id -u)" -eq 0 ] || { echo "throughput.sh: needs root (namespaces, AF_PACKET or AF_XDP)" >&2; exit 2; }
if [ -z "$bin" ]; then
  scripts/setup.sh >/dev/null
  cmake -S . -B build -G Ninja >/dev/null
  ninja -C build coronet-bulk >/dev/null
  bin=build/bin
fi
[ -d "$bin" ] || usage "--bin: no directory $bin"
bulk=$(cd "$bin" && pwd)/coronet-bulk
[ -x "$bulk" ] || usage "no coronet-bulk in $bin"
# A bad device flag stops here with coronet-bulk's message, before any lab exists.
if ! out=$("$bulk" --stack coronet --iface nosuchif0 --addr 198.18.41.2/24 --listen 5001 "${dev[@]}" 2>&1) &&
  ! grep -q "nosuchif0 not found" <<<"$out"; then
  usage "$(head -1 <<<"$out" | sed 's/^coronet-bulk: //')"
fi

ns_co=tp-co ns_kn=tp-kn if_co=tp-co0 if_kn=tp-kn0
ip_kernel=198.18.41.1 ip_coronet=198.18.41.2 ip_coronet2=198.18.41.3  # the kernel also has .4 on tp-co0
port=5001
tmp=$(mktemp -d /tmp/coronet-throughput.XXXXXX)
rx=  # the receiver running now, if any: the only process left behind on an interrupt
cleanup() {
  if [ -n "$rx" ]; then
    kill -TERM "$rx" 2>/dev/null || true
    wait "$rx" 2>/dev/null || true
  fi
  scripts/lab.sh down --prefix tp >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

lab() { scripts/lab.sh up --prefix tp --net 41 --offloads "$1" --kernel-on-coronet-side >/dev/null; }

# bounded wait: CMD every 0.1 s, at most 100 times.
wait_until() { for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
kernel_listening() { ip netns exec "$1" ss -Hltn "sport = :$port" | grep -q LISTEN; }
answers_ping() { ip netns exec "$1" ping -c1 -W1 "$2"; }

# The receivers and senders of each row: "NS ARGS..." for coronet-bulk.
co_a=(--stack coronet --iface $if_co --addr $ip_coronet/24 "${dev[@]}")
co_b=(--stack coronet --iface $if_kn --addr $ip_coronet2/24 "${dev[@]}")

# one_run ROW SEED: sets run_result to the receiver's Gbit/s, or "fail" (why: $tmp/failures).
one_run() {
  local row=$1 seed=$2 rx_ns tx_ns rx_args tx_args ready
  run_result=fail
  case "$row" in
    kk) rx_ns=$ns_kn; rx_args=(--stack kernel); tx_ns=$ns_co; tx_args=(--stack kernel --connect $ip_kernel:$port)
        ready=(kernel_listening $ns_kn) ;;
    ck) rx_ns=$ns_kn; rx_args=(--stack kernel); tx_ns=$ns_co; tx_args=("${co_a[@]}" --connect $ip_kernel:$port)
        ready=(kernel_listening $ns_kn) ;;
    kc) rx_ns=$ns_co; rx_args=("${co_a[@]}"); tx_ns=$ns_kn; tx_args=(--stack kernel --connect $ip_coronet:$port)
        ready=(answers_ping $ns_kn $ip_coronet) ;;
    cc) rx_ns=$ns_kn; rx_args=("${co_b[@]}"); tx_ns=$ns_co; tx_args=("${co_a[@]}" --connect $ip_coronet2:$port)
        ready=(answers_ping $ns_co $ip_coronet2) ;;
  esac
  ip netns exec $rx_ns timeout 120 "$bulk" "${rx_args[@]}" --listen $port --no-hash --verify-seed "$seed" \
    --timeout 30 >"$tmp/rx.log" 2>&1 &
  rx=$!
  if ! wait_until "${ready[@]}"; then
    echo "${name[$row]}: the receiver did not come up: $(cat "$tmp/rx.log")" >>"$tmp/failures"
    kill -TERM $rx 2>/dev/null || true
    wait $rx 2>/dev/null || true
    rx=
    return
  fi
  local txrc=0 rxrc=0 line
  ip netns exec $tx_ns timeout 120 "$bulk" "${tx_args[@]}" --send "$bytes" --seed "$seed" --no-hash \
    --timeout 30 >"$tmp/tx.log" 2>&1 || txrc=$?
  wait $rx || rxrc=$?
  rx=
  line=$(grep -m1 '^sent=' "$tmp/rx.log" || true)
  if [ $txrc -ne 0 ] || [ $rxrc -ne 0 ] || [[ "$line" != *" result=ok"* ]]; then
    { echo "${name[$row]} (seed $seed): sender exit $txrc, receiver exit $rxrc"; cat "$tmp/tx.log" "$tmp/rx.log"; } \
      >>"$tmp/failures"
    return
  fi
  run_result=$(sed -n 's/.* recv_gbps=\([0-9.]*\).*/\1/p' <<<"$line")
}

median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }
# cell VALUES...: "median [min..max]", or "failed F/N" when F of the N runs failed.
cell() {
  local failed
  failed=$(printf '%s\n' "$@" | grep -c fail || true)
  if [ "$failed" -gt 0 ]; then echo "failed $failed/$#"; return; fi
  local sorted=($(printf '%s\n' "$@" | sort -g))
  echo "$(median "$@") [${sorted[0]}..${sorted[$(($# - 1))]}]"
}

rows=(kk ck kc cc)
declare -A name=([kk]="kernel  -> kernel" [ck]="coronet -> kernel" [kc]="kernel  -> coronet" [cc]="coronet -> coronet")
declare -A result ratio vals
echo "bulk throughput: $runs runs of $bytes bytes per cell, receiver's Gbit/s; $(uname -r), $(nproc) CPUs;" \
  "coronet's device: ${dev[*]:-af_packet}"
for mode in "${modes[@]}"; do
  lab "$mode"
  for row in "${rows[@]}"; do vals[$row]=""; done
  for r in $(seq "$runs"); do  # rows interleaved, so drift during the run hits every row alike
    for row in "${rows[@]}"; do
      one_run "$row" "$r"
      vals[$row]+="$run_result "
    done
  done
  for row in "${rows[@]}"; do
    result[$mode,$row]=$(cell ${vals[$row]})
    ratio[$mode,$row]=""
    if [[ "${vals[$row]} ${vals[kk]}" != *fail* ]]; then
      ratio[$mode,$row]=$(awk -v a="$(median ${vals[$row]})" -v b="$(median ${vals[kk]})" \
        'BEGIN { if (b > 0) printf "%.2fx kernel", a / b }')
    fi
  done
  scripts/lab.sh down --prefix tp >/dev/null
done

printf '%-20s' "path"
for mode in "${modes[@]}"; do printf '  %-40s' "offloads $mode: median [range]"; done
echo
for row in "${rows[@]}"; do
  printf '%-20s' "${name[$row]}"
  for mode in "${modes[@]}"; do printf '  %-40s' "${result[$mode,$row]}  ${ratio[$mode,$row]}"; done
  echo
done
if [ -s "$tmp/failures" ]; then
  echo "-- failed runs --"
  cat "$tmp/failures"
fi
exit 0
