#!/usr/bin/env bash
# Namespace test: the kernel and coronet share coronet's interface. With
# scripts/lab.sh --kernel-on-coronet-side the kernel of ks-co has 198.18.36.4
# on ks-co0 while coronet-echo serves 198.18.36.2 on the same interface (same
# MAC). At the same time, from the kernel's namespace:
#  - 1000 pings of the kernel's .4 are answered (by the kernel);
#  - 2 MB through a kernel TCP echo server (socat, bound to .4:7) come back;
#  - 200 kB through coronet's echo (.2:7, the same port) come back.
# Then coronet's counters (serve --stats, at SIGTERM) show what it saw of the
# kernel's traffic, which depends on the device:
#  - af_packet: every frame on the interface reaches coronet, which drops the
#    kernel's as not addressed to it (InAddrErrors >= the pings);
#  - af_xdp: coronet's XDP program passes the kernel's frames to the kernel,
#    so coronet receives fewer frames in all (DevRxFrames) than there were
#    pings, and no IPv4 frame for another address (InAddrErrors 0).
# On both, coronet's capture (--pcap) shows it answered none of the kernel's
# traffic: it sent nothing from another address, no TCP outside its echo
# connection, and no RST on that connection before its own FIN.
source "$(dirname "$0")/lib.sh"
lab_up ks 36 --kernel-on-coronet-side
co=$LAB_IP_CORONET kn_co=$LAB_IP_KERNEL_CO
pings=1000
echo "lab: coronet $co and the kernel $kn_co on $LAB_IF_CORONET; the peer kernel $LAB_IP_KERNEL"

# The kernel's echo server on its address of coronet's interface: socat
# relays the connection through one pipe of its own (PIPE). -b 4096: socat
# writes into that pipe when poll() says it is writable, which a pipe is with
# one free page; a write of socat's default 8192 bytes into it can then block,
# and only socat itself would ever drain the pipe. A fresh-clone CI run on
# af_packet hung so: the echo stopped 66688 bytes short of 2 MB, the client
# gave up after its -t 10 with exit 0, and the server's socat stayed in
# anon_pipe_write with 64336 bytes in its pipe, its socket in CLOSE-WAIT with
# nothing queued. -t 20: after the client's half-close, socat goes on
# draining its pipe back for up to 20 s (the default is 0.5 s).
bg_in_coronet "$LAB_TMP/socat.log" socat -b 4096 -t 20 -T 20 "TCP-LISTEN:7,bind=$kn_co,fork,reuseaddr" PIPE
socat_pid=$BG_PID
# Its capture shows what it sent (no_answer, below).
bg_coronet "$LAB_TMP/serve.log" serve --iface "$LAB_IF_CORONET" --addr "$co/24" --port 7 --stats \
  --pcap "$LAB_TMP/serve.pcap" "${LAB_DEV[@]}"
server=$BG_PID
if ! wait_for 100 in_kernel ping -c1 -W1 "$co"; then
  echo "FAIL: coronet-echo serve did not come up"; cat "$LAB_TMP/serve.log"; exit 1
fi
if ! wait_for 50 bash -c "ip netns exec $LAB_NS_CORONET ss -Hltn 'src $kn_co and sport = :7' | grep -q LISTEN"; then
  echo "FAIL: the kernel's echo server on $kn_co:7 did not start"; cat "$LAB_TMP/socat.log"; exit 1
fi
echo "device: $(grep -m1 "^coronet-echo: af_" "$LAB_TMP/serve.log")"

# echo_file IN OUT IP: one kernel connection to IP:7 sends IN, saves what comes back.
echo_file() { in_kernel timeout 30 socat -t 10 -T 15 - "TCP:$3:7" <"$1" >"$2" 2>"$2.err"; }
head -c 2000000 /dev/urandom >"$LAB_TMP/kernel.bin"
head -c 200000 /dev/urandom >"$LAB_TMP/coronet.bin"

# Everything at once: pings and the kernel's TCP to .4, coronet's echo on .2.
ping_rc=1 kernel_rc=1 coronet_rc=1
concurrent() {
  in_kernel timeout 30 ping -q -c "$pings" -i 0.002 -W 2 "$kn_co" >"$LAB_TMP/ping.log" 2>&1 &
  local ping_pid=$!
  echo_file "$LAB_TMP/kernel.bin" "$LAB_TMP/kernel.out" "$kn_co" &
  local kernel_pid=$!
  echo_file "$LAB_TMP/coronet.bin" "$LAB_TMP/coronet.out" "$co"
  coronet_rc=$?
  wait "$kernel_pid"; kernel_rc=$?
  wait "$ping_pid"; ping_rc=$?
  return 0
}
concurrent

answered() {
  local got
  got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$LAB_TMP/ping.log")
  echo "pings of $kn_co: ${got:-0} of $pings answered"
  [ "$ping_rc" -eq 0 ] && [ "${got:-0}" -ge $((pings * 99 / 100)) ] || { cat "$LAB_TMP/ping.log"; return 1; }
}
check "the kernel's address on coronet's interface answers $pings pings" answered

