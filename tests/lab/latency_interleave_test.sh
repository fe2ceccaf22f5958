#!/usr/bin/env bash
# Namespace test: latency-bench tcp-ping --interleave-raw against tcp-server,
# coronet at both ends of the veth pair (.2 in coronet's namespace, .3 on the
# kernel's side, an address the kernel there does not have). Checks what the
# run must deliver, never how fast it was:
#  - exit 0 and two result lines, raw-ping's first, each with --count samples;
#  - no raw frame lost and none stray (each answered exactly once);
#  - the TCP line's frames per round trip are 1.00 / 1.00: the raw frames the
#    tap sent and received are not counted as TCP's;
#  - the server answered at least as many raw frames as the client kept.
source "$(dirname "$0")/lib.sh"
lab_up li 45
count=2000
server_ip=${LAB_IP_KERNEL%.*}.3
mac_kn=$(ip -n "$LAB_NS_KERNEL" link show "$LAB_IF_KERNEL" | awk '/link\/ether/ { print $2 }')

bg_kernel "$LAB_TMP/server.log" timeout 60 "$LAB_BIN/latency-bench" tcp-server --iface "$LAB_IF_KERNEL" \
  --addr "$server_ip/24" --port 7 --busy-poll "${LAB_DEV[@]}"
server=$BG_PID
if ! wait_for 100 grep -q ': ready' "$LAB_TMP/server.log"; then
  echo "FAIL: tcp-server did not come up"; cat "$LAB_TMP/server.log"; exit 1
fi
in_coronet timeout 60 "$LAB_BIN/latency-bench" tcp-ping --iface "$LAB_IF_CORONET" --addr "$LAB_IP_CORONET/24" \
  --to "$server_ip:7" --busy-poll "${LAB_DEV[@]}" --interleave-raw --peer-mac "$mac_kn" --count $count \
  --warmup-ms 50 --max-seconds 30 >"$LAB_TMP/ping.log" 2>&1
ping_rc=$?
kill -TERM "$server" 2>/dev/null
for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
cat "$LAB_TMP/ping.log"
grep -v '^latency-bench: ' "$LAB_TMP/server.log"

raw=$(grep '^result mode=raw-ping ' "$LAB_TMP/ping.log")
tcp=$(grep '^result mode=tcp-ping ' "$LAB_TMP/ping.log")
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
check "tcp-ping exits 0" [ "$ping_rc" -eq 0 ]
check "the raw-ping line comes first, then the tcp-ping line" \
  [ "$(grep -o '^result mode=[a-z-]*' "$LAB_TMP/ping.log" | tr '\n' ' ')" = "result mode=raw-ping result mode=tcp-ping " ]
check "raw: $count samples, interleaved with tcp-ping" \
  [ "$(field "$raw" samples)" = $count ] && [ "$(field "$raw" interleaved)" = tcp-ping ]
check "raw: none lost, none stray" [ "$(field "$raw" lost)" = 0 ] && [ "$(field "$raw" strays)" = 0 ]
check "tcp: $count samples" [ "$(field "$tcp" samples)" = $count ]
check "tcp: 1.00 frame out and 1.00 in per round trip (raw frames not counted)" \
  [ "$(field "$tcp" tx_per_rtt)" = 1.00 ] && [ "$(field "$tcp" rx_per_rtt)" = 1.00 ]
answered=$(sed -n 's/.* \([0-9]*\) raw frames answered.*/\1/p' "$LAB_TMP/server.log")
check "tcp-server answered ${answered:-no} raw frames, at least the $count kept" [ "${answered:-0}" -ge $count ]
lab_finish
