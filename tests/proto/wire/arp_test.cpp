// tests/proto/wire/arp_test.cpp - ARP (RFC 826) round trips and the packets we refuse.
#include "proto/wire/arp.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "wire_test_util.hpp"

using namespace coronet;
using namespace coronet::wire;
using coronet::test::exact;
using coronet::test::view;

namespace {
arp_packet request() {
  arp_packet a;
  a.op = arp_op::request;
  a.sha = mac_addr{{0x1a, 0x3f, 0x1f, 0x5f, 0x8c, 0x49}};
  a.spa = make_ipv4(198, 18, 9, 1);
  a.tha = mac_addr{};
  a.tpa = make_ipv4(198, 18, 9, 2);
  return a;
}

std::vector<std::uint8_t> emitted(const arp_packet& a) {
  std::vector<std::uint8_t> out(arp_packet_len);
  REQUIRE(emit(a, out) == arp_packet_len);
  return out;
}
}  // namespace

TEST_CASE("arp: a request round-trips through emit and parse") {
  auto buf = emitted(request());
  CHECK(load_be16(&buf[0]) == 1);       // htype Ethernet
  CHECK(load_be16(&buf[2]) == 0x0800);  // ptype IPv4
  CHECK(buf[4] == 6);
  CHECK(buf[5] == 4);
  CHECK(load_be16(&buf[6]) == 1);
  auto p = parse_arp(view(buf));
  REQUIRE(p);
  CHECK(*p == request());
}

TEST_CASE("arp: a reply round-trips with the addresses in their places") {
  arp_packet r;
  r.op = arp_op::reply;
  r.sha = mac_addr{{0x2e, 0x59, 0xa7, 0x55, 0x0b, 0xf4}};
  r.spa = make_ipv4(198, 18, 9, 2);
  r.tha = mac_addr{{0x1a, 0x3f, 0x1f, 0x5f, 0x8c, 0x49}};
  r.tpa = make_ipv4(198, 18, 9, 1);
  auto buf = emitted(r);
  CHECK(buf[8] == 0x2e);   // sha
  CHECK(buf[14] == 198);   // spa
  CHECK(buf[18] == 0x1a);  // tha
  CHECK(buf[27] == 1);     // last byte of tpa
  auto p = parse_arp(view(buf));
  REQUIRE(p);
  CHECK(*p == r);
}

TEST_CASE("arp: Ethernet padding after the 28 bytes is ignored") {
  auto buf = emitted(request());
  buf.resize(46, 0);  // a minimum-size frame's payload
  auto p = parse_arp(view(exact(view(buf))));
  REQUIRE(p);
  CHECK(*p == request());
}

TEST_CASE("arp: every payload shorter than 28 bytes -> arp_too_short") {
  auto full = emitted(request());
  for (std::size_t n = 0; n < arp_packet_len; ++n) {
    CAPTURE(n);
    auto buf = exact(bytes(full).first(n));
    auto p = parse_arp(view(buf));
    REQUIRE_FALSE(p);
    CHECK(p.error() == drop::arp_too_short);
  }
}

TEST_CASE("arp: a hardware type other than Ethernet -> arp_unsupported") {
  auto buf = emitted(request());
  store_be16(&buf[0], 6);  // IEEE 802
  CHECK(parse_arp(view(buf)).error() == drop::arp_unsupported);
  store_be16(&buf[0], 0);
  CHECK(parse_arp(view(buf)).error() == drop::arp_unsupported);
}

TEST_CASE("arp: a protocol type other than IPv4 -> arp_unsupported") {
  auto buf = emitted(request());
  store_be16(&buf[2], 0x86dd);
  CHECK(parse_arp(view(buf)).error() == drop::arp_unsupported);
}

TEST_CASE("arp: hardware length other than 6 -> arp_unsupported") {
  for (std::uint8_t hlen : {0, 4, 8, 255}) {
    auto buf = emitted(request());
    buf[4] = hlen;
    CAPTURE(int(hlen));
    CHECK(parse_arp(view(buf)).error() == drop::arp_unsupported);
  }
}

TEST_CASE("arp: protocol length other than 4 -> arp_unsupported") {
  for (std::uint8_t plen : {0, 6, 16}) {
    auto buf = emitted(request());
    buf[5] = plen;
    CAPTURE(int(plen));
    CHECK(parse_arp(view(buf)).error() == drop::arp_unsupported);
  }
}

TEST_CASE("arp: opcodes other than request and reply -> arp_unsupported") {
  for (std::uint16_t op : {0, 3, 4, 8, 9, 0x0100, 0xffff}) {  // 3/4 RARP, 8/9 InARP
    auto buf = emitted(request());
    store_be16(&buf[6], op);
    CAPTURE(op);
    CHECK(parse_arp(view(buf)).error() == drop::arp_unsupported);
  }
}

TEST_CASE("arp: emit into fewer than 28 bytes returns 0") {
  std::vector<std::uint8_t> small(27);
  CHECK(emit(request(), small) == 0);
  CHECK(small == std::vector<std::uint8_t>(27));
}
