// tests/proto/wire/wire_test_util.hpp - small helpers shared by the wire tests.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "proto/types.hpp"

namespace coronet::test {

// A heap copy with capacity == size: under AddressSanitizer any read one byte
// past the end of what a parser was given is reported.
inline std::vector<std::uint8_t> exact(bytes b) { return {b.begin(), b.end()}; }
inline std::vector<std::uint8_t> exact(std::initializer_list<std::uint8_t> b) { return b; }

inline bytes view(const std::vector<std::uint8_t>& v) { return {v.data(), v.size()}; }

// An independent RFC 1071 reference: 16-bit words, folded after every add.
inline std::uint16_t reference_checksum(bytes b) {
  std::uint32_t s = 0;
  for (std::size_t i = 0; i < b.size(); i += 2) {
    std::uint32_t w = std::uint32_t{b[i]} << 8;
    if (i + 1 < b.size()) w |= b[i + 1];
    s += w;
    s = (s & 0xffff) + (s >> 16);
  }
  return static_cast<std::uint16_t>(~s & 0xffff);
}

}  // namespace coronet::test
