// proto/wire/icmp.cpp - ICMP echo request and reply (RFC 792 "Echo or Echo Reply Message").
#include "proto/wire/icmp.hpp"

#include <cstring>

#include "proto/wire/checksum.hpp"

namespace coronet::wire {

result<icmp_echo> parse_icmp_echo(bytes m) {
  if (m.size() < icmp_echo_header_len) return drop::icmp_too_short;
  // RFC 792: the checksum covers the whole ICMP message (Linux icmp_rcv()
  // counts a failure as IcmpInCsumErrors).
  if (internet_checksum(m) != 0) return drop::icmp_bad_checksum;
  const std::uint8_t type = m[0];
  if ((type != static_cast<std::uint8_t>(icmp_type::echo_request) &&
       type != static_cast<std::uint8_t>(icmp_type::echo_reply)) ||
      m[1] != 0) {
    return drop::icmp_unsupported;
  }
  icmp_echo e;
  e.type = static_cast<icmp_type>(type);
  e.id = load_be16(m.data() + 4);
  e.seq = load_be16(m.data() + 6);
  e.data = m.subspan(icmp_echo_header_len);
  return e;
}

std::size_t emit(const icmp_echo& e, mut_bytes out) {
  const std::size_t len = icmp_echo_header_len + e.data.size();
  if (out.size() < len) return 0;
  std::uint8_t* p = out.data();
  // Data first: it may alias `out` (a reply built over the request), and
  // memmove is a no-op when it already sits right after the header.
  if (!e.data.empty()) std::memmove(p + icmp_echo_header_len, e.data.data(), e.data.size());
  p[0] = static_cast<std::uint8_t>(e.type);
  p[1] = 0;  // code
  store_be16(p + 2, 0);
  store_be16(p + 4, e.id);
  store_be16(p + 6, e.seq);
  store_be16(p + 2, internet_checksum(bytes(p, len)));
  return len;
}

}  // namespace coronet::wire
