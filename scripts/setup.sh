#!/usr/bin/env bash
# scripts/setup.sh - installs what coronet needs to build, test and run its lab
# on Debian 12, from Debian's archive only. Idempotent: installs only what is
# missing, and runs apt-get update only when something is.
set -euo pipefail

packages=(
  build-essential g++ clang cmake ninja-build pkg-config   # toolchains (g++ 12, clang 14)
  liburing-dev libasio-dev doctest-dev libabsl-dev         # io_uring, Asio, tests, hash maps/flags
  libsodium-dev libpcap-dev                                # SipHash for ISNs/cookies, --pcap files
  libxdp-dev libbpf-dev linux-libc-dev                     # AF_XDP sockets, the XDP program's loader
  bpftool                                                  # lab tests: inspecting attached XDP programs
  iproute2 ethtool iputils-ping socat netcat-openbsd curl  # the namespace lab and its kernel peers
  tcpdump procps                                           # reading captures; ps/sysctl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
