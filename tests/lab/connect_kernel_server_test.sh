#!/usr/bin/env bash
# Namespace test: `coronet-echo connect` -> kernel TCP servers.
# Checks a verified echo exchange, refused (RST from a closed kernel port),
# ARP failure for an absent host, and a timed-out connect when the kernel's
# answers are dropped (after the configured SYN retries).
source "$(dirname "$0")/lib.sh"
lab_up cn 21
kip=$LAB_IP_KERNEL
connect() { in_coronet timeout 60 "$LAB_BIN/coronet-echo" connect --iface "$LAB_IF_CORONET" \
  --addr "$LAB_IP_CORONET/24" --linger 200 "${LAB_DEV[@]}" "$@"; }

bg_kernel "$LAB_TMP/socat.log" socat -T 10 "TCP-LISTEN:7,bind=$kip,fork,reuseaddr" PIPE
if ! wait_for 50 bash -c "ip netns exec $LAB_NS_KERNEL ss -Hltn 'sport = :7' | grep -q LISTEN"; then
  echo "FAIL: kernel echo server did not start"; exit 1
fi

echo_200() { connect --to "$kip:7" --count 200 --size 100 --stats >"$LAB_TMP/c1.log" 2>&1 || { cat "$LAB_TMP/c1.log"; return 1; }; }
check "200 messages of 100 B echoed by the kernel's socat" echo_200

message() { connect --to "$kip:7" --message "hello coronet" >"$LAB_TMP/c2.log" 2>&1 || { cat "$LAB_TMP/c2.log"; return 1; }; }
check "--message round trip" message

large() { connect --to "$kip:7" --count 20 --size 60000 >"$LAB_TMP/c3.log" 2>&1 || { cat "$LAB_TMP/c3.log"; return 1; }; }
check "20 messages of 60000 B (many segments each way)" large

pcap_and_trace() {
  connect --to "$kip:7" --count 3 --pcap "$LAB_TMP/c.pcap" --trace >"$LAB_TMP/c4.log" 2>&1 || { cat "$LAB_TMP/c4.log"; return 1; }
  # --trace: one tcpdump-style line per segment, the SYN first.
  grep -q "Flags \[S\]" "$LAB_TMP/c4.log" || { echo "no SYN in --trace output"; head "$LAB_TMP/c4.log"; return 1; }
  # --pcap: tcpdump reads it; it holds the SYN, the kernel's SYN-ACK and both FINs.
  local syn synack fin
  syn=$(tcpdump -nr "$LAB_TMP/c.pcap" 'tcp[tcpflags] == tcp-syn' 2>/dev/null | wc -l)
  synack=$(tcpdump -nr "$LAB_TMP/c.pcap" 'tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)' 2>/dev/null | wc -l)
  fin=$(tcpdump -nr "$LAB_TMP/c.pcap" 'tcp[tcpflags] & tcp-fin != 0' 2>/dev/null | wc -l)
  [ "$syn" -eq 1 ] && [ "$synack" -eq 1 ] && [ "$fin" -eq 2 ] || { echo "pcap: syn=$syn synack=$synack fin=$fin"; return 1; }
}
check "--pcap file readable by tcpdump with the whole exchange; --trace prints segments" pcap_and_trace

refused() {
  local out rc
  out=$(connect --to "$kip:9" 2>&1); rc=$?
  [ "$rc" -ne 0 ] && echo "$out" | grep -qi "refused" || { echo "rc=$rc: $out"; return 1; }
}
check "closed kernel port -> non-zero exit, says refused" refused

unreachable() {
  local out rc
  out=$(connect --to "198.18.21.99:7" 2>&1); rc=$?
  [ "$rc" -ne 0 ] && echo "$out" | grep -qi "unreachable" || { echo "rc=$rc: $out"; return 1; }
}
check "absent host -> ARP fails, non-zero exit, says unreachable" unreachable

timed_out() {
  # A blackhole route for coronet's address: the kernel still answers ARP, but
  # its SYN-ACKs and RSTs towards coronet are discarded, so SYNs go unanswered.
  in_kernel ip route add blackhole "$LAB_IP_CORONET/32" || return 1
  local out rc
  out=$(connect --to "$kip:7" --sysctl net.ipv4.tcp_syn_retries=2 2>&1); rc=$?
  in_kernel ip route del blackhole "$LAB_IP_CORONET/32"
  [ "$rc" -ne 0 ] && echo "$out" | grep -qi "timed out" || { echo "rc=$rc: $out"; return 1; }
}
check "unanswered SYNs -> timed out after tcp_syn_retries=2" timed_out

bad_sysctl() {
  local out rc
  out=$(connect --to "$kip:7" --sysctl net.ipv4.no_such_knob=1 2>&1); rc=$?
  [ "$rc" -eq 2 ] && echo "$out" | grep -q "net.ipv4.tcp_syn_retries" || { echo "rc=$rc: $out"; return 1; }
}
check "unknown --sysctl name -> exit 2 listing valid names" bad_sysctl
lab_finish
