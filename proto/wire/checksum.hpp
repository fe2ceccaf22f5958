// proto/wire/checksum.hpp - the Internet checksum (RFC 1071) and the TCP/UDP
// pseudo-header sum (RFC 9293 3.1). Inline: every frame in and out is summed,
// and a header of known length (IPv4's 20 bytes) then compiles to a few adds.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#include "proto/types.hpp"

namespace coronet::wire {

namespace detail {
// Folds a 64-bit one's-complement accumulator to 32 bits. 2^32 is congruent to
// 1 modulo 0xffff, so adding the halves (with end-around carry) keeps the sum
// (RFC 1071 2(B): the sum may be taken over wider words and folded).
inline std::uint32_t fold64(std::uint64_t acc) {
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  return static_cast<std::uint32_t>(acc);
}
// To 16 bits, end-around carries included, not complemented.
inline std::uint32_t fold16(std::uint64_t acc) {
  std::uint32_t s = fold64(acc);
  s = (s & 0xffffu) + (s >> 16);
  s = (s & 0xffffu) + (s >> 16);
  return s;
}
}  // namespace detail

// Adds `data` to a running 32-bit one's-complement accumulator. Odd-length
// spans are padded with a zero byte (only the last span of a sum may be odd).
// Any length, a 64 KiB TSO super-frame included, is summed without overflow.
inline std::uint32_t csum_add(std::uint32_t sum, bytes data) {
  // RFC 1071 2(B): the sum does not depend on byte order, so the words are
  // added as the host loads them (eight bytes at a time, no byte swaps) and
  // only the folded 16-bit result is swapped into network order. The 64-bit
  // words are added one's-complement style, the carry out of each add wrapped
  // back in (RFC 1071 2(C), an add-with-carry): the accumulator never
  // overflows, so a 64 KiB TSO super-frame needs no periodic fold, and
  // 2^64 - 1 being a multiple of 0xffff, folding it gives the 16-bit sum.
  const std::uint8_t* p = data.data();
  std::size_t n = data.size();
  std::uint64_t acc = 0;
  auto add = [&acc](std::uint64_t w) {
    acc += w;
    acc += acc < w;  // end-around carry
  };
  auto load64 = [](const std::uint8_t* q) {
    std::uint64_t w;
    std::memcpy(&w, q, 8);
    return w;
  };
  for (; n >= 32; p += 32, n -= 32) {
    add(load64(p));
    add(load64(p + 8));
    add(load64(p + 16));
    add(load64(p + 24));
  }
  for (; n >= 8; p += 8, n -= 8) add(load64(p));
  if (n >= 4) {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    add(w);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    std::uint16_t w;
    std::memcpy(&w, p, 2);
    add(w);
    p += 2;
    n -= 2;
  }
  // RFC 1071 4.1: the odd byte is the high half of a zero-padded word, which
  // is where the host's own order puts it once the result is swapped back.
  if (n == 1) add(std::endian::native == std::endian::little ? std::uint64_t{p[0]} : std::uint64_t{p[0]} << 8);
  auto folded = static_cast<std::uint16_t>(detail::fold16(acc));
  if constexpr (std::endian::native == std::endian::little) {
    folded = static_cast<std::uint16_t>((folded >> 8) | (folded << 8));
  }
  return detail::fold64(std::uint64_t{sum} + folded);
}

// Folds the accumulator to 16 bits and complements it: the value to store.
inline std::uint16_t csum_fold(std::uint32_t sum) { return static_cast<std::uint16_t>(~detail::fold16(sum) & 0xffffu); }

// csum_fold(csum_add(0, data)).
inline std::uint16_t internet_checksum(bytes data) { return csum_fold(csum_add(0, data)); }

// Sum of the IPv4 pseudo-header (RFC 9293 3.1): src, dst, zero, protocol, length.
inline std::uint32_t pseudo_header_sum(ipv4_addr src, ipv4_addr dst, std::uint8_t proto, std::uint16_t length) {
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
