#include "proto/tcp/keyed_hash.hpp"

#include <sodium.h>

namespace coronet::tcp {

namespace {
std::uint64_t siphash(const hash_key& k, const std::uint8_t* in, std::size_t len) {
  static_assert(crypto_shorthash_KEYBYTES == 16 && crypto_shorthash_BYTES == 8);
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, in, len, k.bytes.data());
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | out[i];
  return v;
}

void store_le64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
}  // namespace

hash_key derive_key(std::uint64_t seed, std::uint8_t label) {
  hash_key master;
  store_le64(master.bytes.data(), seed);
  store_le64(master.bytes.data() + 8, 0x74656e6f726f63ull);  // "coronet", fixed half of the master key
  std::uint8_t msg[2] = {label, 0};
  hash_key k;
  store_le64(k.bytes.data(), siphash(master, msg, sizeof msg));
  msg[1] = 1;
  store_le64(k.bytes.data() + 8, siphash(master, msg, sizeof msg));
  return k;
}

std::uint64_t keyed_hash(const hash_key& k, const four_tuple& t, std::uint64_t extra) {
  std::uint8_t msg[20];
  store_be32(msg, t.local_addr.value);
  store_be16(msg + 4, t.local_port);
  store_be32(msg + 6, t.remote_addr.value);
  store_be16(msg + 10, t.remote_port);
  store_le64(msg + 12, extra);
  return siphash(k, msg, sizeof msg);
}

}  // namespace coronet::tcp
