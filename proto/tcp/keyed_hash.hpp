// proto/tcp/keyed_hash.hpp - SipHash-2-4 (libsodium's crypto_shorthash) over a
// 4-tuple, and keys derived from the engine's seed. The ISN (RFC 6528), the
// SYN cookies (RFC 4987) and the ephemeral port offset each use their own key.
#pragma once

#include <array>
#include <cstdint>

#include "proto/tcp/four_tuple.hpp"

namespace coronet::tcp {

struct hash_key {
  std::array<std::uint8_t, 16> bytes{};
};

// A key for one purpose (`label`), derived from the seed by SipHash itself.
hash_key derive_key(std::uint64_t seed, std::uint8_t label);

// SipHash-2-4 of the tuple's 12 bytes followed by `extra` (8 bytes).
std::uint64_t keyed_hash(const hash_key& k, const four_tuple& t, std::uint64_t extra = 0);

}  // namespace coronet::tcp
