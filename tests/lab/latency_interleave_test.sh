#!/usr/bin/env bash
# Namespace test: latency-bench tcp-ping --interleave-raw against tcp-server,
# coronet at both ends of the veth pair (.2 in coronet's namespace, .3 on the
# kernel's side, an address the kernel there does not have). Checks what the
# run must deliver, never how fast it was:
#  - exit 0 and two result lines, raw-ping's first, each with --count samples;
#  - the samples alternated: each line reports the blocks (of 100 kept
#    samples) its kind took, and each took at least count/100 - 1;
#  - no raw frame lost and none stray (each answered exactly once);
#  - the TCP line's frames per round trip are 1.00 / 1.00: the raw frames the
#    tap sent and received are not counted as TCP's;
#  - the server answered at least as many raw frames as the client kept.
# Then twice more with tcp-server --raw-work (tcp-echo, spin:200): the work
# ran once per raw answer, and tcp-echo's in-memory echo returned 64 bytes
# every time. raw-ping with nobody to answer exits 1 at its time limit, its
# result line printed. Last, tcp-ping --interleave-raw with --frame-bytes
# above the device's MTU + 14 is a usage error (exit 2, the MTU named).
source "$(dirname "$0")/lib.sh"
lab_up li 45
count=2000
server_ip=${LAB_IP_KERNEL%.*}.3
mac_kn=$(ip -n "$LAB_NS_KERNEL" link show "$LAB_IF_KERNEL" | awk '/link\/ether/ { print $2 }')

# run_pair TAG [tcp-server flags...]: a server and one interleaved tcp-ping
# run against it; logs in $LAB_TMP/TAG.{server,ping}.log, status in ping_rc.
run_pair() {
  local tag=$1
  shift
  bg_kernel "$LAB_TMP/$tag.server.log" timeout 60 "$LAB_BIN/latency-bench" tcp-server --iface "$LAB_IF_KERNEL" \
    --addr "$server_ip/24" --port 7 --busy-poll "${LAB_DEV[@]}" "$@"
  local server=$BG_PID
  if ! wait_for 100 grep -q ': ready' "$LAB_TMP/$tag.server.log"; then
    echo "FAIL: tcp-server ($tag) did not come up"; cat "$LAB_TMP/$tag.server.log"; exit 1
  fi
  in_coronet timeout 60 "$LAB_BIN/latency-bench" tcp-ping --iface "$LAB_IF_CORONET" --addr "$LAB_IP_CORONET/24" \
    --to "$server_ip:7" --busy-poll "${LAB_DEV[@]}" --interleave-raw --peer-mac "$mac_kn" --count $count \
    --warmup-ms 50 --max-seconds 30 >"$LAB_TMP/$tag.ping.log" 2>&1
  ping_rc=$?
  kill -TERM "$server" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
  cat "$LAB_TMP/$tag.ping.log"
  grep -v '^latency-bench: ' "$LAB_TMP/$tag.server.log"
}

run_pair plain

