#!/usr/bin/env bash
# Namespace test: flow control against a slow reader, both ways.
#  - coronet sends 4 MiB to a kernel reader with a tiny receive buffer
#    (SO_RCVBUF 4096) that sleeps 2 ms after each read and, once 1 MiB is in,
#    stops reading for 1.5 s. Passes when every byte arrives (SHA-256 equal)
#    and the window is seen at zero: coronet's TcpExtTCPWinProbe, or
#    zero-window ACKs from the kernel in coronet's --pcap capture.
#    Why the stall: a 2 ms reader alone never shows a zero window on the wire.
#    Linux ACKs the full 2-segment window when the application reads
#    (tcp_cleanup_rbuf), long before its delayed-ACK timer would advertise the
#    full buffer as window 0, so the sender is window-limited without ever
#    seeing 0 and has nothing to probe.
#  - the kernel sends 4 MiB to coronet reading the same way with a 4 KiB
#    receive buffer (net.ipv4.tcp_rmem=4096), stalled likewise: coronet must
#    advertise a zero window (TcpExtTCPToZeroWindowAdv) or the kernel probe it
#    (its nstat TcpExtTCPWinProbe), and every byte arrive.
source "$(dirname "$0")/lib.sh"
lab_up tz 33
bulk=$LAB_BIN/coronet-bulk
size=$((4 << 20))
port=5001
coronet_args=(--stack coronet --iface "$LAB_IF_CORONET" --addr "$LAB_IP_CORONET/24" --timeout 60 --stats
  "${LAB_DEV[@]}")

field() { grep -m1 '^sent=' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
counter() { awk -v n="$2" '$1 == n { print $2 }' "$1"; }
kernel_counter() { in_kernel nstat -asz "$1" 2>/dev/null | awk -v n="$1" '$1 == n { print $2 }'; }
show() { echo "--- $1"; cat "$1"; }

# FROM's sent stream arrived whole at TO.
delivered() {
  local sent_sha recv_sha
  sent_sha=$(field "$1" sent_sha256)
  recv_sha=$(field "$2" recv_sha256)
  # Both hashes present: two missing fields would compare equal.
  [ "$(field "$1" sent)" = "$size" ] && [ "$(field "$2" recv)" = "$size" ] &&
    [ -n "$sent_sha" ] && [ "$sent_sha" = "$recv_sha" ]
}

to_slow_kernel() {
  bg_kernel "$LAB_TMP/kn1.log" timeout 120 "$bulk" --stack kernel --listen $port --rcvbuf 4096 \
    --read-delay-us 2000 --stall-after 1M --stall-ms 1500 --timeout 60 --stats
  local kn=$BG_PID crc krc
  wait_for 50 bash -c "ip netns exec $LAB_NS_KERNEL ss -Hltn 'sport = :$port' | grep -q LISTEN" ||
    { echo "kernel listener did not start"; show "$LAB_TMP/kn1.log"; return 1; }
  in_coronet timeout 120 "$bulk" "${coronet_args[@]}" --connect "$LAB_IP_KERNEL:$port" --send $size --seed 3 \
    --pcap "$LAB_TMP/co1.pcap" >"$LAB_TMP/co1.log" 2>&1
  crc=$?
  wait "$kn"; krc=$?
  local probes zero_acks kernel_zero
  probes=$(counter "$LAB_TMP/co1.log" TcpExtTCPWinProbe)
  # ACKs from the kernel with a zero window field (TCP header bytes 14-15).
  zero_acks=$(tcpdump -nr "$LAB_TMP/co1.pcap" "src host $LAB_IP_KERNEL and tcp[14:2] = 0 and tcp[tcpflags] & tcp-rst = 0" \
    2>/dev/null | wc -l)
  kernel_zero=$(kernel_counter TcpExtTCPToZeroWindowAdv)
  echo "exit: coronet $crc, kernel $krc; coronet TcpExtTCPWinProbe ${probes:-0}, zero-window ACKs captured" \
    "$zero_acks, kernel TcpExtTCPToZeroWindowAdv ${kernel_zero:-?}; $(field "$LAB_TMP/kn1.log" recv_gbps) Gbit/s"
  if [ "$crc" -eq 0 ] && [ "$krc" -eq 0 ] && delivered "$LAB_TMP/co1.log" "$LAB_TMP/kn1.log" &&
    { [ "${probes:-0}" -gt 0 ] || [ "$zero_acks" -gt 0 ]; }; then
    return 0
  fi
  show "$LAB_TMP/co1.log"; show "$LAB_TMP/kn1.log"; return 1
}
check "coronet -> slow kernel reader (SO_RCVBUF 4096, 2 ms per read, 1.5 s stall): 4 MiB intact, window seen at 0" \
  to_slow_kernel

from_kernel_to_slow_coronet() {
  bg_in_coronet "$LAB_TMP/co2.log" timeout 120 "$bulk" "${coronet_args[@]}" --listen $port \
    --sysctl net.ipv4.tcp_rmem=4096 --read-delay-us 2000 --stall-after 1M --stall-ms 1500
  local co=$BG_PID crc krc
  wait_for 100 in_kernel ping -c1 -W1 "$LAB_IP_CORONET" || { echo "coronet-bulk did not come up"; show "$LAB_TMP/co2.log"; return 1; }
  in_kernel timeout 120 "$bulk" --stack kernel --connect "$LAB_IP_CORONET:$port" --send $size --seed 4 --timeout 60 \
    >"$LAB_TMP/kn2.log" 2>&1
  krc=$?
  wait "$co"; crc=$?
  local zero kprobes
  zero=$(counter "$LAB_TMP/co2.log" TcpExtTCPToZeroWindowAdv)
  kprobes=$(kernel_counter TcpExtTCPWinProbe)
  echo "exit: coronet $crc, kernel $krc; coronet TcpExtTCPToZeroWindowAdv ${zero:-0}," \
    "kernel TcpExtTCPWinProbe ${kprobes:-?}; $(field "$LAB_TMP/co2.log" recv_gbps) Gbit/s"
  if [ "$crc" -eq 0 ] && [ "$krc" -eq 0 ] && delivered "$LAB_TMP/kn2.log" "$LAB_TMP/co2.log" &&
    { [ "${zero:-0}" -gt 0 ] || [ "${kprobes:-0}" -gt 0 ]; }; then
    return 0
  fi
  show "$LAB_TMP/co2.log"; show "$LAB_TMP/kn2.log"; return 1
}
check "kernel -> slow coronet reader (tcp_rmem 4096, 2 ms per read, 1.5 s stall): 4 MiB intact, window 0 advertised" \
  from_kernel_to_slow_coronet

lab_finish
