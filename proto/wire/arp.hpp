// proto/wire/arp.hpp - ARP for IPv4 over Ethernet (RFC 826).
#pragma once

#include <cstdint>

#include "proto/result.hpp"
#include "proto/types.hpp"

namespace coronet::wire {

inline constexpr std::size_t arp_packet_len = 28;

enum class arp_op : std::uint16_t { request = 1, reply = 2 };

struct arp_packet {
  arp_op op = arp_op::request;
  mac_addr sha;    // sender hardware address
  ipv4_addr spa;   // sender protocol address
  mac_addr tha;    // target hardware address
  ipv4_addr tpa;   // target protocol address
  bool operator==(const arp_packet&) const = default;
};

// Checks htype 1 / ptype 0x0800 / hlen 6 / plen 4 and the opcode:
// short -> arp_too_short, anything else unexpected -> arp_unsupported.
// Trailing bytes (Ethernet padding) are ignored.
result<arp_packet> parse_arp(bytes payload);
// Writes 28 bytes; returns 28, or 0 if `out` is too small.
std::size_t emit(const arp_packet& p, mut_bytes out);

}  // namespace coronet::wire
