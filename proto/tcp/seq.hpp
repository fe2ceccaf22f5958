// proto/tcp/seq.hpp - sequence number arithmetic modulo 2^32 (RFC 9293 3.4):
// a comparison looks at the signed distance, so it holds across the wrap as
// long as the two numbers are less than 2^31 apart.
#pragma once

#include <cstdint>

namespace coronet::tcp {

constexpr bool seq_lt(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) < 0; }
constexpr bool seq_leq(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) <= 0; }
constexpr bool seq_gt(std::uint32_t a, std::uint32_t b) { return seq_lt(b, a); }
constexpr bool seq_geq(std::uint32_t a, std::uint32_t b) { return seq_leq(b, a); }
// lo <= x < hi, all modulo 2^32.
constexpr bool seq_in(std::uint32_t x, std::uint32_t lo, std::uint32_t hi) {
  return x - lo < hi - lo;
}
constexpr std::uint32_t seq_max(std::uint32_t a, std::uint32_t b) { return seq_lt(a, b) ? b : a; }

}  // namespace coronet::tcp
