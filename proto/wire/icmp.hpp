// proto/wire/icmp.hpp - ICMP echo request/reply (RFC 792), enough for the
// stack to answer ping.
#pragma once

#include <cstdint>

#include "proto/result.hpp"
#include "proto/types.hpp"

namespace coronet::wire {

inline constexpr std::size_t icmp_echo_header_len = 8;

enum class icmp_type : std::uint8_t { echo_reply = 0, dest_unreachable = 3, echo_request = 8 };

struct icmp_echo {
  icmp_type type = icmp_type::echo_request;
  std::uint16_t id = 0;
  std::uint16_t seq = 0;
  bytes data;  // borrowed from the packet
};

// Verifies the checksum over the whole message (icmp_bad_checksum), the length
// (icmp_too_short) and that it is an echo request or reply with code 0
// (icmp_unsupported otherwise).
result<icmp_echo> parse_icmp_echo(bytes message);
// Writes header + data with the checksum; returns the length, or 0 if `out` is
// too small. `e.data` may alias `out` past the header (a reply built in place).
std::size_t emit(const icmp_echo& e, mut_bytes out);

}  // namespace coronet::wire
