#!/usr/bin/env bash
# Namespace test: kernel TCP clients (socat, nc) -> `coronet-echo serve`.
# Checks ping, byte-for-byte echo, 100 sequential and 50 concurrent
# connections, RST for a closed port, and a clean exit on SIGTERM.
# LAB_OFFLOADS=on in the environment runs with the kernel's veth offloads left
# on (TSO super-frames and CHECKSUM_PARTIAL frames reach coronet).
source "$(dirname "$0")/lib.sh"
offloads=${LAB_OFFLOADS:-off}
lab_up sv 20 --offloads "$offloads"
ip=$LAB_IP_CORONET
echo "lab: coronet $ip on $LAB_IF_CORONET, kernel $LAB_IP_KERNEL, offloads $offloads"

bg_coronet "$LAB_TMP/serve.log" serve --iface "$LAB_IF_CORONET" --addr "$ip/24" --port 7 --stats "${LAB_DEV[@]}"
server=$BG_PID
if ! wait_for 100 in_kernel ping -c1 -W1 "$ip"; then
  echo "FAIL: coronet-echo serve did not come up"; cat "$LAB_TMP/serve.log"; exit 1
fi

check "ping of coronet's address is answered" in_kernel ping -c3 -i0.2 -W2 "$ip"

echo_file() {  # echo_file IN OUT PORT: one connection sends IN, saves what comes back
  in_kernel timeout 20 socat -t 10 -T 15 - "TCP:$ip:${3:-7}" <"$1" >"$2" 2>"$2.err"
}
head -c 200000 /dev/urandom >"$LAB_TMP/big.bin"
big_echo() { echo_file "$LAB_TMP/big.bin" "$LAB_TMP/big.out" && cmp "$LAB_TMP/big.bin" "$LAB_TMP/big.out"; }
check "200 kB echoed byte for byte" big_echo

sequential() {
  local i
  for i in $(seq 100); do
    printf 'sequential connection %d of 100\n' "$i" >"$LAB_TMP/s.in"
    echo_file "$LAB_TMP/s.in" "$LAB_TMP/s.out" || { echo "connection $i failed: $(cat "$LAB_TMP/s.out.err")"; return 1; }
    cmp -s "$LAB_TMP/s.in" "$LAB_TMP/s.out" || { echo "connection $i: echo differs"; return 1; }
  done
}
check "100 sequential connections echo" sequential

concurrent() {
  local i pids=() bad=0
  for i in $(seq 50); do
    head -c $((1000 + i * 97)) /dev/urandom >"$LAB_TMP/c$i.in"
    echo_file "$LAB_TMP/c$i.in" "$LAB_TMP/c$i.out" &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || bad=$((bad + 1)); done
  for i in $(seq 50); do cmp -s "$LAB_TMP/c$i.in" "$LAB_TMP/c$i.out" || bad=$((bad + 1)); done
  [ "$bad" -eq 0 ] || { echo "$bad of 50 concurrent connections failed"; return 1; }
}
check "50 concurrent connections echo" concurrent

closed_port() {
  local out
  out=$(in_kernel timeout 10 socat -T 5 - "TCP:$ip:8" </dev/null 2>&1)
  echo "$out" | grep -q "Connection refused" || { echo "expected 'Connection refused', got: $out"; return 1; }
}
check "a closed coronet port answers with RST (Connection refused)" closed_port

nc_line() { [ "$(printf 'hello from nc\n' | in_kernel timeout 10 nc -N -w 5 "$ip" 7)" = "hello from nc" ]; }
check "nc gets its line echoed" nc_line

sigterm() {
  kill -TERM "$server"
  local i
  for i in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$server" 2>/dev/null; then echo "still running 10 s after SIGTERM"; return 1; fi
  wait "$server"
  local rc=$?
  [ "$rc" -eq 0 ] || { echo "exit status $rc after SIGTERM"; cat "$LAB_TMP/serve.log"; return 1; }
  grep -q "TcpPassiveOpens" "$LAB_TMP/serve.log" || { echo "--stats printed no counters"; return 1; }
  # Nothing is left answering for the address once the process is gone.
  ! in_kernel ping -c1 -W1 "$ip" >/dev/null
}
check "SIGTERM: clean exit 0 with counters, nothing left answering" sigterm

stat() { awk -v n="$1" '$1 == n { print $2 }' "$LAB_TMP/serve.log"; }
framing() {
  local partial maxf csum_drops
  partial=$(stat DevRxCsumNotReady); maxf=$(stat DevRxMaxFrame); csum_drops=$(stat InCsumErrors)
  echo "frames from the kernel: ${partial:-0} with CSUMNOTREADY, longest ${maxf:-?} B, ${csum_drops:-0} checksum drops"
  [ "${csum_drops:-0}" -eq 0 ] || return 1
  if [ "$offloads" = on ]; then
    # veth with offloads on: partial checksums and TSO super-frames must have
    # arrived (and been accepted, or the echo checks above would have failed).
    [ "${partial:-0}" -gt 0 ] && [ "${maxf:-0}" -gt 1514 ]
  elif [ "$LAB_BACKEND" = af_packet ]; then
    # ethtool -K tx off tso off gso off: what a real wire carries.
    [ "${partial:-0}" -eq 0 ] && [ "${maxf:-0}" -le 1514 ]
  else
    # AF_XDP hands over no checksum state, so a partial checksum would show
    # only as a checksum drop (checked above); the frame length it does see.
    echo "af_xdp: partial checksums are not visible to the device; InCsumErrors 0 stands for them"
    [ "${maxf:-0}" -le 1514 ]
  fi
}
check "framing as the lab set it (offloads $offloads)" framing
lab_finish