kernel_tcp() {
  [ "$kernel_rc" -eq 0 ] && cmp "$LAB_TMP/kernel.bin" "$LAB_TMP/kernel.out" ||
    { echo "socat exit $kernel_rc: $(cat "$LAB_TMP/kernel.out.err")"; return 1; }
}
check "kernel TCP to the kernel's $kn_co:7 on coronet's interface: 2 MB echoed" kernel_tcp

coronet_tcp() {
  [ "$coronet_rc" -eq 0 ] && cmp "$LAB_TMP/coronet.bin" "$LAB_TMP/coronet.out" ||
    { echo "socat exit $coronet_rc: $(cat "$LAB_TMP/coronet.out.err")"; return 1; }
}
check "coronet's echo on $co:7 at the same time: 200 kB echoed" coronet_tcp

stop_server() {
  kill -TERM "$server"
  local i
  for i in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$server" 2>/dev/null && { echo "still running 10 s after SIGTERM"; return 1; }
  wait "$server" || { echo "exit status $? after SIGTERM"; cat "$LAB_TMP/serve.log"; return 1; }
}
check "coronet-echo exits 0 on SIGTERM" stop_server
lab_term "$socat_pid"  # the listener and the connection handlers it forked

stat() { awk -v n="$1" '$1 == n { print $2 }' "$LAB_TMP/serve.log"; }
rx=$(stat DevRxFrames) not_ours=$(stat InAddrErrors) rsts=$(stat TcpOutRsts) echos=$(stat IcmpInEchos)
echo "coronet's counters: DevRxFrames ${rx:-?}, InAddrErrors ${not_ours:-?}, TcpOutRsts ${rsts:-?}," \
  "IcmpInEchos ${echos:-?} (while the kernel on its interface had $pings pings and 2 MB each way)"

# Coronet's own frames in its capture: those from the interface's MAC (the
# kernel's .4 shares it, but the kernel's frames are not in coronet's capture).
mac=$(ip -n "$LAB_NS_CORONET" -br link show "$LAB_IF_CORONET" | awk '{ print $3 }')
sent() { tcpdump -ttnr "$LAB_TMP/serve.pcap" "ether src $mac and ($1)" 2>/dev/null; }
# The echo connection: the kernel's SYN to .2:7 names its port.
client_port=$(tcpdump -nr "$LAB_TMP/serve.pcap" -c1 "dst host $co and dst port 7 and tcp[tcpflags] == tcp-syn" \
  2>/dev/null | sed -n 's/.* IP [0-9.]*\.\([0-9]*\) > .*/\1/p')
no_answer() {
  # Answering the kernel's traffic would mean a frame from another address than
  # coronet's, or TCP other than its echo connection's; readiness pings of .2
  # are the only echo requests it should have seen. A RST on its own
  # connection is allowed only after its FIN: the kernel's client retransmits
  # here now and then when the loaded machine holds up coronet's ACKs (a run
  # counted 14 duplicate segments, TcpExtTCPDSACKOldSent), and a retransmission
  # that arrives after the connection closed is answered with a RST (RFC 9293
  # 3.10.7.1, as Linux does after LAST-ACK); before its FIN it would be an abort.
  local foreign other fin rst_before_fin
  foreign=$(sent "ip and not src host $co" | wc -l)
  other=$(sent "tcp and not (src port 7 and dst port ${client_port:-0})" | wc -l)
  fin=$(sent "tcp[tcpflags] & tcp-fin != 0" | head -1 | awk '{ print $1 }')
  rst_before_fin=$(sent "tcp[tcpflags] & tcp-rst != 0" | awk -v fin="${fin:-none}" 'fin == "none" || $1 < fin' | wc -l)
  echo "coronet's echo connection from port ${client_port:-?}; frames it sent from another address: $foreign," \
    "TCP outside its connection: $other, RSTs before its FIN: $rst_before_fin (TcpOutRsts ${rsts:-?})"
  [ -n "$rx" ] && [ -n "$client_port" ] && [ "$foreign" -eq 0 ] && [ "$other" -eq 0 ] &&
    [ "$rst_before_fin" -eq 0 ] && [ "${echos:-$pings}" -lt 100 ] && return 0
  # What coronet counted, and every RST it sent with the 6 frames before it.
  awk 'NF == 2 && $2 ~ /^[0-9]+$/ && $2 != 0' "$LAB_TMP/serve.log"
  tcpdump -nr "$LAB_TMP/serve.pcap" -tt 2>/dev/null |
    awk '{ l[NR] = $0 } / Flags \[R/ { for (i = NR - 6; i <= NR; i++) if (i > 0) print l[i]; print "--" }' | head -80
  return 1
}
check "coronet answered none of the kernel's traffic (every frame it sent was its own connection's or a readiness ping's)" \
  no_answer

if [ "$LAB_BACKEND" = af_packet ]; then
  saw_and_dropped() { [ "${not_ours:-0}" -ge "$pings" ] && [ "${rx:-0}" -ge "$pings" ]; }
  check "af_packet: coronet received the kernel's frames and dropped them (InAddrErrors >= $pings)" saw_and_dropped
else
  passed_by_xdp() { [ "${rx:-$pings}" -lt "$pings" ] && [ "${not_ours:-1}" -eq 0 ]; }
  check "af_xdp: the XDP program kept the kernel's frames from coronet (DevRxFrames < $pings, InAddrErrors 0)" \
    passed_by_xdp
fi
lab_finish
