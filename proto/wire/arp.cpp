// proto/wire/arp.cpp - ARP packets for IPv4 over Ethernet (RFC 826).
#include "proto/wire/arp.hpp"

#include <algorithm>

namespace coronet::wire {

namespace {
// RFC 826 "Packet format": ar$hrd, ar$pro, ar$hln, ar$pln, ar$op, then the
// four addresses. Ethernet is hardware type 1 (IANA ARP parameters).
constexpr std::uint16_t htype_ethernet = 1;
constexpr std::uint16_t ptype_ipv4 = 0x0800;

mac_addr load_mac(const std::uint8_t* p) {
  mac_addr m;
  std::copy_n(p, 6, m.b.begin());
  return m;
}
}  // namespace

result<arp_packet> parse_arp(bytes payload) {
  if (payload.size() < arp_packet_len) return drop::arp_too_short;
  const std::uint8_t* p = payload.data();
  if (load_be16(p) != htype_ethernet || load_be16(p + 2) != ptype_ipv4 || p[4] != 6 || p[5] != 4) {
    return drop::arp_unsupported;
  }
  const std::uint16_t op = load_be16(p + 6);
  if (op != static_cast<std::uint16_t>(arp_op::request) && op != static_cast<std::uint16_t>(arp_op::reply)) {
    return drop::arp_unsupported;  // RARP and InARP opcodes are not ours
  }
  arp_packet a;
  a.op = static_cast<arp_op>(op);
  a.sha = load_mac(p + 8);
  a.spa = ipv4_addr{load_be32(p + 14)};
  a.tha = load_mac(p + 18);
  a.tpa = ipv4_addr{load_be32(p + 24)};
  return a;
}

std::size_t emit(const arp_packet& a, mut_bytes out) {
  if (out.size() < arp_packet_len) return 0;
  std::uint8_t* p = out.data();
  store_be16(p, htype_ethernet);
  store_be16(p + 2, ptype_ipv4);
  p[4] = 6;
  p[5] = 4;
  store_be16(p + 6, static_cast<std::uint16_t>(a.op));
  std::copy(a.sha.b.begin(), a.sha.b.end(), p + 8);
  store_be32(p + 14, a.spa.value);
  std::copy(a.tha.b.begin(), a.tha.b.end(), p + 18);
  store_be32(p + 24, a.tpa.value);
  return arp_packet_len;
}

}  // namespace coronet::wire
