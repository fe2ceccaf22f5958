// tests/proto/wire/icmp_test.cpp - ICMP echo (RFC 792) round trips and rejects.
#include "proto/wire/icmp.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "proto/wire/checksum.hpp"
#include "wire_test_util.hpp"

using namespace coronet;
using namespace coronet::wire;
using coronet::test::exact;
using coronet::test::view;

namespace {
std::vector<std::uint8_t> echo(icmp_type type, std::size_t data_len) {
  std::vector<std::uint8_t> data(data_len);
  for (std::size_t i = 0; i < data_len; ++i) data[i] = static_cast<std::uint8_t>(0x10 + i);
  std::vector<std::uint8_t> out(icmp_echo_header_len + data_len);
  REQUIRE(emit(icmp_echo{type, 0x0d10, 7, data}, out) == out.size());
  return out;
}

void fix_checksum(std::vector<std::uint8_t>& m) {
  store_be16(&m[2], 0);
  store_be16(&m[2], internet_checksum(view(m)));
}
}  // namespace

TEST_CASE("icmp: an echo request round-trips with its data") {
  auto m = echo(icmp_type::echo_request, 56);
  CHECK(m[0] == 8);
  CHECK(m[1] == 0);
  CHECK(internet_checksum(view(m)) == 0);
  auto e = parse_icmp_echo(view(m));
  REQUIRE(e);
  CHECK(e->type == icmp_type::echo_request);
  CHECK(e->id == 0x0d10);
  CHECK(e->seq == 7);
  REQUIRE(e->data.size() == 56);
  CHECK(e->data.data() == m.data() + 8);
  CHECK(e->data[55] == 0x10 + 55);
}

TEST_CASE("icmp: an echo reply with no data round-trips") {
  auto m = echo(icmp_type::echo_reply, 0);
  REQUIRE(m.size() == 8);
  const auto m_exact = exact(view(m));
  auto e = parse_icmp_echo(view(m_exact));
  REQUIRE(e);
  CHECK(e->type == icmp_type::echo_reply);
  CHECK(e->data.empty());
}

TEST_CASE("icmp: odd-length data gets a checksum that verifies") {
  for (std::size_t n : {1u, 3u, 57u, 1473u}) {
    auto m = echo(icmp_type::echo_request, n);
    CAPTURE(n);
    CHECK(internet_checksum(view(m)) == 0);
    CHECK(parse_icmp_echo(view(exact(view(m)))).has_value());
  }
}

TEST_CASE("icmp: every message shorter than 8 bytes -> icmp_too_short") {
  auto full = echo(icmp_type::echo_request, 0);
  for (std::size_t n = 0; n < icmp_echo_header_len; ++n) {
    CAPTURE(n);
    auto buf = exact(bytes(full).first(n));
    auto e = parse_icmp_echo(view(buf));
    REQUIRE_FALSE(e);
    CHECK(e.error() == drop::icmp_too_short);
  }
}

TEST_CASE("icmp: a bad checksum -> icmp_bad_checksum, in the header or the data") {
  auto m = echo(icmp_type::echo_request, 16);
  m[2] ^= 0x80;
  CHECK(parse_icmp_echo(view(m)).error() == drop::icmp_bad_checksum);
  auto d = echo(icmp_type::echo_request, 16);
  d[20] ^= 0x01;
  CHECK(parse_icmp_echo(view(d)).error() == drop::icmp_bad_checksum);
}

TEST_CASE("icmp: types other than echo, or a non-zero code -> icmp_unsupported") {
  for (std::uint8_t type : {3, 5, 11, 13, 255}) {  // unreachable, redirect, time exceeded, timestamp
    auto m = echo(icmp_type::echo_request, 8);
    m[0] = type;
    fix_checksum(m);
    CAPTURE(int(type));
    CHECK(parse_icmp_echo(view(m)).error() == drop::icmp_unsupported);
  }
  auto m = echo(icmp_type::echo_request, 8);
  m[1] = 1;
  fix_checksum(m);
  CHECK(parse_icmp_echo(view(m)).error() == drop::icmp_unsupported);
}

TEST_CASE("icmp: a reply built in place over the request keeps the data") {
  auto m = echo(icmp_type::echo_request, 40);
  const auto original = m;
  auto req = parse_icmp_echo(view(m));
  REQUIRE(req);
  icmp_echo reply{icmp_type::echo_reply, req->id, req->seq, req->data};  // data aliases m
  REQUIRE(emit(reply, m) == m.size());
  CHECK(m[0] == 0);
  CHECK(std::equal(m.begin() + 8, m.end(), original.begin() + 8));
  auto back = parse_icmp_echo(view(m));
  REQUIRE(back);
  CHECK(back->type == icmp_type::echo_reply);
  CHECK(back->id == 0x0d10);
  CHECK(back->seq == 7);
}

TEST_CASE("icmp: data overlapping the header area is moved before the header is written") {
  std::vector<std::uint8_t> buf(20);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<std::uint8_t>(i);
  const icmp_echo e{icmp_type::echo_request, 1, 2, bytes(buf).subspan(4, 12)};  // bytes 4..15
  REQUIRE(emit(e, buf) == 20);
  for (std::size_t i = 0; i < 12; ++i) CHECK(buf[8 + i] == 4 + i);
  CHECK(internet_checksum(view(buf)) == 0);
}

TEST_CASE("icmp: emit returns 0 when header and data do not fit") {
  std::vector<std::uint8_t> data(10), out(17);
  CHECK(emit(icmp_echo{icmp_type::echo_reply, 1, 1, data}, out) == 0);
  std::vector<std::uint8_t> tiny(7);
  CHECK(emit(icmp_echo{icmp_type::echo_reply, 1, 1, {}}, tiny) == 0);
}
