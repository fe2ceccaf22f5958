#!/usr/bin/env bash
# Namespace test: 64 MiB each way between coronet and the kernel over a lossy,
# reordering path. The path is netem on the kernel's end of the veth
# (loss 1%, delay 1 ms, 25% of packets reordered) when this kernel has netem;
# otherwise coronet's own impaired device (--impair loss=1%,dup=1%,reorder=2%,
# both directions: io/impaired_device.hpp), after a line saying why netem is
# not used. Passes only when both ends exit 0 and each side's sent SHA-256
# equals the other's received SHA-256; coronet's counters are printed so the
# retransmissions, SACK and out-of-order work can be read in the log.
source "$(dirname "$0")/lib.sh"
lab_up ti 31
bulk=$LAB_BIN/coronet-bulk
size=$((64 << 20))
port=5001
netem=(netem loss 1% delay 1ms reorder 25% 50%)
impair=loss=1%,dup=1%,reorder=2%

field() { grep -m1 '^sent=' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
show() { echo "--- $1"; cat "$1"; }

impair_args=()
if err=$(in_kernel tc qdisc add dev "$LAB_IF_KERNEL" root "${netem[@]}" 2>&1); then
  echo "path: netem on $LAB_IF_KERNEL (kernel -> coronet): ${netem[*]}"
else
  echo "SKIP netem: 'tc qdisc add dev $LAB_IF_KERNEL root ${netem[*]}' failed: ${err:-exit status $?}"
  echo "path: coronet's impaired device instead: --impair $impair"
  impair_args=(--impair "$impair")
fi

lossy_transfer() {
  bg_kernel "$LAB_TMP/kn.log" timeout 120 "$bulk" --stack kernel --listen $port --send $size --seed 31 --timeout 60 --stats
  local kn=$BG_PID crc krc
  wait_for 50 bash -c "ip netns exec $LAB_NS_KERNEL ss -Hltn 'sport = :$port' | grep -q LISTEN" ||
    { echo "kernel listener did not start"; show "$LAB_TMP/kn.log"; return 1; }
  in_coronet timeout 120 "$bulk" --stack coronet --iface "$LAB_IF_CORONET" --addr "$LAB_IP_CORONET/24" \
    "${LAB_DEV[@]}" --connect "$LAB_IP_KERNEL:$port" --send $size --seed 32 --timeout 60 --stats \
    "${impair_args[@]}" >"$LAB_TMP/co.log" 2>&1
  crc=$?
  wait "$kn"; krc=$?
  echo "exit: coronet $crc, kernel $krc; $(field "$LAB_TMP/co.log" recv_gbps) Gbit/s into coronet," \
    "$(field "$LAB_TMP/kn.log" recv_gbps) Gbit/s into the kernel"
  echo "coronet's counters:"; grep -v '^sent=' "$LAB_TMP/co.log" | sed 's/^/  /'
  echo "kernel: $(grep '^tcp_info:' "$LAB_TMP/kn.log")"
  local a_sent b_recv b_sent a_recv
  a_sent=$(field "$LAB_TMP/co.log" sent_sha256); b_recv=$(field "$LAB_TMP/kn.log" recv_sha256)
  b_sent=$(field "$LAB_TMP/kn.log" sent_sha256); a_recv=$(field "$LAB_TMP/co.log" recv_sha256)
  [ "$crc" -eq 0 ] && [ "$krc" -eq 0 ] && [ "$(field "$LAB_TMP/co.log" sent)" = "$size" ] &&
    [ "$(field "$LAB_TMP/kn.log" sent)" = "$size" ] && [ -n "$a_sent" ] && [ "$a_sent" = "$b_recv" ] &&
    [ -n "$b_sent" ] && [ "$b_sent" = "$a_recv" ] && return 0
  show "$LAB_TMP/kn.log"; return 1
}
check "64 MiB each way over the lossy path, SHA-256 equal on both sides" lossy_transfer
# The path really was impaired: what the kernel sent reached coronet with
# holes and out of order (netem, or coronet's own --impair).
impaired() {
  local n
  n=$(awk '$1 == "TcpExtTCPOFOQueue" { print $2 }' "$LAB_TMP/co.log")
  [ "${n:-0}" -gt 0 ] || { echo "TcpExtTCPOFOQueue is '${n:-absent}': nothing arrived out of order"; return 1; }
}
check "the path was lossy: segments reached coronet out of order (TcpExtTCPOFOQueue > 0)" impaired

lab_finish
