// proto/tcp/ports.hpp - ephemeral port choice for connect(), as Linux's
// __inet_hash_connect(): the search starts at a keyed hash of (local address,
// remote address, remote port) plus a counter that moves on each connect, and
// walks the range skipping ports whose 4-tuple is taken. A port busy towards
// one peer stays usable towards another.
#pragma once

#include <cstdint>
#include <optional>

#include "proto/tcp/four_tuple.hpp"
#include "proto/tcp/keyed_hash.hpp"

namespace coronet::tcp {

class port_allocator {
 public:
  explicit port_allocator(std::uint64_t seed);

  // A port p in [lo, hi] for which in_use(p) is false, or nothing when every
  // port is taken. in_use(p) says whether (local:p, remote) is unavailable.
  template <class InUse>
  std::optional<std::uint16_t> pick(ipv4_addr local, endpoint remote, std::uint16_t lo, std::uint16_t hi,
                                    InUse&& in_use) {
    if (lo > hi || lo == 0) return std::nullopt;
    std::uint32_t range = std::uint32_t{hi} - lo + 1;
    std::uint32_t offset = start_offset(local, remote);
    for (std::uint32_t i = 0; i < range; ++i) {
      auto port = static_cast<std::uint16_t>(lo + (offset + i) % range);
      if (!in_use(port)) {
        perturb_ += i + 1;  // the next connect to this peer starts past this port
        return port;
      }
    }
    return std::nullopt;
  }

 private:
  std::uint32_t start_offset(ipv4_addr local, endpoint remote) const;
  hash_key key_;
  std::uint32_t perturb_ = 0;
};

}  // namespace coronet::tcp
