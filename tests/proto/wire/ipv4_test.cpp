// tests/proto/wire/ipv4_test.cpp - IPv4 header round trips and every malformed header.
#include "proto/wire/ipv4.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "proto/wire/checksum.hpp"
#include "wire_test_util.hpp"

using namespace coronet;
using namespace coronet::wire;
using coronet::test::exact;
using coronet::test::view;

namespace {
ipv4_header sample(std::uint16_t payload_len = 8) {
  ipv4_header h;
  h.src = make_ipv4(198, 18, 9, 1);
  h.dst = make_ipv4(198, 18, 9, 2);
  h.proto = static_cast<std::uint8_t>(ip_proto::tcp);
  h.ttl = 63;
  h.tos = 0x10;
  h.id = 0xbeef;
  h.dont_fragment = true;
  h.payload_len = payload_len;
  return h;
}

// A packet of header + payload bytes 0, 1, 2, ...
std::vector<std::uint8_t> packet(const ipv4_header& h) {
  std::vector<std::uint8_t> p(ipv4_min_header_len + h.payload_len);
  REQUIRE(emit(h, p) == ipv4_min_header_len);
  for (std::size_t i = ipv4_min_header_len; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(i);
  return p;
}

// Rewrites the header checksum after a test edits a field, so the edit is
// what gets rejected.
void fix_checksum(std::vector<std::uint8_t>& p) {
  const std::size_t ihl = std::size_t{p[0] & 0x0fu} * 4;
  store_be16(&p[10], 0);
  store_be16(&p[10], internet_checksum(bytes(p).first(ihl)));
}

drop error_of(const std::vector<std::uint8_t>& p) {
  auto v = ipv4_view::parse(view(exact(view(p))));
  REQUIRE_FALSE(v);
  return v.error();
}
}  // namespace

TEST_CASE("ipv4: emit then parse returns the same header") {
  for (bool df : {true, false}) {
    auto h = sample();
    h.dont_fragment = df;
    auto p = packet(h);
    auto v = ipv4_view::parse(view(p));
    REQUIRE(v);
    CHECK(v->header() == h);
    CHECK(v->header_len() == 20);
    CHECK_FALSE(v->is_fragment());
    REQUIRE(v->payload().size() == 8);
    CHECK(v->payload().data() == p.data() + 20);
  }
}

TEST_CASE("ipv4: emit writes version 4, IHL 5, offset 0 and a valid checksum") {
  auto p = packet(sample(1000));
  CHECK(p[0] == 0x45);
  CHECK(p[1] == 0x10);
  CHECK(load_be16(&p[2]) == 1020);
  CHECK(load_be16(&p[4]) == 0xbeef);
  CHECK(load_be16(&p[6]) == 0x4000);  // DF only
  CHECK(p[8] == 63);
  CHECK(p[9] == 6);
  CHECK(load_be32(&p[12]) == 0xc6120901u);
  CHECK(load_be32(&p[16]) == 0xc6120902u);
  CHECK(internet_checksum(bytes(p).first(20)) == 0);
  auto h = sample();
  h.dont_fragment = false;
  auto q = packet(h);
  CHECK(load_be16(&q[6]) == 0);
}

TEST_CASE("ipv4: an unknown protocol number survives the round trip") {
  auto h = sample(0);
  h.proto = 132;  // SCTP
  auto p = packet(h);
  auto v = ipv4_view::parse(view(p));
  REQUIRE(v);
  CHECK(v->header().proto == 132);
  CHECK(v->payload().empty());
}

TEST_CASE("ipv4: emit returns 0 for a short buffer or a payload that overflows total length") {
  std::vector<std::uint8_t> small(19);
  CHECK(emit(sample(), small) == 0);
  std::vector<std::uint8_t> out(20);
  CHECK(emit(sample(65535 - 20), out) == 20);
  CHECK(load_be16(&out[2]) == 65535);
  CHECK(emit(sample(65535 - 19), out) == 0);
}

TEST_CASE("ipv4: every packet shorter than 20 bytes -> ipv4_too_short") {
  auto full = packet(sample(0));
  for (std::size_t n = 0; n < ipv4_min_header_len; ++n) {
    CAPTURE(n);
    CHECK(error_of(std::vector<std::uint8_t>(full.begin(), full.begin() + static_cast<long>(n))) ==
          drop::ipv4_too_short);
  }
}

TEST_CASE("ipv4: a version other than 4 -> ipv4_bad_version") {
  for (std::uint8_t version : {0, 5, 6, 15}) {
    auto p = packet(sample());
    p[0] = static_cast<std::uint8_t>((version << 4) | 5);
    fix_checksum(p);
    CAPTURE(int(version));
    CHECK(error_of(p) == drop::ipv4_bad_version);
  }
}

TEST_CASE("ipv4: IHL below 5 is rejected") {
  for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
    auto p = packet(sample());
    p[0] = static_cast<std::uint8_t>(0x40 | ihl);
    CAPTURE(int(ihl));
    CHECK(error_of(p) == drop::ipv4_bad_ihl);
  }
}

