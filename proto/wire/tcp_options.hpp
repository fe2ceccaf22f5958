// proto/wire/tcp_options.hpp - TCP options: MSS (RFC 9293 3.2), window scale and
// timestamps (RFC 7323), SACK-permitted and SACK (RFC 2018), NOP/EOL; unknown
// kinds are skipped by their length.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "proto/result.hpp"
#include "proto/types.hpp"

namespace coronet::wire {

enum class tcp_option_kind : std::uint8_t {
  eol = 0, nop = 1, mss = 2, window_scale = 3, sack_permitted = 4, sack = 5, timestamps = 8,
};

struct tcp_timestamps {
  std::uint32_t tsval = 0, tsecr = 0;
  bool operator==(const tcp_timestamps&) const = default;
};

struct sack_block {
  std::uint32_t left = 0, right = 0;
  bool operator==(const sack_block&) const = default;
};

struct tcp_options {
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> window_scale;  // shift count as sent (receivers clamp to 14)
  bool sack_permitted = false;
  std::optional<tcp_timestamps> timestamps;
  std::uint8_t sack_count = 0;  // 0..4 blocks used in `sack`
  std::array<sack_block, 4> sack{};
  bool operator==(const tcp_options&) const = default;
};

inline constexpr std::size_t tcp_max_options_len = 40;
// NOP NOP kind=8 len=10: the timestamps option on a 4-byte boundary, as
// Linux (and emit_tcp_options) lays it out when it travels alone.
inline constexpr std::uint32_t tcp_aligned_timestamps = 0x0101080au;

// Parses the option area (data offset bytes past the 20-byte header).
// A length byte of 0 or 1, a length running past the area, or a known kind
// with the wrong length -> tcp_bad_option. EOL ends parsing.
result<tcp_options> parse_tcp_options(bytes area);
// The same into `o` (reset first): no copy of the struct on the receive path.
std::optional<drop> parse_tcp_options(bytes area, tcp_options& o);
// Bytes emit_tcp_options() will write: a multiple of 4, at most 40.
std::size_t tcp_options_len(const tcp_options& o);
// Writes the options NOP-padded to a multiple of 4, in the order Linux sends
// them (MSS, SACK-permitted+timestamps, window scale; SACK blocks last).
// SACK blocks that would push the area past 40 bytes are left out (3 fit
// beside timestamps). Returns the length written (0 for no options), or 0 if
// `out` is shorter than tcp_options_len(o).
std::size_t emit_tcp_options(const tcp_options& o, mut_bytes out);

}  // namespace coronet::wire
