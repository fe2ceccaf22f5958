// proto/wire/ipv4.cpp - IPv4 header parse and emit (RFC 791 3.1).
#include "proto/wire/ipv4.hpp"

#include "proto/wire/checksum.hpp"

namespace coronet::wire {

namespace {
constexpr std::uint16_t flag_df = 0x4000;           // RFC 791 3.1: Flags bit 1, Don't Fragment
constexpr std::uint16_t flag_mf = 0x2000;           // Flags bit 2, More Fragments
constexpr std::uint16_t fragment_offset_mask = 0x1fff;
}  // namespace

// Linux ip_rcv_core() checks length, version and IHL, the header checksum, then
// the total length. Here the total length comes before the checksum (the order
// ipv4.hpp documents); every length is checked before the bytes it covers are read.
result<ipv4_view> ipv4_view::parse(bytes packet) {
  if (packet.size() < ipv4_min_header_len) return drop::ipv4_too_short;
  const std::uint8_t* p = packet.data();
  if ((p[0] >> 4) != 4) return drop::ipv4_bad_version;
  const std::size_t ihl_bytes = std::size_t{p[0] & 0x0fu} * 4;
  if (ihl_bytes < ipv4_min_header_len || ihl_bytes > packet.size()) return drop::ipv4_bad_ihl;
  const std::size_t total = load_be16(p + 2);
  // Linux ip_rcv_core(): skb->len < len || len < iph->ihl*4 -> InHdrErrors.
  if (total < ihl_bytes || total > packet.size()) return drop::ipv4_bad_total_length;
  // RFC 791 3.1: the one's-complement sum over the header, checksum included, is all ones.
  // Without options (nearly always) the length is a constant the inlined sum unrolls for.
  const bool bad = ihl_bytes == ipv4_min_header_len ? internet_checksum(packet.first(ipv4_min_header_len)) != 0
                                                      : internet_checksum(packet.first(ihl_bytes)) != 0;
  if (bad) return drop::ipv4_bad_checksum;
  return ipv4_view(packet.first(total));  // trailing Ethernet padding dropped
}

std::size_t ipv4_view::header_len() const { return std::size_t{p_[0] & 0x0fu} * 4; }

ipv4_header ipv4_view::header() const {
  const std::uint8_t* p = p_.data();
  ipv4_header h;
  h.tos = p[1];
  h.id = load_be16(p + 4);
  h.dont_fragment = (load_be16(p + 6) & flag_df) != 0;
  h.ttl = p[8];
  h.proto = p[9];
  h.src = ipv4_addr{load_be32(p + 12)};
  h.dst = ipv4_addr{load_be32(p + 16)};
  h.payload_len = static_cast<std::uint16_t>(p_.size() - header_len());
  return h;
}

bool ipv4_view::is_fragment() const {
  return (load_be16(p_.data() + 6) & (flag_mf | fragment_offset_mask)) != 0;
}

bytes ipv4_view::payload() const { return p_.subspan(header_len()); }

std::size_t emit(const ipv4_header& h, mut_bytes out) {
  if (out.size() < ipv4_min_header_len) return 0;
  if (h.payload_len > 0xffff - ipv4_min_header_len) return 0;  // total length is 16 bits
  std::uint8_t* p = out.data();
  p[0] = 0x45;  // version 4, IHL 5: coronet sends no options
  p[1] = h.tos;
  store_be16(p + 2, static_cast<std::uint16_t>(ipv4_min_header_len + h.payload_len));
  store_be16(p + 4, h.id);
  store_be16(p + 6, h.dont_fragment ? flag_df : 0);  // never fragmented: offset 0, MF clear
  p[8] = h.ttl;
  p[9] = h.proto;
  store_be16(p + 10, 0);
  store_be32(p + 12, h.src.value);
  store_be32(p + 16, h.dst.value);
  store_be16(p + 10, internet_checksum(bytes(p, ipv4_min_header_len)));
  return ipv4_min_header_len;
}

}  // namespace coronet::wire
