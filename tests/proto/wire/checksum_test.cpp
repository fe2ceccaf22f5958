// tests/proto/wire/checksum_test.cpp - RFC 1071 sum, odd lengths, pseudo-header, big buffers.
#include "proto/wire/checksum.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "wire_test_util.hpp"

using namespace coronet;
using namespace coronet::wire;
using coronet::test::exact;
using coronet::test::reference_checksum;
using coronet::test::view;

TEST_CASE("checksum: RFC 1071 3 worked example sums to ddf2") {
  auto d = exact({0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7});
  CHECK(csum_fold(csum_add(0, view(d))) == static_cast<std::uint16_t>(~0xddf2 & 0xffff));
  CHECK(internet_checksum(view(d)) == 0x220d);
}

TEST_CASE("checksum: empty data sums to zero, stored as ffff") {
  CHECK(csum_add(0, {}) == 0u);
  CHECK(internet_checksum({}) == 0xffff);
}

TEST_CASE("checksum: odd-length data is padded with a zero byte") {
  auto odd = exact({0x01, 0x02, 0x03});
  auto even = exact({0x01, 0x02, 0x03, 0x00});
  CHECK(internet_checksum(view(odd)) == internet_checksum(view(even)));
  CHECK(internet_checksum(view(odd)) == static_cast<std::uint16_t>(~(0x0102 + 0x0300) & 0xffff));
  auto one = exact({0xab});
  CHECK(internet_checksum(view(one)) == static_cast<std::uint16_t>(~0xab00 & 0xffff));
}

TEST_CASE("checksum: every length and alignment matches the 16-bit big-endian reference") {
  // The sum loads host-order words 32, 8, 4, 2 and 1 bytes at a time: every
  // remainder of each step, from every start offset within a word.
  std::vector<std::uint8_t> v(200 + 8);
  std::uint32_t x = 0x2545f491u;
  for (auto& b : v) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }
  for (std::size_t start = 0; start < 8; ++start) {
    for (std::size_t n = 0; n <= 200; ++n) {
      const bytes d = view(v).subspan(start, n);
      CAPTURE(start);
      CAPTURE(n);
      REQUIRE(internet_checksum(d) == reference_checksum(d));
      REQUIRE(csum_fold(csum_add(0x1234u, d)) == csum_fold(0x1234u + (static_cast<std::uint16_t>(~reference_checksum(d)))));
    }
  }
}

TEST_CASE("checksum: a sum built from even-length pieces equals the sum of the whole") {
  std::vector<std::uint8_t> v(1002);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::uint8_t>(i * 7 + 3);
  const bytes all = view(v);
  for (std::size_t cut : {0u, 2u, 4u, 6u, 10u, 500u, 1000u, 1002u}) {
    CAPTURE(cut);
    CHECK(csum_fold(csum_add(csum_add(0, all.first(cut)), all.subspan(cut))) == internet_checksum(all));
  }
}

TEST_CASE("checksum: storing the checksum makes the whole sum verify to zero") {
  std::vector<std::uint8_t> v = {0x45, 0x00, 0x00, 0x54, 0x86, 0x2e, 0x40, 0x00, 0x40, 0x01,
                                 0x00, 0x00, 0xc6, 0x12, 0x09, 0x01, 0xc6, 0x12, 0x09, 0x02};
  const std::uint16_t c = internet_checksum(view(v));
  CHECK(c == 0x1653);  // the kernel's value for this header (captured_frames.hpp, echo request)
  store_be16(v.data() + 10, c);
  CHECK(internet_checksum(view(v)) == 0);
}

TEST_CASE("checksum: 64 KiB of ff bytes (a TSO super-frame) sums without overflow") {
  std::vector<std::uint8_t> ff(65536, 0xff);
  CHECK(internet_checksum(view(ff)) == reference_checksum(view(ff)));
  CHECK(internet_checksum(view(ff)) == 0);  // a sum of ffff words is ffff (negative zero)
  std::vector<std::uint8_t> mixed(65535);
  for (std::size_t i = 0; i < mixed.size(); ++i) mixed[i] = static_cast<std::uint8_t>(0xff - (i % 5));
  CHECK(internet_checksum(view(mixed)) == reference_checksum(view(mixed)));
  // A running sum that starts near the top of 32 bits still folds correctly.
  std::uint32_t s = csum_add(0xffffffffu, view(ff));
  s = csum_add(s, view(ff));
  CHECK(csum_fold(s) == csum_fold(csum_add(0xffffffffu, {})));
}

TEST_CASE("checksum: pseudo-header sum equals the sum of the 12 bytes RFC 9293 3.1 lays out") {
  const ipv4_addr src = make_ipv4(198, 18, 9, 1), dst = make_ipv4(198, 18, 9, 2);
  auto pseudo = exact({0xc6, 0x12, 0x09, 0x01, 0xc6, 0x12, 0x09, 0x02, 0x00, 0x06, 0x00, 0x28});
  CHECK(csum_fold(pseudo_header_sum(src, dst, 6, 40)) == internet_checksum(view(pseudo)));
  // The worst case keeps the accumulator far from overflow.
  CHECK(pseudo_header_sum(ipv4_addr{0xffffffffu}, ipv4_addr{0xffffffffu}, 0xff, 0xffff) ==
        4u * 0xffff + 0xff + 0xffff);
  // Swapping source and destination does not change the sum (the reply reuses it).
  CHECK(pseudo_header_sum(src, dst, 6, 40) == pseudo_header_sum(dst, src, 6, 40));
}
