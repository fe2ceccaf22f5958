#!/usr/bin/env bash
# coronet-bulk's command line: bad input gets exit 2 and a message naming the
# problem; --help exits 0. No lab needed; nothing here opens a socket that
# reaches a peer (the kernel cases fail before connecting, or inside a
# network namespace of their own).
set -uo pipefail
source "$(dirname "$0")/unprivileged.sh"
bin=${1:?usage: $0 BUILD_BIN_DIR}/coronet-bulk
pass=0 fail=0

# expect NAME STATUS PATTERN ARGS...: runs coronet-bulk ARGS, wants STATUS and PATTERN in its output.
expect() {
  local name=$1 want=$2 pattern=$3
  shift 3
  local out rc
  out=$(timeout 20 "$bin" "$@" 2>&1); rc=$?
  if [ "$rc" -eq "$want" ] && grep -q -- "$pattern" <<<"$out"; then
    echo "ok   - $name"; pass=$((pass + 1))
  else
    echo "FAIL - $name: status $rc (want $want), output:"; head -5 <<<"$out"; fail=$((fail + 1))
  fi
}

co=(--stack coronet --iface lo --addr 198.18.0.2/24)
expect "no arguments -> exit 2" 2 "no arguments"
expect "--help -> usage and exit statuses, exit 0" 0 "3 connection reset by peer" --help
expect "missing --stack -> exit 2" 2 "missing --stack" --listen 5001
expect "unknown stack -> exit 2 naming the choices" 2 "coronet or kernel" --stack bsd --listen 5001
expect "unknown flag -> exit 2 naming it" 2 "unknown flag --bogus" --stack kernel --listen 5001 --bogus
expect "stray argument -> exit 2" 2 "unexpected argument 'extra'" --stack kernel --listen 5001 extra
expect "neither --listen nor --connect -> exit 2" 2 "missing --listen PORT or --connect" --stack kernel --send 1M
expect "--listen and --connect together -> exit 2" 2 "exclude each other" \
  --stack kernel --listen 5001 --connect 198.18.0.1:5001
expect "--listen port out of range -> exit 2" 2 "1..65535" --stack kernel --listen 70000
expect "--connect without a port -> exit 2" 2 "IP:PORT" --stack kernel --connect 198.18.0.1
expect "--send not a size -> exit 2" 2 "--send wants a byte count" --stack kernel --listen 5001 --send lots
expect "--send negative -> exit 2" 2 "--send wants a byte count" --stack kernel --listen 5001 --send -5
expect "flag without its value -> exit 2" 2 "--seed needs a value" --stack kernel --listen 5001 --seed
expect "--recv takes no value -> exit 2" 2 "--recv takes no value" --stack kernel --listen 5001 --recv=yes
expect "--count with --connect -> exit 2" 2 "--count belongs to --listen" \
  --stack kernel --connect 198.18.0.1:5001 --count 2
expect "--count 0 -> exit 2" 2 "--count wants a number >= 1" --stack kernel --listen 5001 --count 0
expect "--reset-after 0 -> exit 2" 2 "--reset-after wants" --stack kernel --listen 5001 --reset-after 0
expect "bad --timeout -> exit 2" 2 "--timeout wants" --stack kernel --listen 5001 --timeout -1
expect "--stall-ms without --stall-after -> exit 2" 2 "--stall-ms needs --stall-after" \
  --stack kernel --listen 5001 --stall-ms 100
expect "coronet flag on the kernel stack -> exit 2" 2 "--iface belongs to --stack coronet" \
  --stack kernel --listen 5001 --iface lo
expect "kernel flag on the coronet stack -> exit 2" 2 "--rcvbuf belongs to --stack kernel" \
  "${co[@]}" --listen 5001 --rcvbuf 4096
expect "coronet without --iface -> exit 2" 2 "needs --iface" --stack coronet --addr 198.18.0.2/24 --listen 5001
expect "coronet without --addr -> exit 2" 2 "needs --addr" --stack coronet --iface lo --listen 5001
expect "bad --addr -> exit 2" 2 "IP/PREFIX" --stack coronet --iface lo --addr 198.18.0.2 --listen 5001
expect "bad --rcvbuf -> exit 2" 2 "--rcvbuf wants" --stack kernel --listen 5001 --rcvbuf 0
# The packet-device flags (net/device_flags.hpp).
expect "unknown backend -> exit 2 naming the choices" 2 "unknown backend 'dpdk' (available: af_packet, af_xdp)" \
  "${co[@]}" --listen 5001 --backend dpdk
expect "bad --xdp-mode -> exit 2 naming the choices" 2 "--xdp-mode takes auto, native or generic; got 'drv'" \
  "${co[@]}" --listen 5001 --backend af_xdp --xdp-mode drv
expect "bad --xdp-bind -> exit 2 naming the choices" 2 "--xdp-bind takes auto, zerocopy or copy; got 'zc'" \
  "${co[@]}" --listen 5001 --backend af_xdp --xdp-bind zc
