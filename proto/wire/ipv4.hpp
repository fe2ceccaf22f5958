// proto/wire/ipv4.hpp - IPv4 header (RFC 791). Options are accepted on receive
// and skipped; coronet never sends any.
#pragma once

#include <cstdint>

#include "proto/result.hpp"
#include "proto/types.hpp"

namespace coronet::wire {

inline constexpr std::size_t ipv4_min_header_len = 20;

enum class ip_proto : std::uint8_t { icmp = 1, tcp = 6, udp = 17 };

struct ipv4_header {  // host order, compares with ==
  ipv4_addr src, dst;
  std::uint8_t proto = 0;  // an ip_proto value; others kept as numbers
  std::uint8_t ttl = 64;
  std::uint8_t tos = 0;
  std::uint16_t id = 0;
  bool dont_fragment = true;
  std::uint16_t payload_len = 0;  // total length minus header length
  bool operator==(const ipv4_header&) const = default;
};

class ipv4_view {  // never outlives the frame it points into
 public:
  // Validates, in order: at least 20 bytes (ipv4_too_short), version 4
  // (ipv4_bad_version), IHL >= 5 and within the buffer (ipv4_bad_ihl), total
  // length >= header length and <= buffer (ipv4_bad_total_length), header
  // checksum (ipv4_bad_checksum). Bytes past the total length (Ethernet
  // padding) are ignored.
  static result<ipv4_view> parse(bytes packet);
  ipv4_header header() const;
  std::size_t header_len() const;
  // More-fragments set or a non-zero fragment offset.
  bool is_fragment() const;
  bytes payload() const;

 private:
  explicit ipv4_view(bytes p) : p_(p) {}
  bytes p_;  // exactly total-length bytes
};

// Writes a 20-byte header (no options) for `h.payload_len` bytes of payload,
// checksum filled last; returns 20, or 0 if `out` is too small.
std::size_t emit(const ipv4_header& h, mut_bytes out);

}  // namespace coronet::wire
