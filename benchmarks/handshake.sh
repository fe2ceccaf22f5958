#!/usr/bin/env bash
# benchmarks/handshake.sh - handshake time, coronet beside the kernel, on one
# veth pair in one run (as root; builds what it needs in build/).
#
#   benchmarks/handshake.sh [--count N]
#
# Lab "hs": namespace hs-co (coronet owns 198.18.40.2 on hs-co0; the kernel
# there has 198.18.40.3 on the same interface for its own runs) and hs-kn
# (kernel, 198.18.40.1). Rows, each from handshake-bench:
#   client in hs-co -> kernel server in hs-kn:  kernel connect() vs coronet connect (sleeping, busy-poll)
#   client in hs-kn -> server in hs-co:          kernel server (.3) vs coronet-echo serve (.2),
#                                                sleeping and busy-polling
set -euo pipefail
cd "$(dirname "$0")/.."
count=500
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift 2 ;;
    *) echo "usage: $0 [--count N]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "handshake.sh: needs root (namespaces, AF_PACKET)" >&2; exit 2; }
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
eval "$(scripts/lab.sh up --prefix hs --net 40)"
ip -n hs-co addr add 198.18.40.3/24 dev hs-co0
ip netns exec hs-kn $bin/handshake-bench server --listen 198.18.40.1:7 & pids+=($!)
ip netns exec hs-co $bin/handshake-bench server --listen 198.18.40.3:7 & pids+=($!)
sleep 0.2

echo "handshake time, $count sequential connections each, $(uname -r), $(nproc) CPUs"
echo "-- client in hs-co -> kernel server 198.18.40.1:7 --"
ip netns exec hs-co $bin/handshake-bench kernel --to 198.18.40.1:7 --count "$count"
ip netns exec hs-co $bin/handshake-bench coronet --iface hs-co0 --addr 198.18.40.2/24 --to 198.18.40.1:7 --count "$count"
ip netns exec hs-co $bin/handshake-bench coronet --iface hs-co0 --addr 198.18.40.2/24 --to 198.18.40.1:7 --count "$count" --busy-poll
echo "-- kernel client in hs-kn -> server in hs-co --"
# Servers only now, one at a time: two coronet stacks on one interface and
# address would reset each other's connections.
echo -n "kernel server 198.18.40.3:            "; ip netns exec hs-kn $bin/handshake-bench kernel --to 198.18.40.3:7 --count "$count"
for mode in sleeping busy-poll; do
  flag=; [ $mode = busy-poll ] && flag=--busy-poll
  ip netns exec hs-co $bin/coronet-echo serve --iface hs-co0 --addr 198.18.40.2/24 --port 7 --quiet $flag >/dev/null &
  server=$!
  pids+=($server)
  for _ in $(seq 50); do ip netns exec hs-kn ping -c1 -W1 198.18.40.2 >/dev/null 2>&1 && break; sleep 0.1; done
  printf '%-38s' "coronet server 198.18.40.2 ($mode): "
  ip netns exec hs-kn $bin/handshake-bench kernel --to 198.18.40.2:7 --count "$count"
  kill -TERM $server; wait $server || true
done
