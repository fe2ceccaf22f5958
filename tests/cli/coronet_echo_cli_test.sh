#!/usr/bin/env bash
# coronet-echo's command line: bad input gets a clear message and exit 2;
# --help exits 0. No lab needed (the missing-privilege case needs root to drop
# privileges with setpriv, and is skipped without it).
set -uo pipefail
source "$(dirname "$0")/unprivileged.sh"
bin=${1:?usage: $0 BUILD_BIN_DIR}/coronet-echo
pass=0 fail=0

# expect NAME STATUS PATTERN ARGS...: runs coronet-echo ARGS, wants STATUS and PATTERN in its output.
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

expect "no mode -> usage, exit 2" 2 "no mode given"
expect "--help -> usage, exit 0" 0 "coronet-echo connect --iface IF" --help
expect "unknown mode -> exit 2" 2 "listen" listen --iface lo
expect "unknown flag -> exit 2 naming it" 2 "unknown flag --bogus" serve --bogus
expect "bad address -> exit 2" 2 "IP/PREFIX" serve --iface lo --addr 1.2.3/24 --port 7
expect "prefix out of range -> exit 2" 2 "IP/PREFIX\|prefix" serve --iface lo --addr 198.18.0.2/33 --port 7
expect "missing --port -> exit 2" 2 "port" serve --iface lo --addr 198.18.0.2/24
expect "bad --to port -> exit 2" 2 "IP:PORT" connect --iface lo --addr 198.18.0.2/24 --to 198.18.0.1:99999
expect "bad --count -> exit 2" 2 "count" connect --iface lo --addr 198.18.0.2/24 --to 198.18.0.1:7 --count -3
srv=(serve --iface lo --addr 198.18.0.2/24 --port 7)
# The packet-device flags (net/device_flags.hpp).
expect "unknown backend -> exit 2 naming the choices" 2 "unknown backend 'dpdk' (available: af_packet, af_xdp)" \
  "${srv[@]}" --backend dpdk
expect "bad --xdp-mode -> exit 2 naming the choices" 2 "--xdp-mode takes auto, native or generic; got 'skb'" \
  "${srv[@]}" --backend af_xdp --xdp-mode skb
expect "bad --xdp-bind -> exit 2 naming the choices" 2 "--xdp-bind takes auto, zerocopy or copy; got 'zero-copy'" \
  connect --iface lo --addr 198.18.0.2/24 --to 198.18.0.1:7 --backend af_xdp --xdp-bind=zero-copy
expect "--queue above 1023 -> exit 2" 2 "--queue takes an RX queue number 0..1023; got '1024'" \
  "${srv[@]}" --backend af_xdp --queue 1024
expect "--xdp-fill above 2048 -> exit 2" 2 "--xdp-fill takes a number of RX frames 1..2048; got '4096'" \
  "${srv[@]}" --backend af_xdp --xdp-fill 4096
expect "--queue negative -> exit 2" 2 "--queue takes an RX queue number 0..1023; got '-1'" \
  "${srv[@]}" --backend af_xdp --queue=-1
expect "--queue not a number -> exit 2" 2 "got 'first'" "${srv[@]}" --backend af_xdp --queue first
expect "--queue without a value -> exit 2" 2 "--queue needs a value" "${srv[@]}" --backend af_xdp --queue
expect "--xdp-mode without --backend af_xdp -> exit 2" 2 "--xdp-mode needs --backend af_xdp" \
  "${srv[@]}" --xdp-mode native
expect "--queue with --backend af_packet -> exit 2" 2 "--queue needs --backend af_xdp (the backend is af_packet)" \
  "${srv[@]}" --queue 0 --backend af_packet
expect "bad device flag -> the usage follows the message" 2 "--xdp-bind BIND" "${srv[@]}" --xdp-bind x
expect "--help lists the device flags" 0 "--xdp-mode MODE.*af_xdp: auto" --help
expect "device flags pass the parser (fails later, on the interface)" 2 "nosuchif0 not found" \
  serve --iface nosuchif0 --addr 198.18.0.2/24 --port 7 --queue 3 --xdp-bind copy --xdp-mode generic --backend af_xdp
expect "unknown --sysctl name -> exit 2, lists valid names" 2 "net.ipv4.tcp_synack_retries" \
  serve --iface lo --addr 198.18.0.2/24 --port 7 --sysctl net.ipv4.tcp_nonsense=1
expect "bad --sysctl value -> exit 2, says what is accepted" 2 "expected an integer" \
  serve --iface lo --addr 198.18.0.2/24 --port 7 --sysctl net.ipv4.tcp_syn_retries=abc
expect "missing interface -> exit 2 naming it" 2 "nosuchif0 not found" \
  serve --iface nosuchif0 --addr 198.18.0.2/24 --port 7
expect "--help lists --impair" 0 "--impair SPEC" --help
expect "--impair without % -> exit 2, names the item" 2 "bad impairment item 'loss=1'" \
  serve --iface lo --addr 198.18.0.2/24 --port 7 --impair loss=1
expect "--impair unknown key -> exit 2, shows the grammar" 2 "unknown key 'jitter'.*reorder-gap=K" \
  connect --iface lo --addr 198.18.0.2/24 --to 198.18.0.1:7 --impair loss=1%,jitter=5%
expect "--impair out of range -> exit 2" 2 "0..100" \
  serve --iface lo --addr 198.18.0.2/24 --port 7 --impair=tx.dup=150%
expect "--impair empty -> exit 2" 2 "empty impairment spec" \
  serve --iface lo --addr 198.18.0.2/24 --port 7 --impair=
# A good spec passes the parser: the run then stops at the missing interface.
expect "--impair good spec -> accepted (fails later, on the interface)" 2 "nosuchif0 not found" \
  serve --iface nosuchif0 --addr 198.18.0.2/24 --port 7 --impair loss=1%,rx.reorder=2.5%,reorder-gap=4,seed=9
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  out=$(as_nobody "$bin" serve --iface lo --addr 198.18.0.2/24 --port 7 2>&1); rc=$?
  if [ "$rc" -eq 2 ] && grep -q "CAP_NET_RAW" <<<"$out"; then
    echo "ok   - without CAP_NET_RAW -> exit 2 naming the capability"; pass=$((pass + 1))
  else
    echo "FAIL - without CAP_NET_RAW: status $rc: $out"; fail=$((fail + 1))
  fi
  out=$(as_nobody "$bin" "${srv[@]}" --backend af_xdp 2>&1); rc=$?
  if [ "$rc" -eq 2 ] && grep -q "AF_XDP needs CAP_NET_ADMIN, CAP_BPF and CAP_NET_RAW" <<<"$out"; then
    echo "ok   - af_xdp without privileges -> exit 2 naming CAP_NET_ADMIN, CAP_BPF, CAP_NET_RAW"; pass=$((pass + 1))
  else
    echo "FAIL - af_xdp without privileges: status $rc: $out"; fail=$((fail + 1))
  fi
else
  echo "skip - without CAP_NET_RAW (needs root to drop privileges)"
  echo "skip - af_xdp without privileges (needs root to drop privileges)"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
