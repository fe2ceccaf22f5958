// proto/tcp/four_tuple.hpp - the key of a connection or request entry: our
// address and port, the peer's address and port.
#pragma once

#include <cstdint>
#include <utility>

#include "proto/types.hpp"

namespace coronet::tcp {

struct four_tuple {
  ipv4_addr local_addr;
  std::uint16_t local_port = 0;
  ipv4_addr remote_addr;
  std::uint16_t remote_port = 0;

  endpoint local() const { return {local_addr, local_port}; }
  endpoint remote() const { return {remote_addr, remote_port}; }
  bool operator==(const four_tuple&) const = default;

  template <class H>
  friend H AbslHashValue(H h, const four_tuple& t) {
    return H::combine(std::move(h), t.local_addr.value, t.local_port, t.remote_addr.value, t.remote_port);
  }
};

}  // namespace coronet::tcp
