#include "proto/types.hpp"

#include <charconv>
#include <cstdio>

namespace coronet {

namespace {
// Parses a decimal number in [0, max] that fills `s` exactly.
std::optional<std::uint32_t> parse_decimal(std::string_view s, std::uint32_t max) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  std::uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}
}  // namespace

std::optional<ipv4_addr> ipv4_addr::parse(std::string_view s) {
  std::uint32_t out = 0;
  for (int i = 0; i < 4; ++i) {
    auto dot = s.find('.');
    if ((i < 3) != (dot != std::string_view::npos)) return std::nullopt;
    auto part = s.substr(0, dot);
    if (part.size() > 1 && part[0] == '0') return std::nullopt;  // no octal look-alikes
    auto v = parse_decimal(part, 255);
    if (!v) return std::nullopt;
    out = (out << 8) | *v;
    s = i < 3 ? s.substr(dot + 1) : std::string_view{};
  }
  return ipv4_addr{out};
}

std::string ipv4_addr::to_string() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", value >> 24, (value >> 16) & 0xff, (value >> 8) & 0xff,
                value & 0xff);
  return buf;
}

std::optional<mac_addr> mac_addr::parse(std::string_view s) {
  if (s.size() != 17) return std::nullopt;
  mac_addr m;
  for (int i = 0; i < 6; ++i) {
    if (i < 5 && s[i * 3 + 2] != ':') return std::nullopt;
    std::uint32_t v = 0;
    auto part = s.substr(i * 3, 2);
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + 2, v, 16);
    if (ec != std::errc{} || ptr != part.data() + 2) return std::nullopt;
    m.b[i] = static_cast<std::uint8_t>(v);
  }
  return m;
}

std::string mac_addr::to_string() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
  return buf;
}

std::optional<endpoint> endpoint::parse(std::string_view s) {
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto addr = ipv4_addr::parse(s.substr(0, colon));
  auto port = parse_decimal(s.substr(colon + 1), 65535);
  if (!addr || !port || *port == 0) return std::nullopt;
  return endpoint{*addr, static_cast<std::uint16_t>(*port)};
}

std::string endpoint::to_string() const { return addr.to_string() + ":" + std::to_string(port); }

}  // namespace coronet
