// proto/tcp/isn.hpp - initial sequence numbers per RFC 6528:
//   ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
// with M a timer ticking every 4 microseconds (taken from `now`, the engine
// never reads a clock) and F SipHash keyed from the engine's seed.
#pragma once

#include <cstdint>

#include "proto/tcp/four_tuple.hpp"
#include "proto/tcp/keyed_hash.hpp"
#include "proto/types.hpp"

namespace coronet::tcp {

class isn_generator {
 public:
  explicit isn_generator(std::uint64_t seed);
  std::uint32_t operator()(const four_tuple& t, time_point now) const;

 private:
  hash_key key_;
};

}  // namespace coronet::tcp
