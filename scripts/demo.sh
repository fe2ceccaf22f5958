#!/usr/bin/env bash
# scripts/demo.sh - the main demo, from a fresh Debian 12 machine (as root):
# installs packages, builds coronet-echo, creates the lab (namespaces
# demo-co and demo-kn joined by a veth pair, 198.18.1.0/24), then
#   1. coronet accepts a connection from the kernel's TCP client (socat), and
#   2. coronet connects out to a kernel TCP server (socat),
# printing each handshake step coronet sees, with timings in µs.
# Everything it starts is stopped and the lab removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: needs root (apt-get, network namespaces, AF_PACKET's CAP_NET_RAW)" >&2
  exit 2
fi
scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build coronet-echo

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$root/scripts/lab.sh" down --prefix demo
}
trap cleanup EXIT
eval "$(scripts/lab.sh up --prefix demo --net 1)"
co=$LAB_IP_CORONET
kn=$LAB_IP_KERNEL
echo
echo "lab: namespace $LAB_NS_CORONET ($LAB_IF_CORONET, coronet owns $co) <-veth-> $LAB_NS_KERNEL ($LAB_IF_KERNEL, kernel $kn)"

echo
echo "=== 1. kernel client (socat in $LAB_NS_KERNEL) -> coronet-echo serve on $co:7 ==="
ip netns exec "$LAB_NS_CORONET" build/bin/coronet-echo serve --iface "$LAB_IF_CORONET" --addr "$co/24" \
  --port 7 --steps &
server=$!
pids+=("$server")
for _ in $(seq 50); do ip netns exec "$LAB_NS_KERNEL" ping -c1 -W1 "$co" >/dev/null 2>&1 && break; sleep 0.1; done
reply=$(printf 'hello from the kernel\n' | ip netns exec "$LAB_NS_KERNEL" timeout 10 socat -t 2 - "TCP:$co:7")
sleep 0.2
echo "kernel client got back: \"$reply\""
kill -TERM "$server"
wait "$server" || true
pids=()

echo
echo "=== 2. coronet-echo connect -> kernel server (socat in $LAB_NS_KERNEL) on $kn:7 ==="
ip netns exec "$LAB_NS_KERNEL" socat "TCP-LISTEN:7,bind=$kn,fork,reuseaddr" PIPE &
pids+=($!)
for _ in $(seq 50); do ip netns exec "$LAB_NS_KERNEL" ss -Hltn 'sport = :7' | grep -q LISTEN && break; sleep 0.1; done
ip netns exec "$LAB_NS_CORONET" build/bin/coronet-echo connect --iface "$LAB_IF_CORONET" --addr "$co/24" \
  --to "$kn:7" --count 1000 --size 64 --steps --linger 200
