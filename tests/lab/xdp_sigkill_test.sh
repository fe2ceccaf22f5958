#!/usr/bin/env bash
# backends: af_xdp-native af_xdp-generic
# Namespace test: coronet's XDP program never outlives coronet.
#  - coronet-echo serve on af_xdp echoes for a kernel client, then is killed
#    with SIGKILL (no destructor runs). Its program was attached through a
#    bpf_link, so the kernel detaches it as the process's descriptors close:
#    nothing stays on xk-co0, the kernel's own address on that interface
#    (lab.sh --kernel-on-coronet-side: 198.18.37.4) still answers, and a new
#    coronet-echo starts and echoes.
#  - the left-behind case: coronet's program attached by netlink, as an older
#    process that died would have left it (ip link set ... xdpdrv/xdpgeneric
#    obj <build>/bpf/coronet_xdp.bpf.o sec xdp). coronet-echo removes it at
#    start-up, says so on stderr ("removed"), serves, and after SIGTERM
#    nothing is attached.
source "$(dirname "$0")/lib.sh"
lab_up xk 37 --kernel-on-coronet-side
co=$LAB_IP_CORONET kn_co=$LAB_IP_KERNEL_CO
obj=$LAB_BIN/../bpf/coronet_xdp.bpf.o
case "$LAB_BACKEND" in
  af_xdp-native) ip_mode=xdpdrv ;;
  *) ip_mode=xdpgeneric ;;
esac
echo "lab: coronet $co and the kernel $kn_co on $LAB_IF_CORONET; the peer kernel $LAB_IP_KERNEL"

# What ip shows of XDP on coronet's interface: "xdp"/"xdpgeneric" on the
# link line and "prog/xdp id N name ..." below it (ip-link(8)).
xdp_shown() { ip -n "$LAB_NS_CORONET" -d link show dev "$LAB_IF_CORONET" | grep -E 'prog/xdp|[[:space:]]xdp'; }
xdp_attached() { xdp_shown >/dev/null; }
# "xdpgeneric prog/xdp id 12 name coronet_xdp": the mode and the program, for the log.
xdp_summary() { xdp_shown | grep -Eo '[[:space:]]xdp[a-z]*[[:space:]]|prog/xdp id [0-9]+ name [a-z_]+' | tr -s ' \n' ' '; }
nothing_attached() {
  wait_for 50 bash -c "! ip -n $LAB_NS_CORONET -d link show dev $LAB_IF_CORONET | grep -Eq 'prog/xdp|[[:space:]]xdp'" &&
    return 0
  echo "still attached after 5 s:"; xdp_shown
  command -v bpftool >/dev/null && in_coronet bpftool net show dev "$LAB_IF_CORONET"
  return 1
}

# start_server LOG: coronet-echo serve on .2:7; sets server. Fails unless it answers ping.
start_server() {
  bg_coronet "$1" serve --iface "$LAB_IF_CORONET" --addr "$co/24" --port 7 --stats "${LAB_DEV[@]}"
  server=$BG_PID
  wait_for 100 in_kernel ping -c1 -W1 "$co" && return 0
  echo "coronet-echo serve did not come up"; cat "$1"; return 1
}
line_echoed() {
  local want="line $1 through coronet"
  [ "$(printf '%s\n' "$want" | in_kernel timeout 10 nc -N -w 5 "$co" 7)" = "$want" ]
}
# All 20 answered (ping itself exits 0 after a single reply).
kernel_answers() {
  in_kernel ping -c 20 -i 0.01 -W 2 "$kn_co" >"$LAB_TMP/ping.log" 2>&1 &&
    grep -q " 20 received" "$LAB_TMP/ping.log" || { cat "$LAB_TMP/ping.log"; return 1; }
}

first_serves() {
  start_server "$LAB_TMP/serve1.log" || return 1
  line_echoed 1 || { echo "no echo"; cat "$LAB_TMP/serve1.log"; return 1; }
  xdp_attached || { echo "no XDP program on $LAB_IF_CORONET while coronet runs"; return 1; }
  echo "while running:$(xdp_summary)"
  # --xdp-mode was honoured: "xdp" is driver mode on the link line, "xdpgeneric" SKB mode.
  local want=xdpgeneric
  [ "$LAB_BACKEND" = af_xdp-native ] && want=xdp
  xdp_shown | head -1 | grep -q "[[:space:]]$want[[:space:]]" || { echo "not attached as $want"; return 1; }
}
check "coronet-echo on $LAB_BACKEND echoes a kernel client's line; its program is attached in that mode" \
  first_serves

sigkill() {
  # Our own child: ip netns exec execs coronet-echo in place, so this PID is it.
  local comm
  comm=$(cat "/proc/$server/comm" 2>/dev/null)
  [ "$comm" = coronet-echo ] || { echo "PID $server is '$comm', not coronet-echo"; return 1; }
  kill -KILL "$server"
  wait "$server" 2>/dev/null
  local rc=$?
  [ "$rc" -eq 137 ] || { echo "exit status $rc, want 137 (SIGKILL)"; return 1; }
}
check "SIGKILL coronet-echo (its own PID)" sigkill

check "after SIGKILL: no XDP program left on $LAB_IF_CORONET" nothing_attached
check "after SIGKILL: the kernel's own $kn_co on the interface answers ping" kernel_answers
gone() { ! in_kernel ping -c1 -W1 "$co" >/dev/null; }
check "after SIGKILL: nothing answers for coronet's $co" gone

restart() {
  start_server "$LAB_TMP/serve2.log" || return 1
  line_echoed 2 || { echo "no echo"; cat "$LAB_TMP/serve2.log"; return 1; }
}
check "a new coronet-echo starts and echoes" restart

stop_server() {  # stop_server LOG: SIGTERM, bounded wait, exit 0
  kill -TERM "$server"
  local i
  for i in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$server" 2>/dev/null && { echo "still running 10 s after SIGTERM"; return 1; }
  wait "$server" || { echo "exit status $? after SIGTERM"; cat "$1"; return 1; }
}
check "SIGTERM: exit 0" stop_server "$LAB_TMP/serve2.log"
check "after SIGTERM: no XDP program left" nothing_attached

left_behind() {
  [ -f "$obj" ] || { echo "no BPF object at $obj"; return 1; }
  in_coronet ip link set dev "$LAB_IF_CORONET" "$ip_mode" obj "$obj" sec xdp >"$LAB_TMP/attach.log" 2>&1 ||
    { echo "ip link set $ip_mode obj failed:"; cat "$LAB_TMP/attach.log"; return 1; }
  xdp_attached || { echo "ip attached nothing"; return 1; }
  echo "left behind:$(xdp_summary)"
  # The kernel's traffic passes the orphaned program; coronet's goes nowhere.
  kernel_answers || { echo "the kernel's address stopped answering under the orphaned program"; return 1; }
}
check "coronet's program attached by netlink ($ip_mode), its loader gone" left_behind

removes_it() {
  start_server "$LAB_TMP/serve3.log" || return 1
  grep -i "removed" "$LAB_TMP/serve3.log" || { echo "no line saying the program was removed:"; cat "$LAB_TMP/serve3.log"; return 1; }
  line_echoed 3 || { echo "no echo"; cat "$LAB_TMP/serve3.log"; return 1; }
}
check "coronet-echo starts over it: says it removed the old program, and echoes" removes_it
check "SIGTERM: exit 0" stop_server "$LAB_TMP/serve3.log"
check "after SIGTERM: nothing attached" nothing_attached
check "the kernel's own $kn_co still answers" kernel_answers
lab_finish
