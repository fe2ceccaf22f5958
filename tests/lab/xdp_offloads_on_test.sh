#!/usr/bin/env bash
# backends: af_xdp-native af_xdp-generic
# Namespace test: AF_XDP with the kernel peer's veth offloads on. The kernel
# leaves TCP checksums to offload (CHECKSUM_PARTIAL: the field holds only the
# pseudo-header sum) and AF_XDP, unlike AF_PACKET's PACKET_AUXDATA, cannot say
# so. coronet must drop those segments under their own counter
# (TcpCsumPartial), say once on stderr what to change, and work as soon as
# the peer's checksum offload is off. Usage: BIN_DIR BACKEND.
source "$(dirname "$0")/lib.sh"
lab_up xo 38 --offloads on
ip=$LAB_IP_CORONET
echo "lab: coronet $ip on $LAB_IF_CORONET, kernel $LAB_IP_KERNEL, offloads on"

bg_coronet "$LAB_TMP/serve.log" serve --iface "$LAB_IF_CORONET" --addr "$ip/24" --port 7 --stats "${LAB_DEV[@]}"
server=$BG_PID
if ! wait_for 100 in_kernel ping -c1 -W1 "$ip"; then
  echo "FAIL: coronet-echo serve did not come up"; cat "$LAB_TMP/serve.log"; exit 1
fi
# ICMP checksums are complete even with offloads on: the ping above passed.

line() { [ "$(printf 'offload %s\n' "$1" | in_kernel timeout 8 nc -N -w 3 "$ip" 7)" = "offload $1" ]; }
# Not accepted (no echo), coronet still running; that it answered with no
# RST either is checked from its counters at the end (TcpOutRsts).
refused_silently() {
  ! line partial || return 1
  kill -0 "$server" 2>/dev/null || { echo "coronet-echo is gone"; return 1; }
}
check "with the peer's checksum offload on, the kernel's SYNs are not accepted" refused_silently
hint() { grep -q "TcpCsumPartial" "$LAB_TMP/serve.log" && grep -q "ethtool -K" "$LAB_TMP/serve.log"; }
check "coronet says on stderr why (TcpCsumPartial, ethtool -K <peer> tx off)" hint

in_kernel ethtool -K "$LAB_IF_KERNEL" tx off >/dev/null 2>&1
check "with the peer's tx checksum offload off, the same client is echoed" line complete

kill -TERM "$server"
for _ in $(seq 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
wait "$server"
status=$?
check "coronet-echo ends cleanly on SIGTERM (status $status)" [ "$status" -eq 0 ]
counted() {
  local n
  n=$(awk '$1 == "TcpCsumPartial" {print $2}' "$LAB_TMP/serve.log")
  [ "${n:-0}" -gt 0 ] || { echo "TcpCsumPartial is '${n:-absent}'"; return 1; }
  n=$(awk '$1 == "InCsumErrors" {print $2}' "$LAB_TMP/serve.log")
  [ "${n:-0}" -eq 0 ] || { echo "InCsumErrors is $n: partial checksums were counted as corruption"; return 1; }
  n=$(awk '$1 == "TcpOutRsts" {print $2}' "$LAB_TMP/serve.log")
  [ "${n:-x}" = 0 ] || { echo "TcpOutRsts is '${n:-absent}': a dropped SYN was answered"; return 1; }
}
check "the dropped segments are counted as TcpCsumPartial, not InCsumErrors, and none was answered with an RST" counted
lab_finish
