// proto/wire/tcp_options.cpp - TCP option parsing and emission.
#include "proto/wire/tcp_options.hpp"

#include <algorithm>

namespace coronet::wire {

namespace {
constexpr std::uint8_t kind(tcp_option_kind k) { return static_cast<std::uint8_t>(k); }
constexpr std::uint8_t nop = kind(tcp_option_kind::nop);

// Option lengths, kind and length bytes included.
constexpr std::size_t mss_len = 4;             // RFC 9293 3.2
constexpr std::size_t window_scale_len = 3;    // RFC 7323 2.2
constexpr std::size_t sack_permitted_len = 2;  // RFC 2018 2
constexpr std::size_t timestamps_len = 10;     // RFC 7323 3.2
constexpr std::size_t sack_block_len = 8;      // RFC 2018 3: a left and a right edge
constexpr std::size_t max_sack_blocks = 4;     // RFC 2018 3: 4 blocks fill the 40-byte area
// NOP, NOP, kind 8, length 10: timestamps alone, on a 4-byte boundary (RFC 7323 Appendix A).
constexpr std::uint32_t aligned_timestamps = tcp_aligned_timestamps;

// Timestamps and nothing else: what every segment of an established
// connection that negotiated them carries, unless SACK blocks are due.
bool timestamps_only(const tcp_options& o) {
  return o.timestamps && !o.mss && !o.window_scale && !o.sack_permitted && o.sack_count == 0;
}

// Linux tcp_options_write() lays every option on a 4-byte boundary:
//   MSS                         kind len mss(2)
//   SACK-permitted + timestamps kind len | kind len tsval tsecr   (12)
//   timestamps alone            NOP NOP kind len tsval tsecr      (12)
//   SACK-permitted alone        NOP NOP kind len                  (4)
//   window scale                NOP kind len shift                (4)
//   SACK blocks                 NOP NOP kind len blocks...        (4 + 8n)
std::size_t fixed_len(const tcp_options& o) {
  std::size_t n = 0;
  if (o.mss) n += 4;
  if (o.timestamps) n += 12;
  else if (o.sack_permitted) n += 4;
  if (o.window_scale) n += 4;
  return n;
}

// SACK blocks that fit beside the other options (Linux sends at most 3 with
// timestamps: tcp_established_options()).
std::size_t sack_blocks_to_send(const tcp_options& o, std::size_t fixed) {
  const std::size_t wanted = std::min<std::size_t>(o.sack_count, max_sack_blocks);
  if (wanted == 0 || fixed + 4 + sack_block_len > tcp_max_options_len) return 0;
  return std::min(wanted, (tcp_max_options_len - fixed - 4) / sack_block_len);
}
}  // namespace

// Walks kind/length pairs as Linux tcp_parse_options() does, but rejects what
// it would silently stop at (a length below 2 or past the area) and known
// kinds with a wrong length, so malformed segments are counted.
std::optional<drop> parse_tcp_options(bytes area, tcp_options& o) {
  o = tcp_options{};
  // Linux tcp_fast_parse_options() / tcp_parse_aligned_timestamp(): the area
  // of nearly every segment after the handshake, NOP NOP TS, read in one step.
  if (area.size() == 12 && load_be32(area.data()) == aligned_timestamps) {
    o.timestamps = tcp_timestamps{load_be32(area.data() + 4), load_be32(area.data() + 8)};
    return std::nullopt;
  }
  std::size_t i = 0;
  while (i < area.size()) {
    const std::uint8_t k = area[i];
    if (k == kind(tcp_option_kind::eol)) break;  // RFC 9293 3.2: end of option list
    if (k == nop) {
      ++i;
      continue;
    }
    if (i + 1 >= area.size()) return drop::tcp_bad_option;  // no room for the length byte
    const std::size_t len = area[i + 1];
    if (len < 2 || len > area.size() - i) return drop::tcp_bad_option;
    const std::uint8_t* v = area.data() + i + 2;  // the option's value
    switch (static_cast<tcp_option_kind>(k)) {
      case tcp_option_kind::mss:
        if (len != mss_len) return drop::tcp_bad_option;
        o.mss = load_be16(v);
        break;
      case tcp_option_kind::window_scale:
        if (len != window_scale_len) return drop::tcp_bad_option;
        o.window_scale = v[0];  // RFC 7323 2.3: the receiver clamps to 14, not the parser
        break;
      case tcp_option_kind::sack_permitted:
        if (len != sack_permitted_len) return drop::tcp_bad_option;
        o.sack_permitted = true;
        break;
      case tcp_option_kind::sack: {
        const std::size_t blocks = (len - 2) / sack_block_len;
        if ((len - 2) % sack_block_len != 0 || blocks < 1 || blocks > max_sack_blocks) {
          return drop::tcp_bad_option;
        }
        o.sack_count = static_cast<std::uint8_t>(blocks);
        for (std::size_t b = 0; b < blocks; ++b) {
          o.sack[b] = {load_be32(v + b * 8), load_be32(v + b * 8 + 4)};
        }
        break;
      }
      case tcp_option_kind::timestamps:
        if (len != timestamps_len) return drop::tcp_bad_option;
        o.timestamps = tcp_timestamps{load_be32(v), load_be32(v + 4)};
        break;
      default:
        break;  // RFC 9293 3.2: an unknown kind is skipped by its length
    }
    i += len;
  }
  return std::nullopt;
}

result<tcp_options> parse_tcp_options(bytes area) {
  tcp_options o;
  if (auto bad = parse_tcp_options(area, o)) return *bad;
  return o;
}

std::size_t tcp_options_len(const tcp_options& o) {
  if (timestamps_only(o)) return 12;
  const std::size_t fixed = fixed_len(o);
  const std::size_t blocks = sack_blocks_to_send(o, fixed);
  return fixed + (blocks ? 4 + blocks * sack_block_len : 0);
}

std::size_t emit_tcp_options(const tcp_options& o, mut_bytes out) {
  if (timestamps_only(o) && out.size() >= 12) {
    store_be32(out.data(), aligned_timestamps);
    store_be32(out.data() + 4, o.timestamps->tsval);
    store_be32(out.data() + 8, o.timestamps->tsecr);
    return 12;
  }
  const std::size_t fixed = fixed_len(o);
  const std::size_t blocks = sack_blocks_to_send(o, fixed);
  const std::size_t total = fixed + (blocks ? 4 + blocks * sack_block_len : 0);
  if (out.size() < total) return 0;
  std::uint8_t* p = out.data();
  if (o.mss) {
    p[0] = kind(tcp_option_kind::mss);
    p[1] = mss_len;
    store_be16(p + 2, *o.mss);
    p += 4;
  }
  if (o.timestamps) {
    if (o.sack_permitted) {
      p[0] = kind(tcp_option_kind::sack_permitted);
      p[1] = sack_permitted_len;
    } else {
      p[0] = p[1] = nop;
    }
    p[2] = kind(tcp_option_kind::timestamps);
    p[3] = timestamps_len;
    store_be32(p + 4, o.timestamps->tsval);
    store_be32(p + 8, o.timestamps->tsecr);
    p += 12;
  } else if (o.sack_permitted) {
    p[0] = p[1] = nop;
    p[2] = kind(tcp_option_kind::sack_permitted);
    p[3] = sack_permitted_len;
    p += 4;
  }
  if (o.window_scale) {
    p[0] = nop;
    p[1] = kind(tcp_option_kind::window_scale);
    p[2] = window_scale_len;
    p[3] = *o.window_scale;
    p += 4;
  }
  if (blocks) {
    p[0] = p[1] = nop;
    p[2] = kind(tcp_option_kind::sack);
    p[3] = static_cast<std::uint8_t>(2 + blocks * sack_block_len);
    p += 4;
    for (std::size_t b = 0; b < blocks; ++b, p += 8) {
      store_be32(p, o.sack[b].left);
      store_be32(p + 4, o.sack[b].right);
    }
  }
  return total;
}

}  // namespace coronet::wire
