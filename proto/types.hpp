// proto/types.hpp - the vocabulary every layer shares: byte spans, the engine's
// time type, IPv4 and MAC addresses, endpoints.
// The engine never reads a clock: callers pass `time_point`s, and the runtime
// maps its steady clock onto engine_clock (nanoseconds since an arbitrary epoch).
#pragma once

#include <array>
#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace coronet {

using bytes = std::span<const std::uint8_t>;
using mut_bytes = std::span<std::uint8_t>;

// A clock type with no now(): time only enters the engine as an argument.
struct engine_clock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = std::chrono::duration<rep, period>;
  using time_point = std::chrono::time_point<engine_clock>;
  static constexpr bool is_steady = true;
};
using duration = engine_clock::duration;
using time_point = engine_clock::time_point;

// IPv4 address, host byte order.
struct ipv4_addr {
  std::uint32_t value = 0;

  static std::optional<ipv4_addr> parse(std::string_view dotted);
  std::string to_string() const;
  constexpr auto operator<=>(const ipv4_addr&) const = default;
};

constexpr ipv4_addr make_ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return ipv4_addr{(std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d};
}

// `prefix_len` leading bits of an address: 24 -> 255.255.255.0.
constexpr std::uint32_t prefix_mask(int prefix_len) {
  return prefix_len <= 0 ? 0u : (prefix_len >= 32 ? 0xffffffffu : ~((1u << (32 - prefix_len)) - 1u));
}

struct mac_addr {
  std::array<std::uint8_t, 6> b{};

  static constexpr mac_addr broadcast() { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  static std::optional<mac_addr> parse(std::string_view colon_hex);
  std::string to_string() const;
  bool is_broadcast() const { return *this == broadcast(); }
  bool is_multicast() const { return (b[0] & 1) != 0; }
  constexpr auto operator<=>(const mac_addr&) const = default;
};

struct endpoint {
  ipv4_addr addr;
  std::uint16_t port = 0;

  // "198.18.0.1:8080"
  static std::optional<endpoint> parse(std::string_view text);
  std::string to_string() const;
  constexpr auto operator<=>(const endpoint&) const = default;
};

// Big-endian loads and stores: wire formats are read field by field, never
// through packed structs laid over a frame.
constexpr std::uint16_t load_be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
constexpr std::uint32_t load_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
constexpr void store_be16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
constexpr void store_be32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

}  // namespace coronet
