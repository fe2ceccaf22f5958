#!/usr/bin/env bash
# scripts/lab.sh - the namespace lab: two network namespaces joined by a veth pair.
#
#   scripts/lab.sh up   [--prefix P] [--net N] [--offloads on|off] [--kernel-on-coronet-side]
#   scripts/lab.sh down [--prefix P]
#   scripts/lab.sh env  [--prefix P] [--net N]      print the lab's variables
#
# Namespaces: P-co (coronet's host) and P-kn (the kernel's host), joined by the
# veth pair P-co0 <-> P-kn0. The kernel end gets 198.18.N.1/24; coronet owns
# 198.18.N.2/24 on P-co0, an address the kernel must not have (it would
# answer coronet's peers with RSTs). IPv6 is off on both ends so
# only the traffic a test makes crosses the wire.
#
# --kernel-on-coronet-side: the kernel of P-co also gets 198.18.N.4/24 on
# P-co0, the interface coronet uses, and the offloads setting below applies
# to P-co0 too (the kernel sends from there as well). coronet and the kernel
# then share the interface and its MAC, each answering for its own address:
# with AF_PACKET coronet also receives the kernel's frames and drops them
# (InAddrErrors); with AF_XDP coronet's XDP program passes them to the kernel.
#
# Offloads: by default (off) the kernel end sends what a real wire carries:
# MTU-sized frames with complete checksums (ethtool -K tx off tso off gso off).
# With --offloads on the kernel keeps veth's defaults, so coronet receives TSO
# super-frames with TP_STATUS_CSUMNOTREADY; coronet handles both.
# Defaults: P=cn, N=0. Only addresses in 198.18.0.0/15 are used.
# `up` prints the variables (LAB_IP_KERNEL_CO: the kernel's 198.18.N.4).
set -euo pipefail

cmd=${1:-}
shift || true
prefix=${LAB_PREFIX:-cn}
net=${LAB_NET:-0}
offloads=off
kernel_co=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { echo "lab.sh: --prefix needs a value" >&2; exit 2; }; prefix=$2; shift 2 ;;
    --net) [ $# -ge 2 ] || { echo "lab.sh: --net needs a value" >&2; exit 2; }; net=$2; shift 2 ;;
    --offloads) [ $# -ge 2 ] || { echo "lab.sh: --offloads needs a value" >&2; exit 2; }; offloads=$2; shift 2 ;;
    --kernel-on-coronet-side) kernel_co=1; shift ;;
    *) echo "lab.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
case "$offloads" in on|off) ;; *) echo "lab.sh: --offloads takes on or off" >&2; exit 2 ;; esac
if ! [[ "$net" =~ ^[0-9]+$ ]] || [ "$net" -gt 255 ]; then echo "lab.sh: --net takes 0..255" >&2; exit 2; fi
if ! [[ "$prefix" =~ ^[a-z0-9]{1,6}$ ]]; then echo "lab.sh: --prefix takes 1-6 of [a-z0-9]" >&2; exit 2; fi

ns_co=$prefix-co
ns_kn=$prefix-kn
if_co=$prefix-co0
if_kn=$prefix-kn0
kernel_ip=198.18.$net.1
coronet_ip=198.18.$net.2
kernel_co_ip=198.18.$net.4

print_env() {
  cat <<ENV
LAB_NS_CORONET=$ns_co
LAB_NS_KERNEL=$ns_kn
LAB_IF_CORONET=$if_co
LAB_IF_KERNEL=$if_kn
LAB_IP_KERNEL=$kernel_ip
LAB_IP_CORONET=$coronet_ip
LAB_IP_KERNEL_CO=$kernel_co_ip
LAB_PREFIXLEN=24
ENV
}

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "lab.sh: creating namespaces needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)" >&2
    exit 1
  fi
}

down() {
  ip netns del "$ns_co" 2>/dev/null || true
  ip netns del "$ns_kn" 2>/dev/null || true
}

up() {
  need_root
  down
  ip netns add "$ns_co"
  ip netns add "$ns_kn"
  ip link add "$if_co" netns "$ns_co" type veth peer name "$if_kn" netns "$ns_kn"
  for ns in "$ns_co" "$ns_kn"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
  done
  ip -n "$ns_kn" addr add "$kernel_ip/24" dev "$if_kn"
  ip -n "$ns_co" link set "$if_co" up
  ip -n "$ns_kn" link set "$if_kn" up
  if [ "$offloads" = off ]; then
    ip netns exec "$ns_kn" ethtool -K "$if_kn" tx off tso off gso off >/dev/null
  fi
  if [ "$kernel_co" -eq 1 ]; then
    ip -n "$ns_co" addr add "$kernel_co_ip/24" dev "$if_co"
    if [ "$offloads" = off ]; then
      ip netns exec "$ns_co" ethtool -K "$if_co" tx off tso off gso off >/dev/null
    fi
  fi
  print_env
}

case "$cmd" in
  up) up ;;
  down) need_root; down ;;
  env) print_env ;;
  *) sed -n '2,26p' "$0" >&2; exit 2 ;;
esac
