#!/usr/bin/env bash
# backends: af_packet
# tests/lab/af_packet_offload_test.sh BIN_DIR - the AF_PACKET device against
# the kernel over the namespace lab: an ARP round trip, 1000 frames through 16
# TX buffers, and kernel-sent UDP / TCP SYN / UDP GSO frames with offloads on
# (csum_not_ready, one 4042-byte super-frame) and off (neither).
# The doctest cases create and remove the lab (prefix afp, 198.18.7.0/24)
# themselves; this script only runs them as root. Exit 77: skipped.
# AF_PACKET's own test: the lab's backend argument may only be af_packet.
set -euo pipefail
bin=${1:?usage: af_packet_offload_test.sh BIN_DIR [af_packet]}
if [ "${2:-af_packet}" != af_packet ]; then
  echo "skipped: af_packet_offload_test.sh tests the af_packet device only, not ${2}"
  exit 77
fi
# skip REASON: exit 77, or fail where every test must run (CORONET_REQUIRE_LAB=1,
# as tests/lab/lib.sh does).
skip() {
  if [ "${CORONET_REQUIRE_LAB:-0}" = 1 ]; then echo "FAIL: would skip, but CORONET_REQUIRE_LAB=1: $*"; exit 1; fi
  echo "skipped: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root (namespaces, AF_PACKET)"
for tool in ip ethtool; do
  command -v "$tool" >/dev/null || skip "$tool not installed"
done
here=$(cd "$(dirname "$0")" && pwd)
export CORONET_LAB_SH="$here/../../scripts/lab.sh"
cleanup() { bash "$CORONET_LAB_SH" down --prefix afp >/dev/null 2>&1 || true; }
trap cleanup EXIT
# The cases must exist: a filter that matches nothing passes with nothing run.
cases=$("$bin/coronet-tests-io" --no-intro --count --test-case='af_packet*' | sed -n 's/.*unskipped test cases passing the current filters: \([0-9]*\).*/\1/p')
if [ "${cases:-0}" -lt 4 ]; then
  echo "FAIL: expected at least 4 af_packet test cases in coronet-tests-io, found ${cases:-none}"
  exit 1
fi
"$bin/coronet-tests-io" --no-intro --force-colors=false --test-case='af_packet*'
