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
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: needs root (namespaces, AF_PACKET)"
  exit 77
fi
for tool in ip ethtool; do
  command -v "$tool" >/dev/null || { echo "skipped: $tool not installed"; exit 77; }
done
here=$(cd "$(dirname "$0")" && pwd)
export CORONET_LAB_SH="$here/../../scripts/lab.sh"
cleanup() { bash "$CORONET_LAB_SH" down --prefix afp >/dev/null 2>&1 || true; }
trap cleanup EXIT
"$bin/coronet-tests-io" --no-intro --force-colors=false --test-case='af_packet*'
