// proto/wire/checksum.cpp - RFC 1071 Internet checksum.
#include "proto/wire/checksum.hpp"

namespace coronet::wire {

namespace {
// Folds a 64-bit one's-complement accumulator to 32 bits. 2^32 is congruent to
// 1 modulo 0xffff, so adding the halves (with end-around carry) keeps the sum
// (RFC 1071 2(B): the sum may be taken over wider words and folded).
std::uint32_t fold64(std::uint64_t acc) {
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  return static_cast<std::uint32_t>(acc);
}
}  // namespace

std::uint32_t csum_add(std::uint32_t sum, bytes data) {
  // A 64-bit accumulator fed 32-bit words cannot overflow below 16 GiB of
  // input, so a 64 KiB TSO super-frame is summed without periodic folding.
  std::uint64_t acc = sum;
  const std::uint8_t* p = data.data();
  std::size_t n = data.size();
  for (; n >= 4; p += 4, n -= 4) acc += load_be32(p);
  if (n >= 2) {
    acc += load_be16(p);
    p += 2;
    n -= 2;
  }
  if (n == 1) acc += std::uint32_t{p[0]} << 8;  // RFC 1071 4.1: pad the odd byte with zero
  return fold64(acc);
}

std::uint16_t csum_fold(std::uint32_t sum) {
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffffu);
}

std::uint16_t internet_checksum(bytes data) { return csum_fold(csum_add(0, data)); }

// RFC 9293 3.1: source, destination, zero, PTCL, TCP length.
std::uint32_t pseudo_header_sum(ipv4_addr src, ipv4_addr dst, std::uint8_t proto, std::uint16_t length) {
  std::uint32_t s = 0;
  s += src.value >> 16;
  s += src.value & 0xffffu;
  s += dst.value >> 16;
  s += dst.value & 0xffffu;
  s += proto;
  s += length;
  return s;
}

}  // namespace coronet::wire
