# tests/lab/lib.sh - shared by the namespace tests: builds a private lab, starts
# processes in it, checks, and tears everything down on exit. Sourced, not run.
# Every wait is bounded in count and time; only PIDs started here are killed.
#
# A test runs as `bash X_test.sh BUILD_BIN_DIR [BACKEND]`, BACKEND being the
# packet device coronet's programs use:
#   af_packet (default)   LAB_DEV=(--backend af_packet)
#   af_xdp-native         LAB_DEV=(--backend af_xdp --xdp-mode native)
#   af_xdp-generic        LAB_DEV=(--backend af_xdp --xdp-mode generic)
# Every coronet-echo / coronet-bulk a test starts gets "${LAB_DEV[@]}". A line
# "# backends: NAME..." near the top of a test names the only backends it
# runs on (tests/CMakeLists.txt registers it for those; here others skip).
set -uo pipefail

LAB_BIN=${1:?usage: $0 BUILD_BIN_DIR [af_packet|af_xdp-native|af_xdp-generic]}
LAB_BACKEND=${2:-af_packet}
LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
case "$LAB_BACKEND" in
  af_packet) LAB_DEV=(--backend af_packet) ;;
  af_xdp-native) LAB_DEV=(--backend af_xdp --xdp-mode native) ;;
  af_xdp-generic) LAB_DEV=(--backend af_xdp --xdp-mode generic) ;;
  *) echo "FAIL: unknown lab backend '$LAB_BACKEND' (af_packet, af_xdp-native or af_xdp-generic)"; exit 2 ;;
esac
lab_only=$(sed -n 's/^# backends:[[:space:]]*//p' "$0" | head -1)
if [ -n "$lab_only" ] && [[ " $lab_only " != *" $LAB_BACKEND "* ]]; then
  echo "SKIP: $(basename "$0") runs on $lab_only only, not $LAB_BACKEND"
  exit 77
fi
echo "backend: $LAB_BACKEND (${LAB_DEV[*]})"

# lab_skip REASON: exit 77 (ctest: skipped) - or, where every test is meant to
# run (CORONET_REQUIRE_LAB=1: scripts/test.sh as root, CI), fail.
lab_skip() {
  if [ "${CORONET_REQUIRE_LAB:-0}" = 1 ]; then
    echo "FAIL: would skip, but CORONET_REQUIRE_LAB=1: $*"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}

if [ "$(id -u)" -ne 0 ]; then
  lab_skip "namespace tests need root (CAP_NET_ADMIN to build the lab, CAP_NET_RAW for AF_PACKET," \
    "CAP_BPF for AF_XDP)"
fi

LAB_TMP=$(mktemp -d /tmp/coronet-lab.XXXXXX)
LAB_PREFIX=
lab_pids=()
lab_fails=0
lab_checks=0

# lab_ours PID: PID is a child of this shell still running (not one that has
# exited and been reaped, whose number the kernel may have given to another
# process since).
lab_ours() {
  local ppid
  ppid=$(awk '/^PPid:/ { print $2 }' "/proc/$1/status" 2>/dev/null) && [ "$ppid" = "$$" ]
}

# lab_term PID: TERM to PID and to the processes it forked (pgrep -P: its
# children, by parent PID). A forking server's connection handlers are its
# children and outlive a TERM to the listener alone (socat ... fork).
lab_term() {
  kill -TERM $(pgrep -P "$1") "$1" 2>/dev/null
}

lab_cleanup() {
  local pid live=()
  for pid in "${lab_pids[@]}"; do lab_ours "$pid" && live+=("$pid"); done
  for pid in "${live[@]}"; do lab_term "$pid"; done
  for pid in "${live[@]}"; do
    for _ in $(seq 50); do lab_ours "$pid" || break; sleep 0.1; done
    lab_ours "$pid" && kill -KILL "$pid" 2>/dev/null
  done
  [ -n "$LAB_PREFIX" ] && "$LAB_ROOT/scripts/lab.sh" down --prefix "$LAB_PREFIX" >/dev/null 2>&1
  rm -rf "$LAB_TMP"
}
trap lab_cleanup EXIT
# ctest ends a test that overruns its TIMEOUT (600 s) with SIGKILL, which no
# trap sees, so the lab would stay. The watchdog ends the test first, by
# TERM, which runs the EXIT trap: no test needs more than a minute or two.
trap 'echo "FAIL: $(basename "$0") ran over ${LAB_WATCHDOG_S}s (lib.sh watchdog)"; exit 1' TERM
LAB_WATCHDOG_S=${LAB_WATCHDOG_S:-420}
(
  trap 'kill "$nap" 2>/dev/null; exit 0' TERM  # ended by lab_cleanup: take the sleep along
  sleep "$LAB_WATCHDOG_S" &
  nap=$!
  wait "$nap" && kill -TERM $$
) >/dev/null 2>&1 &
lab_pids+=("$!")

# lab_up PREFIX NET [--offloads on|off] [--kernel-on-coronet-side]: creates the
# lab (scripts/lab.sh) and exports its variables. The kernel's offloads are
# off unless the test asks for them (the af_xdp backends need them off: only
# AF_PACKET learns of partial checksums, through PACKET_AUXDATA).
lab_up() {
  LAB_PREFIX=$1
  local net=$2
  shift 2
  local vars
  vars=$("$LAB_ROOT/scripts/lab.sh" up --prefix "$LAB_PREFIX" --net "$net" "$@") || {
    echo "FAIL: could not create the lab (scripts/lab.sh up --prefix $LAB_PREFIX --net $net $*)"; exit 1; }
  eval "$vars"
}

in_kernel() { ip netns exec "$LAB_NS_KERNEL" "$@"; }
in_coronet() { ip netns exec "$LAB_NS_CORONET" "$@"; }

# bg_coronet LOGFILE ARGS...: starts coronet-echo in coronet's namespace; sets BG_PID.
# ARGS are coronet-echo's own: the mode first, and "${LAB_DEV[@]}" among them.
bg_coronet() {
  local log=$1
  shift
  ip netns exec "$LAB_NS_CORONET" "$LAB_BIN/coronet-echo" "$@" >"$log" 2>&1 &
  BG_PID=$!
  lab_pids+=("$BG_PID")
}
# bg_in_coronet LOGFILE CMD...: starts any command in coronet's namespace; sets BG_PID.
bg_in_coronet() {
  local log=$1
  shift
  ip netns exec "$LAB_NS_CORONET" "$@" >"$log" 2>&1 &
  BG_PID=$!
  lab_pids+=("$BG_PID")
}
# bg_kernel LOGFILE CMD...: starts a command in the kernel's namespace; sets BG_PID.
bg_kernel() {
  local log=$1
  shift
  ip netns exec "$LAB_NS_KERNEL" "$@" >"$log" 2>&1 &
  BG_PID=$!
  lab_pids+=("$BG_PID")
}

# wait_for TRIES CMD...: runs CMD every 0.1 s until it succeeds, at most TRIES times.
wait_for() {
  local tries=$1
  shift
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# check NAME CMD...: runs CMD; records and prints the outcome.
check() {
  local name=$1
  shift
  lab_checks=$((lab_checks + 1))
  if "$@"; then
    echo "ok   - $name"
  else
    echo "FAIL - $name"
    lab_fails=$((lab_fails + 1))
  fi
}

lab_finish() {
  echo "$((lab_checks - lab_fails)) passed, $lab_fails failed"
  [ "$lab_fails" -eq 0 ]
}