raw=$(grep '^result mode=raw-ping ' "$LAB_TMP/plain.ping.log")
tcp=$(grep '^result mode=tcp-ping ' "$LAB_TMP/plain.ping.log")
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
# pairs A B [A B ...]: every A equals its B (one check for several fields;
# `check NAME [ .. ] && [ .. ]` would leave the second test outside check).
pairs() {
  while [ $# -ge 2 ]; do
    [ "$1" = "$2" ] || return 1
    shift 2
  done
}
check "tcp-ping exits 0" [ "$ping_rc" -eq 0 ]
check "the raw-ping line comes first, then the tcp-ping line" \
  [ "$(grep -o '^result mode=[a-z-]*' "$LAB_TMP/plain.ping.log" | tr '\n' ' ')" = "result mode=raw-ping result mode=tcp-ping " ]
check "raw: $count samples, interleaved with tcp-ping" \
  pairs "$(field "$raw" samples)" $count "$(field "$raw" interleaved)" tcp-ping
# at_least A B MIN: A and B are whole numbers, each at least MIN.
at_least() { [[ "$1" =~ ^[0-9]+$ && "$2" =~ ^[0-9]+$ ]] && [ "$1" -ge "$3" ] && [ "$2" -ge "$3" ]; }
min_blocks=$((count / 100 - 1))
raw_blocks=$(field "$raw" blocks) tcp_blocks=$(field "$tcp" blocks)
check "raw and TCP took turns: ${raw_blocks:-no} raw and ${tcp_blocks:-no} TCP blocks, each at least $min_blocks" \
  at_least "$raw_blocks" "$tcp_blocks" $min_blocks
check "raw: none lost, none stray" pairs "$(field "$raw" lost)" 0 "$(field "$raw" strays)" 0
check "tcp: $count samples" [ "$(field "$tcp" samples)" = $count ]
check "tcp: 1.00 frame out and 1.00 in per round trip (raw frames not counted)" \
  pairs "$(field "$tcp" tx_per_rtt)" 1.00 "$(field "$tcp" rx_per_rtt)" 1.00
# answered TAG: the raw frames tcp-server TAG answered; work_field TAG NAME: a
# field of its "raw work" line.
answered() { sed -n 's/.* \([0-9]*\) raw frames answered.*/\1/p' "$LAB_TMP/$1.server.log"; }
n=$(answered plain)
check "tcp-server answered ${n:-no} raw frames, at least the $count kept" [ "${n:-0}" -ge $count ]

work_field() { grep '^tcp-server: raw work ' "$LAB_TMP/$1.server.log" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
for work in tcp-echo spin:200; do
  tag=${work%%:*}
  run_pair "$tag" --raw-work "$work"
  line=$(grep '^result mode=raw-ping ' "$LAB_TMP/$tag.ping.log")
  check "--raw-work $work: tcp-ping exits 0 with $count raw samples, none lost" \
    pairs "$ping_rc" 0 "$(field "$line" samples)" $count "$(field "$line" lost)" 0
  n=$(answered "$tag")
  check "--raw-work $work: answered at least the $count raw frames kept (${n:-none})" [ "${n:-0}" -ge $count ]
  check "--raw-work $work: ran once per raw answer ($(work_field "$tag" runs) runs)" pairs "$(work_field "$tag" runs)" "${n:-none}"
  want_bytes=0
  [ "$work" = tcp-echo ] && want_bytes=$((64 * ${n:-0}))
  check "--raw-work $work: echoed $want_bytes bytes in memory" [ "$(work_field "$tag" bytes_echoed)" = "$want_bytes" ]
done
# A run cut short is no measurement: raw-ping to .3 with no server up (no
# kernel owns .3) keeps nothing, and at its limit still prints its line, says
# why it stopped and exits 1.
out=$(in_coronet timeout 60 "$LAB_BIN/latency-bench" raw-ping --iface "$LAB_IF_CORONET" --addr "$LAB_IP_CORONET/24" \
  --peer "$server_ip" --peer-mac "$mac_kn" "${LAB_DEV[@]}" --count 10 --warmup-ms 0 --max-seconds 1 2>&1)
rc=$?
echo "$out" | grep -v '^latency-bench: '
check "raw-ping unanswered: exit 1 ($rc), its line with samples=0, stopped at the time limit" \
  pairs "$rc" 1 "$(grep -c '^result mode=raw-ping .* samples=0 ' <<<"$out")" 1 \
  "$(grep -c 'raw-ping: 0 of 10 samples kept; stopped: time limit reached (1 s)' <<<"$out")" 1

# The raw frame must fit the device: an MTU of 1000 on coronet's side takes
# frames of at most 1014 bytes. Nothing is sent: tcp-ping stops before it connects.
ip -n "$LAB_NS_CORONET" link set dev "$LAB_IF_CORONET" mtu 1000
out=$(in_coronet timeout 60 "$LAB_BIN/latency-bench" tcp-ping --iface "$LAB_IF_CORONET" --addr "$LAB_IP_CORONET/24" \
  --to "$server_ip:7" "${LAB_DEV[@]}" --interleave-raw --peer-mac "$mac_kn" --frame-bytes 1015 --count 10 2>&1)
rc=$?
echo "$out" | grep -v '^latency-bench: '
check "--frame-bytes 1015 over an MTU of 1000: exit 2 ($rc), the MTU named" \
  pairs "$rc" 2 "$(grep -c 'tcp-ping: --frame-bytes 1015 exceeds .*MTU 1000 + 14' <<<"$out")" 1
lab_finish
