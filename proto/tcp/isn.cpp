#include "proto/tcp/isn.hpp"

namespace coronet::tcp {

namespace {
constexpr std::uint8_t isn_key_label = 1;
}

isn_generator::isn_generator(std::uint64_t seed) : key_(derive_key(seed, isn_key_label)) {}

std::uint32_t isn_generator::operator()(const four_tuple& t, time_point now) const {
  // RFC 6528 3: M is a 4-microsecond timer; F is a keyed hash of the tuple.
  auto m = static_cast<std::uint32_t>(static_cast<std::uint64_t>(now.time_since_epoch().count()) / 4000);
  return m + static_cast<std::uint32_t>(keyed_hash(key_, t));
}

}  // namespace coronet::tcp
