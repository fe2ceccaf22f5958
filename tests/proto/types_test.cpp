// tests/proto/types_test.cpp - addresses and endpoints: parse, print, reject.
#include "proto/types.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace coronet;

TEST_CASE("ipv4_addr: dotted quad parses to host order and prints back") {
  auto a = ipv4_addr::parse("198.18.9.1");
  REQUIRE(a);
  CHECK(a->value == 0xc6120901u);
  CHECK(*a == make_ipv4(198, 18, 9, 1));
  CHECK(a->to_string() == "198.18.9.1");
  CHECK(ipv4_addr::parse("0.0.0.0")->value == 0u);
  CHECK(ipv4_addr::parse("255.255.255.255")->value == 0xffffffffu);
  CHECK(ipv4_addr{0xffffffffu}.to_string() == "255.255.255.255");
  CHECK(ipv4_addr{}.to_string() == "0.0.0.0");
  CHECK(ipv4_addr::parse("198.18.0.0")->to_string() == "198.18.0.0");  // a lone 0 is not octal
}

TEST_CASE("ipv4_addr: malformed text is rejected") {
  for (const char* bad : {"1.2.3", "256.0.0.1", "1.2.3.256", "01.2.3.4", "1.2.3.04", "1.2.3.4.5", "", ".", "...",
                          "1..2.3", "1.2.3.", ".1.2.3", "a.b.c.d", "1.2.3.x", " 1.2.3.4", "1.2.3.4 ", "-1.2.3.4",
                          "+1.2.3.4", "1.2.3.4:80", "4294967296", "1.2.3.99999999999", "0x1.2.3.4"}) {
    CAPTURE(std::string(bad));
    CHECK_FALSE(ipv4_addr::parse(bad).has_value());
  }
}

TEST_CASE("ipv4_addr: ordering follows the numeric value") {
  CHECK(make_ipv4(198, 18, 0, 1) < make_ipv4(198, 18, 0, 2));
  CHECK(make_ipv4(9, 255, 255, 255) < make_ipv4(10, 0, 0, 0));
}

TEST_CASE("prefix_mask: prefix lengths map to netmasks, clamped at 0 and 32") {
  CHECK(prefix_mask(24) == 0xffffff00u);
  CHECK(prefix_mask(15) == 0xfffe0000u);  // 198.18.0.0/15
  CHECK(prefix_mask(1) == 0x80000000u);
  CHECK(prefix_mask(31) == 0xfffffffeu);
  CHECK(prefix_mask(32) == 0xffffffffu);
  CHECK(prefix_mask(0) == 0u);
  CHECK(prefix_mask(-1) == 0u);
  CHECK(prefix_mask(33) == 0xffffffffu);
}

TEST_CASE("mac_addr: colon hex parses (either case) and prints lower case") {
  auto m = mac_addr::parse("2e:59:a7:55:0b:f4");
  REQUIRE(m);
  CHECK(m->b == std::array<std::uint8_t, 6>{0x2e, 0x59, 0xa7, 0x55, 0x0b, 0xf4});
  CHECK(m->to_string() == "2e:59:a7:55:0b:f4");
  auto upper = mac_addr::parse("2E:59:A7:55:0B:F4");
  REQUIRE(upper);
  CHECK(*upper == *m);
  CHECK(mac_addr{}.to_string() == "00:00:00:00:00:00");
}

TEST_CASE("mac_addr: malformed text is rejected") {
  for (const char* bad : {"", "2e:59:a7:55:0b", "2e:59:a7:55:0b:f4:00", "2e-59-a7-55-0b-f4", "2e:59:a7:55:0b:g4",
                          "2e:59:a7:55:0b:f", "2e:59:a7:55:0b:f44", "2e:59:a7:55:0b:f4 ", " 2e:59:a7:55:0b:f4",
                          "2e:59:a7:55:0bf4:", "+e:59:a7:55:0b:f4", "-1:59:a7:55:0b:f4", "2e::59:a7:55:0b:f"}) {
    CAPTURE(std::string(bad));
    CHECK_FALSE(mac_addr::parse(bad).has_value());
  }
}

TEST_CASE("mac_addr: broadcast and multicast bits") {
  CHECK(mac_addr::broadcast().is_broadcast());
  CHECK(mac_addr::broadcast().is_multicast());
  CHECK(mac_addr::broadcast().to_string() == "ff:ff:ff:ff:ff:ff");
  CHECK(mac_addr::parse("01:00:5e:00:00:01")->is_multicast());
  CHECK_FALSE(mac_addr::parse("01:00:5e:00:00:01")->is_broadcast());
  CHECK_FALSE(mac_addr::parse("2e:59:a7:55:0b:f4")->is_multicast());
}

TEST_CASE("endpoint: address:port parses and prints back") {
  auto e = endpoint::parse("198.18.0.1:8080");
  REQUIRE(e);
  CHECK(e->addr == make_ipv4(198, 18, 0, 1));
  CHECK(e->port == 8080);
  CHECK(e->to_string() == "198.18.0.1:8080");
  CHECK(endpoint::parse("198.18.0.1:1")->port == 1);
  CHECK(endpoint::parse("198.18.0.1:65535")->port == 65535);
  CHECK((endpoint{make_ipv4(198, 18, 9, 2), 5001}.to_string() == "198.18.9.2:5001"));
}

TEST_CASE("endpoint: a missing part, port 0 or a port past 65535 is rejected") {
  for (const char* bad : {":80", "198.18.0.1", "198.18.0.1:", "198.18.0.1:0", "198.18.0.1:65536",
                          "198.18.0.1:99999999999", "198.18.0.1:-1", "198.18.0.1:80x", "198.18.0.1: 80",
                          "198.18.0.1::80", "1.2.3:80", "256.0.0.1:80", "01.2.3.4:80", "", ":"}) {
    CAPTURE(std::string(bad));
    CHECK_FALSE(endpoint::parse(bad).has_value());
  }
}

TEST_CASE("load/store: big-endian 16 and 32 bit fields") {
  std::uint8_t b[4] = {};
  store_be16(b, 0x1389);
  CHECK(b[0] == 0x13);
  CHECK(b[1] == 0x89);
  CHECK(load_be16(b) == 0x1389);
  store_be32(b, 0xee4b2226u);
  CHECK(b[0] == 0xee);
  CHECK(b[3] == 0x26);
  CHECK(load_be32(b) == 0xee4b2226u);
  static_assert(load_be16(std::array<std::uint8_t, 2>{0xff, 0xfe}.data()) == 0xfffe);
}
