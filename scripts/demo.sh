#!/usr/bin/env bash
# scripts/demo.sh - the main demo, from a fresh Debian 12 machine (as root):
# installs packages, builds coronet-echo, creates the lab (namespaces
# demo-co and demo-kn joined by a veth pair, 198.18.1.0/24), then
#   1. coronet accepts a connection from the kernel's TCP client (socat), and
#   2. coronet connects out to a kernel TCP server (socat),
# printing each handshake step coronet sees, with timings in µs, on the
# packet device --backend names (default af_packet), then
#   3. coronet on AF_XDP (its own XDP program, native mode) serves the kernel's
#      client while the kernel keeps its own address on the same interface
#      and answers ping there.
# Everything it starts is stopped and the lab removed on exit.
#
#   scripts/demo.sh [--backend af_packet|af_xdp] [--xdp-mode auto|native|generic]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

dev=()
while [ $# -gt 0 ]; do
  case "$1" in
    --backend|--xdp-mode)
      [ $# -ge 2 ] || { echo "demo: $1 needs a value" >&2; exit 2; }
      dev+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "demo: unknown argument '$1'" >&2; sed -n '14p' "$0" >&2; exit 2 ;;
  esac
done

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
  --port 7 --steps "${dev[@]}" &
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
  --to "$kn:7" --count 1000 --size 64 --steps --linger 200 "${dev[@]}"
kill -TERM "${pids[@]}"
wait "${pids[@]}" 2>/dev/null || true
pids=()

echo
xdp_log=$(mktemp /tmp/coronet-demo.XXXXXX)
echo "=== 3. AF_XDP: coronet-echo serve on $co:7 and the kernel's own 198.18.1.4 on the same $LAB_IF_CORONET ==="
ip -n "$LAB_NS_CORONET" addr add 198.18.1.4/24 dev "$LAB_IF_CORONET"
ip netns exec "$LAB_NS_CORONET" build/bin/coronet-echo serve --iface "$LAB_IF_CORONET" --addr "$co/24" \
  --port 7 --backend af_xdp --xdp-mode native --stats >"$xdp_log" 2>&1 &
server=$!
pids+=("$server")
for _ in $(seq 50); do ip netns exec "$LAB_NS_KERNEL" ping -c1 -W1 "$co" >/dev/null 2>&1 && break; sleep 0.1; done
reply=$(printf 'hello over AF_XDP\n' | ip netns exec "$LAB_NS_KERNEL" timeout 10 socat -t 2 - "TCP:$co:7")
head -1 "$xdp_log"
echo "kernel client got back: \"$reply\""
echo "the kernel's own address on the same interface, meanwhile:"
ip netns exec "$LAB_NS_KERNEL" ping -c3 -i0.2 -W1 198.18.1.4 | grep -E "packets transmitted"
ip -n "$LAB_NS_CORONET" -d link show dev "$LAB_IF_CORONET" | grep -o "prog/xdp id [0-9]* name [a-z_]*" || true
kill -TERM "$server"
wait "$server" 2>/dev/null || true
pids=()
echo "coronet's counters: what its XDP program steered to it, and what it passed to the kernel:"
grep -E "^(DevRxFrames|DevTxFrames|XdpRedirectIpv4|XdpRedirectArp|XdpPass) " "$xdp_log" || true
rm -f "$xdp_log"
echo "after exit, XDP programs on $LAB_IF_CORONET: $(ip -n "$LAB_NS_CORONET" -d link show dev "$LAB_IF_CORONET" | grep -c "prog/xdp" || true)"
