#!/usr/bin/env bash
# Namespace test: the same kernel-client checks with the kernel's veth offloads
# on (TSO super-frames above the MTU, TCP checksums left to offload).
exec bash "$(dirname "$0")/serve_kernel_client_test.sh" "$1" on