TEST_CASE("ipv4: IHL past the end of the buffer -> ipv4_bad_ihl") {
  auto p = packet(sample(20));  // 40 bytes
  p[0] = 0x4f;                  // a 60-byte header
  CHECK(error_of(p) == drop::ipv4_bad_ihl);
  p[0] = 0x4b;  // 44 bytes: one word too many
  CHECK(error_of(p) == drop::ipv4_bad_ihl);
  auto q = packet(sample(0));  // 20 bytes
  q[0] = 0x46;
  CHECK(error_of(q) == drop::ipv4_bad_ihl);
}

TEST_CASE("ipv4: total length beyond the buffer -> ipv4_bad_total_length") {
  auto p = packet(sample(8));
  store_be16(&p[2], 29);  // one byte more than there is
  fix_checksum(p);
  CHECK(error_of(p) == drop::ipv4_bad_total_length);
  store_be16(&p[2], 0xffff);
  fix_checksum(p);
  CHECK(error_of(p) == drop::ipv4_bad_total_length);
}

TEST_CASE("ipv4: total length below the header length -> ipv4_bad_total_length") {
  auto p = packet(sample(8));
  for (std::uint16_t total : {0, 1, 19}) {
    store_be16(&p[2], total);
    fix_checksum(p);
    CAPTURE(total);
    CHECK(error_of(p) == drop::ipv4_bad_total_length);
  }
  // With options (IHL 6) a total of 20 is still shorter than the header.
  p[0] = 0x46;
  store_be16(&p[2], 20);
  fix_checksum(p);
  CHECK(error_of(p) == drop::ipv4_bad_total_length);
}

TEST_CASE("ipv4: a bad header checksum -> ipv4_bad_checksum") {
  auto p = packet(sample());
  p[11] ^= 0x01;
  CHECK(error_of(p) == drop::ipv4_bad_checksum);
}

TEST_CASE("ipv4: any single flipped bit in tos, id, flags, ttl, proto or addresses fails the checksum") {
  const auto good = packet(sample());
  for (std::size_t byte : {1u, 4u, 5u, 6u, 7u, 8u, 9u, 10u, 11u, 12u, 15u, 16u, 19u}) {
    for (int bit = 0; bit < 8; ++bit) {
      auto p = good;
      p[byte] = static_cast<std::uint8_t>(p[byte] ^ (1u << bit));
      CAPTURE(byte);
      CAPTURE(bit);
      CHECK(error_of(p) == drop::ipv4_bad_checksum);
    }
  }
}

TEST_CASE("ipv4: the payload changes nothing in the header checksum") {
  auto p = packet(sample(4));
  p[20] ^= 0xff;
  CHECK(ipv4_view::parse(view(p)).has_value());
}

TEST_CASE("ipv4: options are accepted and skipped") {
  auto p = packet(sample(8));  // 28 bytes
  p.insert(p.begin() + 20, {0x01, 0x01, 0x01, 0x00});  // NOP NOP NOP EOL
  p[0] = 0x46;
  store_be16(&p[2], 32);
  fix_checksum(p);
  const auto p_exact = exact(view(p));
  auto v = ipv4_view::parse(view(p_exact));
  REQUIRE(v);
  CHECK(v->header_len() == 24);
  CHECK(v->header().payload_len == 8);
  REQUIRE(v->payload().size() == 8);
  CHECK(v->payload()[0] == 20);  // the first payload byte written by packet()
}

TEST_CASE("ipv4: Ethernet padding past the total length is cut off") {
  auto p = packet(sample(6));  // 26 bytes: a minimum frame pads to 46
  p.resize(46, 0);
  const auto p_exact = exact(view(p));
  auto v = ipv4_view::parse(view(p_exact));
  REQUIRE(v);
  CHECK(v->header().payload_len == 6);
  CHECK(v->payload().size() == 6);
}

TEST_CASE("ipv4: a header-only packet (total length == IHL * 4) parses with no payload") {
  auto p = packet(sample(0));
  const auto p_exact = exact(view(p));
  auto v = ipv4_view::parse(view(p_exact));
  REQUIRE(v);
  CHECK(v->payload().empty());
}

TEST_CASE("ipv4: MF or a non-zero fragment offset marks a fragment, DF does not") {
  auto p = packet(sample());
  store_be16(&p[6], 0x2000);  // MF
  fix_checksum(p);
  CHECK(ipv4_view::parse(view(p))->is_fragment());
  store_be16(&p[6], 0x0001);  // offset 8 bytes
  fix_checksum(p);
  CHECK(ipv4_view::parse(view(p))->is_fragment());
  store_be16(&p[6], 0x1fff);
  fix_checksum(p);
  CHECK(ipv4_view::parse(view(p))->is_fragment());
  store_be16(&p[6], 0x4000);  // DF
  fix_checksum(p);
  auto v = ipv4_view::parse(view(p));
  REQUIRE(v);
  CHECK_FALSE(v->is_fragment());
  CHECK(v->header().dont_fragment);
}
