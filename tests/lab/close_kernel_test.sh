#!/usr/bin/env bash
# Namespace test: how transfers between coronet and the kernel end.
#  - the kernel sends a little, shuts down its sending side (SHUT_WR) and still
#    reads all of coronet's 16 MiB; then the same with the roles swapped
#    (coronet's shutdown() while the kernel's 16 MiB keep arriving). The big
#    sender's sent_at_eof (how much of its stream it had handed to its stack
#    when the FIN came) shows the FIN arrived mid-stream, not after it;
#  - the kernel resets a connection mid-transfer (SO_LINGER {1,0}): coronet
#    reports "connection reset by peer" with exit status 3, and its listener
#    then serves a second connection in full;
#  - coronet resets (abort()) mid-transfer: the kernel reports the reset.
source "$(dirname "$0")/lib.sh"
lab_up tc 32
bulk=$LAB_BIN/coronet-bulk
big=$((16 << 20))
small=$((64 << 10))
port=5001
coronet_args=(--stack coronet --iface "$LAB_IF_CORONET" --addr "$LAB_IP_CORONET/24" --timeout 60 "${LAB_DEV[@]}")
kernel_args=(--stack kernel --timeout 60)

# field LOG KEY [N]: KEY's value on the N-th result line (default 1).
field() { grep '^sent=' "$1" | sed -n "${3:-1}p" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
show() { echo "--- $1"; cat "$1"; }
coronet_up() { wait_for 100 in_kernel ping -c1 -W1 "$LAB_IP_CORONET"; }
kernel_up() { wait_for 50 bash -c "ip netns exec $LAB_NS_KERNEL ss -Hltn 'sport = :$port' | grep -q LISTEN"; }

# delivered FROM TO BYTES [TO_LINE [FROM_LINE]]: FROM's whole stream of BYTES
# arrived at TO (which result line of each log: default the first).
delivered() {
  local to_n=${4:-1} from_n=${5:-1}
  local sent_sha recv_sha
  sent_sha=$(field "$1" sent_sha256 "$from_n")
  recv_sha=$(field "$2" recv_sha256 "$to_n")
  # Both hashes present: two missing fields would compare equal.
  [ "$(field "$1" sent "$from_n")" = "$3" ] && [ "$(field "$2" recv "$to_n")" = "$3" ] &&
    [ -n "$sent_sha" ] && [ "$sent_sha" = "$recv_sha" ]
}

# fin_mid_stream LOG: the side that sent $big read its peer's FIN before it
# had handed all of its stream to its stack: the connection carried the rest
# after the half-close. (How much was out by then depends on when that
# program's read side ran: 0 to 13.8 MB of 16.8 seen. Not a bound to hold.)
fin_mid_stream() {
  local at
  at=$(field "$1" sent_at_eof)
  echo "$(basename "$1" .log): the peer's FIN came after ${at:-?} of its $big bytes"
  [[ "$at" =~ ^[0-9]+$ ]] && [ "$at" -lt "$big" ]
}

kernel_half_closes() {
  bg_in_coronet "$LAB_TMP/co1.log" timeout 120 "$bulk" "${coronet_args[@]}" --listen $port --send $big --seed 1
  local co=$BG_PID crc krc
  coronet_up || { echo "coronet-bulk did not come up"; show "$LAB_TMP/co1.log"; return 1; }
  # The kernel's 64 KiB and its FIN are out long before coronet's 16 MiB.
  in_kernel timeout 120 "$bulk" "${kernel_args[@]}" --connect "$LAB_IP_CORONET:$port" --send $small --seed 2 \
    >"$LAB_TMP/kn1.log" 2>&1
  krc=$?
  wait "$co"; crc=$?
  [ "$crc" -eq 0 ] && [ "$krc" -eq 0 ] && delivered "$LAB_TMP/kn1.log" "$LAB_TMP/co1.log" $small &&
    delivered "$LAB_TMP/co1.log" "$LAB_TMP/kn1.log" $big && fin_mid_stream "$LAB_TMP/co1.log" && return 0
  echo "exit: coronet $crc, kernel $krc"; show "$LAB_TMP/co1.log"; show "$LAB_TMP/kn1.log"; return 1
}
check "kernel sends 64 KiB, SHUT_WR, still reads coronet's 16 MiB to the end" kernel_half_closes

coronet_half_closes() {
  bg_kernel "$LAB_TMP/kn2.log" timeout 120 "$bulk" "${kernel_args[@]}" --listen $port --send $big --seed 3
  local kn=$BG_PID crc krc
  kernel_up || { echo "kernel listener did not start"; show "$LAB_TMP/kn2.log"; return 1; }
  in_coronet timeout 120 "$bulk" "${coronet_args[@]}" --connect "$LAB_IP_KERNEL:$port" --send $small --seed 4 \
    >"$LAB_TMP/co2.log" 2>&1
  crc=$?
  wait "$kn"; krc=$?
  [ "$crc" -eq 0 ] && [ "$krc" -eq 0 ] && delivered "$LAB_TMP/co2.log" "$LAB_TMP/kn2.log" $small &&
    delivered "$LAB_TMP/kn2.log" "$LAB_TMP/co2.log" $big && fin_mid_stream "$LAB_TMP/kn2.log" && return 0
  echo "exit: coronet $crc, kernel $krc"; show "$LAB_TMP/co2.log"; show "$LAB_TMP/kn2.log"; return 1
}
check "coronet sends 64 KiB, shutdown(), still reads the kernel's 16 MiB to the end" coronet_half_closes

kernel_resets() {
  bg_in_coronet "$LAB_TMP/co3.log" timeout 120 "$bulk" "${coronet_args[@]}" --listen $port --count 2 \
    --send $big --seed 5
  local co=$BG_PID crc k1 k2
  coronet_up || { echo "coronet-bulk did not come up"; show "$LAB_TMP/co3.log"; return 1; }
  # First connection: the kernel resets it after 1 MiB either way.
  in_kernel timeout 120 "$bulk" "${kernel_args[@]}" --connect "$LAB_IP_CORONET:$port" --send $big --seed 6 \
    --reset-after 1M >"$LAB_TMP/kn3a.log" 2>&1
  k1=$?
  # Second connection: served in full by the same listener.
  in_kernel timeout 120 "$bulk" "${kernel_args[@]}" --connect "$LAB_IP_CORONET:$port" --send $small --seed 7 \
    >"$LAB_TMP/kn3b.log" 2>&1
  k2=$?
  wait "$co"; crc=$?
  local ok=0
  [ "$k1" -eq 0 ] && [ "$(field "$LAB_TMP/kn3a.log" result)" = reset_sent ] || { echo "kernel reset: exit $k1"; ok=1; }
  [ "$crc" -eq 3 ] || { echo "coronet exit $crc, want 3 (connection reset by peer)"; ok=1; }
  grep -q "connection reset by peer" "$LAB_TMP/co3.log" || { echo "coronet did not say 'connection reset by peer'"; ok=1; }
  [ "$(field "$LAB_TMP/co3.log" result 1)" = reset ] || { echo "coronet's first line is not result=reset"; ok=1; }
  [ "$k2" -eq 0 ] && [ "$(field "$LAB_TMP/co3.log" result 2)" = ok ] &&
    delivered "$LAB_TMP/kn3b.log" "$LAB_TMP/co3.log" $small 2 &&
    delivered "$LAB_TMP/co3.log" "$LAB_TMP/kn3b.log" $big 1 2 ||
    { echo "second connection not served in full (kernel exit $k2)"; ok=1; }
  [ "$ok" -eq 0 ] && return 0
  show "$LAB_TMP/co3.log"; show "$LAB_TMP/kn3a.log"; show "$LAB_TMP/kn3b.log"; return 1
}
check "kernel resets mid-transfer: coronet says connection reset (exit 3), then serves the next connection" kernel_resets

coronet_resets() {
  bg_kernel "$LAB_TMP/kn4.log" timeout 120 "$bulk" "${kernel_args[@]}" --listen $port --send $big --seed 8
  local kn=$BG_PID crc krc
  kernel_up || { echo "kernel listener did not start"; show "$LAB_TMP/kn4.log"; return 1; }
  in_coronet timeout 120 "$bulk" "${coronet_args[@]}" --connect "$LAB_IP_KERNEL:$port" --send $big --seed 9 \
    --reset-after 1M >"$LAB_TMP/co4.log" 2>&1
  crc=$?
  wait "$kn"; krc=$?
  [ "$crc" -eq 0 ] && [ "$(field "$LAB_TMP/co4.log" result)" = reset_sent ] && [ "$krc" -eq 3 ] &&
    grep -q "connection reset by peer" "$LAB_TMP/kn4.log" && return 0
  echo "exit: coronet $crc (want 0, result=reset_sent), kernel $krc (want 3)"
  show "$LAB_TMP/co4.log"; show "$LAB_TMP/kn4.log"; return 1
}
check "coronet resets mid-transfer (abort): the kernel says connection reset (exit 3)" coronet_resets

lab_finish
