// tests/proto/wire/ethernet_test.cpp - Ethernet II header round trip and short frames.
#include "proto/wire/ethernet.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "wire_test_util.hpp"

using namespace coronet;
using namespace coronet::wire;
using coronet::test::exact;
using coronet::test::view;

namespace {
const mac_addr kernel_mac{{0x1a, 0x3f, 0x1f, 0x5f, 0x8c, 0x49}};
const mac_addr our_mac{{0x2e, 0x59, 0xa7, 0x55, 0x0b, 0xf4}};
}  // namespace

TEST_CASE("ethernet: emit then parse returns the same header and the bytes after it") {
  std::vector<std::uint8_t> frame(20, 0xee);
  const ethernet_header h{kernel_mac, our_mac, static_cast<std::uint16_t>(ethertype::ipv4)};
  REQUIRE(emit(h, frame) == ethernet_header_len);
  CHECK(frame[0] == 0x1a);   // destination first
  CHECK(frame[6] == 0x2e);   // then source
  CHECK(frame[12] == 0x08);  // type, big-endian
  CHECK(frame[13] == 0x00);
  CHECK(frame[14] == 0xee);  // nothing written past the header
  auto v = ethernet_view::parse(view(frame));
  REQUIRE(v);
  CHECK(v->header() == h);
  CHECK(v->payload().size() == 6);
  CHECK(v->payload().data() == frame.data() + 14);
}

TEST_CASE("ethernet: an unknown ethertype is kept as a number") {
  std::vector<std::uint8_t> frame(14);
  REQUIRE(emit(ethernet_header{mac_addr::broadcast(), our_mac, 0x88cc}, frame) == 14);  // LLDP
  auto v = ethernet_view::parse(view(frame));
  REQUIRE(v);
  CHECK(v->header().type == 0x88cc);
  CHECK(v->header().dst.is_broadcast());
  CHECK(v->payload().empty());
}

TEST_CASE("ethernet: every frame shorter than 14 bytes -> eth_too_short") {
  std::vector<std::uint8_t> full(14, 0x11);
  for (std::size_t n = 0; n < ethernet_header_len; ++n) {
    CAPTURE(n);
    auto buf = exact(bytes(full).first(n));
    auto v = ethernet_view::parse(view(buf));
    REQUIRE_FALSE(v);
    CHECK(v.error() == drop::eth_too_short);
  }
}

TEST_CASE("ethernet: emit into a buffer shorter than 14 bytes writes nothing and returns 0") {
  std::vector<std::uint8_t> small(13, 0x5a);
  CHECK(emit(ethernet_header{kernel_mac, our_mac, 0x0806}, small) == 0);
  CHECK(small == std::vector<std::uint8_t>(13, 0x5a));
}
