#include "proto/tcp/syn_cookie.hpp"

#include <chrono>

namespace coronet::tcp {

namespace {
constexpr std::uint8_t cookie_key1_label = 2, cookie_key2_label = 3;
constexpr std::uint32_t cookie_bits = 24, cookie_mask = (1u << cookie_bits) - 1;
constexpr std::uint32_t max_cookie_age = 2;  // Linux MAX_SYNCOOKIE_AGE, in ticks
constexpr std::int64_t tick_seconds = 64;
constexpr std::uint32_t ts_bits = 6, ts_mask = (1u << ts_bits) - 1;
constexpr std::uint32_t ts_no_wscale = 0xf, ts_sack_bit = 0x10;

std::uint32_t cookie_count(time_point now) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return static_cast<std::uint32_t>(s / tick_seconds);
}
}  // namespace

syn_cookies::syn_cookies(std::uint64_t seed)
    : k1_(derive_key(seed, cookie_key1_label)), k2_(derive_key(seed, cookie_key2_label)) {}

std::uint32_t syn_cookies::make(const four_tuple& t, std::uint32_t irs, std::uint16_t peer_mss,
                                time_point now) const {
  std::uint32_t idx = 0;
  for (std::uint32_t i = 0; i < cookie_mss_table.size(); ++i)
    if (cookie_mss_table[i] <= peer_mss) idx = i;
  std::uint32_t count = cookie_count(now);
  auto h1 = static_cast<std::uint32_t>(keyed_hash(k1_, t));
  auto h2 = static_cast<std::uint32_t>(keyed_hash(k2_, t, count));
  return h1 + irs + (count << cookie_bits) + ((h2 + idx) & cookie_mask);
}

std::optional<std::uint16_t> syn_cookies::check(const four_tuple& t, std::uint32_t irs, std::uint32_t cookie,
                                                 time_point now) const {
  auto h1 = static_cast<std::uint32_t>(keyed_hash(k1_, t));
  std::uint32_t v = cookie - h1 - irs;
  std::uint32_t count = cookie_count(now);
  // Only the low 8 bits of the tick travel in the cookie (Linux check_tcp_syn_cookie).
  std::uint32_t age = (count - (v >> cookie_bits)) & 0xff;
  if (age > max_cookie_age) return std::nullopt;
  auto h2 = static_cast<std::uint32_t>(keyed_hash(k2_, t, count - age));
  std::uint32_t idx = (v - h2) & cookie_mask;
  if (idx >= cookie_mss_table.size()) return std::nullopt;
  return cookie_mss_table[idx];
}

std::uint32_t cookie_tsval(std::uint32_t now_ms, cookie_ts_options o) {
  std::uint32_t bits = (o.snd_wscale < 0 ? ts_no_wscale : static_cast<std::uint32_t>(o.snd_wscale) & 0xf) |
                       (o.sack ? ts_sack_bit : 0);
  std::uint32_t ts = (now_ms & ~ts_mask) | bits;
  // Never ahead of the clock (Linux cookie_init_timestamp).
  if (static_cast<std::int32_t>(ts - now_ms) > 0) ts -= ts_mask + 1;
  return ts;
}

cookie_ts_options cookie_ts_decode(std::uint32_t tsecr) {
  cookie_ts_options o;
  std::uint32_t ws = tsecr & 0xf;
  o.snd_wscale = ws == ts_no_wscale ? -1 : static_cast<int>(ws > 14 ? 14 : ws);
  o.sack = (tsecr & ts_sack_bit) != 0;
  return o;
}

}  // namespace coronet::tcp
