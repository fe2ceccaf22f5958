#!/usr/bin/env bash
# backends: af_packet
# Namespace test: the same kernel-client checks with the kernel's veth offloads
# on (TSO super-frames above the MTU, TCP checksums left to offload), which
# AF_PACKET reports through PACKET_AUXDATA. Usage: BIN_DIR [BACKEND].
LAB_OFFLOADS=on exec bash "$(dirname "$0")/serve_kernel_client_test.sh" "${1:?usage: $0 BIN_DIR [BACKEND]}" \
  "${2:-af_packet}"
