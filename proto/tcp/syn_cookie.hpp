// proto/tcp/syn_cookie.hpp - SYN cookies (RFC 4987 3.6): when the SYN queue is
// full, the listener answers with a SYN-ACK whose ISS encodes what it needs
// and keeps no state. Laid out as Linux's cookie_v4_init_sequence():
//   cookie = H1(tuple) + irs + (count << 24) + ((H2(tuple, count) + mss_index) & 0xffffff)
// where count ticks every 64 s and a cookie is accepted for two ticks after
// the one it was made in (Linux MAX_SYNCOOKIE_AGE).
// With timestamps, the peer's window scale and SACK-permitted ride in the low
// 6 bits of our TSval and come back in its TSecr (Linux cookie_init_timestamp);
// without timestamps a cookie connection gets neither.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "proto/tcp/four_tuple.hpp"
#include "proto/tcp/keyed_hash.hpp"
#include "proto/types.hpp"

namespace coronet::tcp {

// The MSS values a cookie can carry (Linux msstab): the largest not above the
// peer's MSS is chosen.
inline constexpr std::array<std::uint16_t, 4> cookie_mss_table = {536, 1300, 1440, 1460};

class syn_cookies {
 public:
  explicit syn_cookies(std::uint64_t seed);

  // The ISS for a SYN-ACK answering a SYN with sequence number `irs`.
  std::uint32_t make(const four_tuple& t, std::uint32_t irs, std::uint16_t peer_mss, time_point now) const;
  // The peer's ACK returned ack = cookie + 1 for seq = irs + 1. Returns the
  // MSS encoded, or nothing when the cookie is forged, tampered or too old.
  std::optional<std::uint16_t> check(const four_tuple& t, std::uint32_t irs, std::uint32_t cookie,
                                     time_point now) const;

 private:
  hash_key k1_, k2_;
};

// Peer options carried in the timestamp of a cookie SYN-ACK.
struct cookie_ts_options {
  int snd_wscale = -1;  // -1: the peer did not offer window scaling
  bool sack = false;
  bool operator==(const cookie_ts_options&) const = default;
};
// A TSval not later than `now_ms` whose low 6 bits carry `o`.
std::uint32_t cookie_tsval(std::uint32_t now_ms, cookie_ts_options o);
// Reads the options back from the echoed TSecr.
cookie_ts_options cookie_ts_decode(std::uint32_t tsecr);

}  // namespace coronet::tcp
