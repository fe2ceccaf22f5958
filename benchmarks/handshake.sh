#!/usr/bin/env bash
# benchmarks/handshake.sh - handshake time, coronet beside the kernel, on one
# veth pair in one run (as root; builds what it needs in build/).
#
#   benchmarks/handshake.sh [--count N] [--backend af_packet|af_xdp] [--xdp-mode auto|native|generic]
#                           [--xdp-bind auto|zerocopy|copy] [--queue N]
#
# The device flags (net/device_flags.hpp) go to every coronet program it runs;
# the lab keeps the kernel's offloads off (scripts/lab.sh's default).
# Lab "hs": namespace hs-co (coronet owns 198.18.40.2 on hs-co0; the kernel
# there has 198.18.40.4 on the same interface for its own runs: lab.sh
# --kernel-on-coronet-side) and hs-kn (kernel, 198.18.40.1). Rows, each from
# handshake-bench:
#   client in hs-co -> kernel server in hs-kn:  kernel connect() vs coronet connect (sleeping, busy-poll)
#   client in hs-kn -> server in hs-co:          kernel server (.4) vs coronet-echo serve (.2),
#                                                sleeping and busy-polling
set -euo pipefail
cd "$(dirname "$0")/.."
count=500
dev=()  # device flags for coronet's programs, checked by them
usage() {
  echo "usage: $0 [--count N] [--backend af_packet|af_xdp] [--xdp-mode auto|native|generic]" \
    "[--xdp-bind auto|zerocopy|copy] [--queue N]" >&2
  [ -n "${1:-}" ] && echo "handshake.sh: $1" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --count) [ $# -ge 2 ] || usage "--count needs a value"; count=$2; shift 2 ;;
    --backend|--xdp-mode|--xdp-bind|--queue) [ $# -ge 2 ] || usage "$1 needs a value"; dev+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) usage "unknown argument '$1'" ;;
  esac
done
[[ "$count" =~ ^[0-9]+$ ]] && [ "$count" -ge 1 ] && [ "$count" -le 20000 ] || usage "--count takes 1..20000"
[ "$(id -u)" -eq 0 ] || { echo "handshake.sh: needs root (namespaces, AF_PACKET or AF_XDP)" >&2; exit 2; }
scripts/setup.sh >/dev/null
cmake -S . -B build -G Ninja >/dev/null
ninja -C build coronet-echo handshake-bench >/dev/null
bin=build/bin

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  scripts/lab.sh down --prefix hs
}
trap cleanup EXIT
# The device flags are checked before the lab exists: a bad one stops here with coronet-echo's message.
if [ ${#dev[@]} -gt 0 ]; then
  if ! out=$($bin/coronet-echo serve --iface nosuchif0 --addr 198.18.40.2/24 --port 7 "${dev[@]}" 2>&1) &&
    ! grep -q "nosuchif0 not found" <<<"$out"; then
    usage "$(head -1 <<<"$out" | sed 's/^coronet-echo: //')"
  fi
fi
eval "$(scripts/lab.sh up --prefix hs --net 40 --kernel-on-coronet-side)"
ip netns exec hs-kn $bin/handshake-bench server --listen 198.18.40.1:7 & pids+=($!)
ip netns exec hs-co $bin/handshake-bench server --listen $LAB_IP_KERNEL_CO:7 & pids+=($!)
sleep 0.2

echo "handshake time, $count sequential connections each, $(uname -r), $(nproc) CPUs, device: ${dev[*]:-af_packet}"
echo "-- client in hs-co -> kernel server 198.18.40.1:7 --"
ip netns exec hs-co $bin/handshake-bench kernel --to 198.18.40.1:7 --count "$count"
ip netns exec hs-co $bin/handshake-bench coronet --iface hs-co0 --addr 198.18.40.2/24 --to 198.18.40.1:7 \
  --count "$count" "${dev[@]}"
ip netns exec hs-co $bin/handshake-bench coronet --iface hs-co0 --addr 198.18.40.2/24 --to 198.18.40.1:7 \
  --count "$count" --busy-poll "${dev[@]}"
echo "-- kernel client in hs-kn -> server in hs-co --"
# Servers only now, one at a time: two coronet stacks on one interface and
# address would reset each other's connections.
echo -n "kernel server $LAB_IP_KERNEL_CO:            "
ip netns exec hs-kn $bin/handshake-bench kernel --to $LAB_IP_KERNEL_CO:7 --count "$count"
for mode in sleeping busy-poll; do
  flag=; [ $mode = busy-poll ] && flag=--busy-poll
  ip netns exec hs-co $bin/coronet-echo serve --iface hs-co0 --addr 198.18.40.2/24 --port 7 --quiet $flag \
    "${dev[@]}" >/dev/null &
  server=$!
  pids+=($server)
  for _ in $(seq 50); do ip netns exec hs-kn ping -c1 -W1 198.18.40.2 >/dev/null 2>&1 && break; sleep 0.1; done
  printf '%-38s' "coronet server 198.18.40.2 ($mode): "
  ip netns exec hs-kn $bin/handshake-bench kernel --to 198.18.40.2:7 --count "$count"
  kill -TERM $server; wait $server || true
done
