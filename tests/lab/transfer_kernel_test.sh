#!/usr/bin/env bash
# Namespace test: 64 MiB each way, at the same time, between coronet-bulk on
# coronet's stack and coronet-bulk on the kernel's, in both roles (coronet
# listens and the kernel connects; coronet connects to a kernel listener).
# Each side prints SHA-256 of what it sent and of what it received; a role
# passes when both exit 0 and each side's sent hash is the other's received
# hash, with 64 MiB counted each way.
source "$(dirname "$0")/lib.sh"
lab_up tk 30
bulk=$LAB_BIN/coronet-bulk
size=$((64 << 20))
port=5001
echo "lab: coronet $LAB_IP_CORONET on $LAB_IF_CORONET, kernel $LAB_IP_KERNEL; $size bytes each way"

coronet_args=(--stack coronet --iface "$LAB_IF_CORONET" --addr "$LAB_IP_CORONET/24" --timeout 60 --stats
  "${LAB_DEV[@]}")
# field LOG KEY: KEY's value on the result line (the one starting "sent=").
field() { grep -m1 '^sent=' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
show() { echo "--- $1"; cat "$1"; }

# same_stream A B: A's sent stream arrived at B and B's at A, whole.
same_stream() {
  local a=$1 b=$2 ok=0
  [ "$(field "$a" result)" = ok ] && [ "$(field "$b" result)" = ok ] || ok=1
  [ "$(field "$a" sent)" = "$size" ] && [ "$(field "$b" recv)" = "$size" ] || ok=1
  [ "$(field "$b" sent)" = "$size" ] && [ "$(field "$a" recv)" = "$size" ] || ok=1
  [ -n "$(field "$a" sent_sha256)" ] && [ "$(field "$a" sent_sha256)" = "$(field "$b" recv_sha256)" ] || ok=1
  [ -n "$(field "$b" sent_sha256)" ] && [ "$(field "$b" sent_sha256)" = "$(field "$a" recv_sha256)" ] || ok=1
  return $ok
}

# rate LOG: the receive rate a side reported, for the log.
rate() { echo "$(field "$1" recv_gbps) Gbit/s received by $(basename "$1" .log)"; }

coronet_listens() {
  bg_in_coronet "$LAB_TMP/co1.log" timeout 120 "$bulk" "${coronet_args[@]}" --listen $port --send $size --seed 11
  local co=$BG_PID
  if ! wait_for 100 in_kernel ping -c1 -W1 "$LAB_IP_CORONET"; then
    echo "coronet-bulk did not come up"; show "$LAB_TMP/co1.log"; return 1
  fi
  in_kernel timeout 120 "$bulk" --stack kernel --connect "$LAB_IP_CORONET:$port" --send $size --seed 12 \
    --timeout 60 >"$LAB_TMP/kn1.log" 2>&1
  local krc=$? crc
  wait "$co"; crc=$?
  echo "exit: coronet $crc, kernel $krc; $(rate "$LAB_TMP/co1.log"), $(rate "$LAB_TMP/kn1.log")"
  [ "$crc" -eq 0 ] && [ "$krc" -eq 0 ] && same_stream "$LAB_TMP/co1.log" "$LAB_TMP/kn1.log" && return 0
  show "$LAB_TMP/co1.log"; show "$LAB_TMP/kn1.log"; return 1
}
check "coronet listens, kernel connects: 64 MiB each way, SHA-256 equal on both sides" coronet_listens

coronet_connects() {
  bg_kernel "$LAB_TMP/kn2.log" timeout 120 "$bulk" --stack kernel --listen $port --send $size --seed 21 --timeout 60
  local kn=$BG_PID
  if ! wait_for 50 bash -c "ip netns exec $LAB_NS_KERNEL ss -Hltn 'sport = :$port' | grep -q LISTEN"; then
    echo "kernel listener did not start"; show "$LAB_TMP/kn2.log"; return 1
  fi
  in_coronet timeout 120 "$bulk" "${coronet_args[@]}" --connect "$LAB_IP_KERNEL:$port" --send $size --seed 22 \
    >"$LAB_TMP/co2.log" 2>&1
  local crc=$? krc
  wait "$kn"; krc=$?
  echo "exit: coronet $crc, kernel $krc; $(rate "$LAB_TMP/co2.log"), $(rate "$LAB_TMP/kn2.log")"
  [ "$crc" -eq 0 ] && [ "$krc" -eq 0 ] && same_stream "$LAB_TMP/co2.log" "$LAB_TMP/kn2.log" && return 0
  show "$LAB_TMP/co2.log"; show "$LAB_TMP/kn2.log"; return 1
}
check "coronet connects to a kernel listener: 64 MiB each way, SHA-256 equal on both sides" coronet_connects

lab_finish