expect "--queue above 1023 -> exit 2" 2 "--queue takes an RX queue number 0..1023; got '4096'" \
  "${co[@]}" --listen 5001 --backend af_xdp --queue 4096
expect "--queue not a number -> exit 2" 2 "--queue takes an RX queue number 0..1023; got 'all'" \
  "${co[@]}" --listen 5001 --backend af_xdp --queue=all
expect "--xdp-bind without --backend af_xdp -> exit 2" 2 "--xdp-bind needs --backend af_xdp" \
  "${co[@]}" --listen 5001 --xdp-bind copy
expect "--queue with --backend af_packet -> exit 2" 2 "--queue needs --backend af_xdp (the backend is af_packet)" \
  "${co[@]}" --listen 5001 --backend af_packet --queue 0
expect "--xdp-fill 0 -> exit 2" 2 "--xdp-fill takes a number of RX frames 1..2048; got '0'" \
  "${co[@]}" --listen 5001 --backend af_xdp --xdp-fill 0
expect "--xdp-fill with --backend af_packet -> exit 2" 2 "--xdp-fill needs --backend af_xdp (the backend is af_packet)" \
  "${co[@]}" --listen 5001 --xdp-fill 64
expect "device flag on the kernel stack -> exit 2" 2 "--xdp-mode belongs to --stack coronet" \
  --stack kernel --listen 5001 --xdp-mode native
expect "--help lists the device flags" 0 "--queue N .*af_xdp: only RX queue N" --help
expect "device flags pass the parser (fails later, on the interface)" 2 "nosuchif0 not found" \
  --stack coronet --iface nosuchif0 --addr 198.18.0.2/24 --listen 5001 --backend af_xdp --xdp-mode native --queue 0
expect "unknown --sysctl name -> exit 2 listing valid names" 2 "net.ipv4.tcp_rmem" \
  "${co[@]}" --listen 5001 --sysctl net.ipv4.tcp_nonsense=1
expect "bad --sysctl value -> exit 2" 2 "net.ipv4.tcp_syn_retries" \
  "${co[@]}" --listen 5001 --sysctl net.ipv4.tcp_syn_retries=abc
expect "bad --impair spec -> exit 2 naming it" 2 "--impair" "${co[@]}" --listen 5001 --impair loss=lots
expect "missing interface -> exit 2 naming it" 2 "nosuchif0 not found" \
  --stack coronet --iface nosuchif0 --addr 198.18.0.2/24 --listen 5001
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  out=$(as_nobody "$bin" "${co[@]}" --listen 5001 2>&1); rc=$?
  if [ "$rc" -eq 2 ] && grep -q "CAP_NET_RAW" <<<"$out"; then
    echo "ok   - without CAP_NET_RAW -> exit 2 naming the capability"; pass=$((pass + 1))
  else
    echo "FAIL - without CAP_NET_RAW: status $rc: $out"; fail=$((fail + 1))
  fi
  out=$(as_nobody "$bin" "${co[@]}" --listen 5001 --backend af_xdp 2>&1); rc=$?
  if [ "$rc" -eq 2 ] && grep -q "AF_XDP needs CAP_NET_ADMIN, CAP_BPF and CAP_NET_RAW" <<<"$out"; then
    echo "ok   - af_xdp without privileges -> exit 2 naming CAP_NET_ADMIN, CAP_BPF, CAP_NET_RAW"; pass=$((pass + 1))
  else
    echo "FAIL - af_xdp without privileges: status $rc: $out"; fail=$((fail + 1))
  fi
else
  echo "skip - without CAP_NET_RAW (needs root to drop privileges)"
  echo "skip - af_xdp without privileges (needs root to drop privileges)"
fi
# Run-time errors have their own statuses. A refused connection needs a peer
# that refuses: a network namespace of the test's own (unshare -n) whose only
# interface, lo, carries 198.18.0.1, so the SYN and the RST never leave it.
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
  out=$(timeout 20 unshare --net bash -c 'ip link set lo up && ip addr add 198.18.0.1/32 dev lo && exec "$@"' _ \
    "$bin" --stack kernel --connect 198.18.0.1:9 --timeout 5 2>&1); rc=$?
  if [ "$rc" -eq 4 ] && grep -q "connection refused" <<<"$out"; then
    echo "ok   - kernel connect to a closed port -> exit 4, says refused"; pass=$((pass + 1))
  else
    echo "FAIL - kernel connect to a closed port: status $rc (want 4): $out"; fail=$((fail + 1))
  fi
elif [ "${CORONET_REQUIRE_LAB:-0}" = 1 ]; then
  echo "FAIL - kernel connect to a closed port: needs root and unshare (CORONET_REQUIRE_LAB=1)"; fail=$((fail + 1))
else
  echo "skip - kernel connect to a closed port (needs root for a network namespace of its own)"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
