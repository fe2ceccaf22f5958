// proto/wire/checksum.hpp - the Internet checksum (RFC 1071) and the TCP/UDP
// pseudo-header sum (RFC 9293 3.1).
#pragma once

#include <cstdint>

#include "proto/types.hpp"

namespace coronet::wire {

// Adds `data` to a running 32-bit one's-complement accumulator. Odd-length
// spans are padded with a zero byte (only the last span of a sum may be odd).
// Any length, a 64 KiB TSO super-frame included, is summed without overflow.
std::uint32_t csum_add(std::uint32_t sum, bytes data);
// Folds the accumulator to 16 bits and complements it: the value to store.
std::uint16_t csum_fold(std::uint32_t sum);
// csum_fold(csum_add(0, data)).
std::uint16_t internet_checksum(bytes data);
// Sum of the IPv4 pseudo-header: src, dst, zero, protocol, length.
std::uint32_t pseudo_header_sum(ipv4_addr src, ipv4_addr dst, std::uint8_t proto, std::uint16_t length);

}  // namespace coronet::wire
