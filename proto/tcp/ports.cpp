#include "proto/tcp/ports.hpp"

namespace coronet::tcp {

namespace {
constexpr std::uint8_t port_key_label = 4;
}

port_allocator::port_allocator(std::uint64_t seed) : key_(derive_key(seed, port_key_label)) {}

std::uint32_t port_allocator::start_offset(ipv4_addr local, endpoint remote) const {
  // Linux __inet_hash_connect: offset = secure hash of the destination + a
  // perturbation counter, so ports are neither predictable nor sequential.
  four_tuple t{local, 0, remote.addr, remote.port};
  return static_cast<std::uint32_t>(keyed_hash(key_, t)) + perturb_;
}

}  // namespace coronet::tcp
