// tests/proto/wire/tcp_options_test.cpp - TCP options: layout, round trips, malformed areas.
#include "proto/wire/tcp_options.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "wire_test_util.hpp"

using namespace coronet;
using namespace coronet::wire;
using coronet::test::exact;
using coronet::test::view;

namespace {
std::vector<std::uint8_t> emitted(const tcp_options& o) {
  std::vector<std::uint8_t> out(tcp_options_len(o), 0xee);
  REQUIRE(emit_tcp_options(o, out) == out.size());
  return out;
}

tcp_options parsed(std::initializer_list<std::uint8_t> area) {
  auto buf = exact(area);
  auto o = parse_tcp_options(view(buf));
  REQUIRE(o);
  return *o;
}

drop rejected(std::initializer_list<std::uint8_t> area) {
  auto buf = exact(area);
  auto o = parse_tcp_options(view(buf));
  REQUIRE_FALSE(o);
  return o.error();
}

tcp_options syn_options() {
  tcp_options o;
  o.mss = 1460;
  o.sack_permitted = true;
  o.timestamps = tcp_timestamps{2045706923u, 0};
  o.window_scale = 10;
  return o;
}

tcp_options with_sack(std::uint8_t n) {
  tcp_options o;
  o.sack_count = n;
  for (std::uint8_t i = 0; i < n; ++i) o.sack[i] = {1000u * (i + 1), 1000u * (i + 1) + 500};
  return o;
}
}  // namespace

TEST_CASE("tcp options: an empty area parses to no options") {
  auto o = parse_tcp_options({});
  REQUIRE(o);
  CHECK(*o == tcp_options{});
  CHECK(tcp_options_len(tcp_options{}) == 0);
}

TEST_CASE("tcp options: SYN options are laid out as Linux sends them") {
  // Bytes of the kernel's SYN in captured_frames.hpp (tcp_syn), options area.
  const std::vector<std::uint8_t> linux_syn = {0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x79, 0xef,
                                               0x02, 0xab, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a};
  CHECK(emitted(syn_options()) == linux_syn);
  auto o = parse_tcp_options(view(linux_syn));
  REQUIRE(o);
  CHECK(*o == syn_options());
}

TEST_CASE("tcp options: each option alone round-trips") {
  tcp_options mss;
  mss.mss = 536;
  tcp_options ws;
  ws.window_scale = 7;
  tcp_options sp;
  sp.sack_permitted = true;
  tcp_options ts;
  ts.timestamps = tcp_timestamps{0xffffffffu, 0x01020304u};
  for (const tcp_options& o : {mss, ws, sp, ts, syn_options()}) {
    auto buf = emitted(o);
    auto back = parse_tcp_options(view(buf));
    REQUIRE(back);
    CHECK(*back == o);
  }
}

TEST_CASE("tcp options: lengths are padded to whole words") {
  tcp_options o;
  o.mss = 1460;
  CHECK(tcp_options_len(o) == 4);
  o = {};
  o.window_scale = 0;  // present even when the shift is 0: NOP WS
  CHECK(tcp_options_len(o) == 4);
  CHECK(emitted(o) == std::vector<std::uint8_t>{0x01, 0x03, 0x03, 0x00});
  o = {};
  o.sack_permitted = true;  // NOP NOP SACKOK
  CHECK(tcp_options_len(o) == 4);
  CHECK(emitted(o) == std::vector<std::uint8_t>{0x01, 0x01, 0x04, 0x02});
  o = {};
  o.timestamps = tcp_timestamps{1, 2};  // NOP NOP TS
  CHECK(tcp_options_len(o) == 12);
  CHECK(emitted(o)[0] == 0x01);
  CHECK(emitted(o)[2] == 0x08);
  o.sack_permitted = true;  // SACKOK takes the NOPs' place
  CHECK(tcp_options_len(o) == 12);
  CHECK(emitted(o)[0] == 0x04);
  CHECK(tcp_options_len(syn_options()) == 20);
  for (std::uint8_t n = 1; n <= 4; ++n) CHECK(tcp_options_len(with_sack(n)) == 4 + 8u * n);
}

TEST_CASE("tcp options: 1 to 4 SACK blocks round-trip") {
  for (std::uint8_t n = 1; n <= 4; ++n) {
    CAPTURE(int(n));
    auto o = with_sack(n);
    auto buf = emitted(o);
    CHECK(buf[0] == 0x01);
    CHECK(buf[1] == 0x01);
    CHECK(buf[2] == 5);
    CHECK(buf[3] == 2 + 8 * n);
    auto back = parse_tcp_options(view(buf));
    REQUIRE(back);
    CHECK(back->sack_count == n);
    CHECK(*back == o);
  }
}

TEST_CASE("tcp options: timestamps plus SACK fill exactly 40 bytes (3 blocks fit, a 4th is left out)") {
  auto o = with_sack(4);
  o.timestamps = tcp_timestamps{5, 6};
  CHECK(tcp_options_len(o) == tcp_max_options_len);
  auto buf = emitted(o);
  REQUIRE(buf.size() == 40);
  auto back = parse_tcp_options(view(buf));
  REQUIRE(back);
  CHECK(back->timestamps == o.timestamps);
  CHECK(back->sack_count == 3);
  for (int i = 0; i < 3; ++i) CHECK(back->sack[i] == o.sack[i]);
}

TEST_CASE("tcp options: MSS plus 4 SACK blocks fill exactly 40 bytes") {
  auto o = with_sack(4);
  o.mss = 1400;
  auto buf = emitted(o);
  CHECK(buf.size() == 40);
  auto back = parse_tcp_options(view(buf));
  REQUIRE(back);
  CHECK(*back == o);
}

TEST_CASE("tcp options: SACK blocks that cannot fit at all are not sent") {
  auto o = with_sack(2);
  o.mss = 1460;
  o.timestamps = tcp_timestamps{1, 2};
  o.window_scale = 2;  // 20 bytes fixed, room for 2 blocks
  CHECK(tcp_options_len(o) == 40);
  o.sack_count = 200;  // more than the array holds: clamped, never read past sack[3]
  CHECK(tcp_options_len(o) <= 40);
  CHECK(tcp_options_len(o) % 4 == 0);
}

TEST_CASE("tcp options: every combination fits 40 bytes and sends as many SACK blocks as fit") {
  for (unsigned mask = 0; mask < 16; ++mask) {
    for (std::uint8_t n = 0; n <= 4; ++n) {
      auto o = with_sack(n);
      if (mask & 1) o.mss = 1460;
      if (mask & 2) o.window_scale = 9;
      if (mask & 4) o.sack_permitted = true;
      if (mask & 8) o.timestamps = tcp_timestamps{7, 8};
      CAPTURE(mask);
      CAPTURE(int(n));
      const std::size_t len = tcp_options_len(o);
      CHECK(len <= tcp_max_options_len);
      CHECK(len % 4 == 0);
      auto buf = emitted(o);
      auto back = parse_tcp_options(view(buf));
      REQUIRE(back);
      CHECK(back->mss == o.mss);
      CHECK(back->window_scale == o.window_scale);
      CHECK(back->sack_permitted == o.sack_permitted);
      CHECK(back->timestamps == o.timestamps);
      CHECK(back->sack_count <= n);
      for (std::size_t i = 0; i < back->sack_count; ++i) CHECK(back->sack[i] == o.sack[i]);
      // A block left out is one that would not have fitted.
      const std::size_t one_more = back->sack_count == 0 ? 12 : 8;
      if (back->sack_count < n) CHECK(len + one_more > tcp_max_options_len);
    }
  }
}

TEST_CASE("tcp options: a 40-byte area of other options parses to the end") {
  // MSS, then 36 NOPs: the walk stops exactly at the end of the area.
  std::vector<std::uint8_t> area(40, 0x01);
  area[0] = 2;
  area[1] = 4;
  area[2] = 0x05;
  area[3] = 0xb4;
  auto o = parse_tcp_options(view(exact(view(area))));
  REQUIRE(o);
  CHECK(o->mss == 1460);
}

TEST_CASE("tcp options: unknown kinds are skipped by their length") {
  auto o = parsed({30, 4, 0xaa, 0xbb,  // MPTCP-like, 4 bytes
                   253, 2,             // experimental, no value
                   2, 4, 0x02, 0x18,   // MSS 536
                   34, 3, 0x00,        // TFO-like, odd length
                   1});
  CHECK(o.mss == 536);
  CHECK_FALSE(o.window_scale);
}

TEST_CASE("tcp options: EOL stops parsing, whatever follows") {
  auto o = parsed({2, 4, 0x05, 0xb4, 0, 3, 3, 7});
  CHECK(o.mss == 1460);
  CHECK_FALSE(o.window_scale);  // after EOL: not read
  auto junk = parsed({0, 2, 0, 0xff, 0xff});  // a malformed tail behind EOL is never looked at
  CHECK(junk == tcp_options{});
}

TEST_CASE("tcp options: a window scale above 14 parses as sent") {
  CHECK(parsed({1, 3, 3, 15}).window_scale == 15);
  CHECK(parsed({1, 3, 3, 255}).window_scale == 255);
  tcp_options o;
  o.window_scale = 200;
  auto back = parse_tcp_options(view(emitted(o)));
  REQUIRE(back);
  CHECK(back->window_scale == 200);
}

TEST_CASE("tcp options: a length byte of 0 or 1 -> tcp_bad_option") {
  CHECK(rejected({2, 0, 0, 0}) == drop::tcp_bad_option);
  CHECK(rejected({2, 1, 0, 0}) == drop::tcp_bad_option);
  CHECK(rejected({99, 0}) == drop::tcp_bad_option);
  CHECK(rejected({99, 1, 1, 1}) == drop::tcp_bad_option);
}

TEST_CASE("tcp options: a length running past the area -> tcp_bad_option") {
  CHECK(rejected({2, 4, 0x05}) == drop::tcp_bad_option);
  CHECK(rejected({1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0}) == drop::tcp_bad_option);
  CHECK(rejected({99, 255}) == drop::tcp_bad_option);
  CHECK(rejected({1, 99, 6, 0, 0, 0}) == drop::tcp_bad_option);
}

TEST_CASE("tcp options: a kind in the last byte with no length byte -> tcp_bad_option") {
  CHECK(rejected({2}) == drop::tcp_bad_option);
  CHECK(rejected({1, 1, 1, 8}) == drop::tcp_bad_option);
  CHECK(rejected({1, 1, 1, 99}) == drop::tcp_bad_option);
}

TEST_CASE("tcp options: known kinds with the wrong length -> tcp_bad_option") {
  CHECK(rejected({2, 3, 0x05, 1}) == drop::tcp_bad_option);           // MSS 3
  CHECK(rejected({2, 5, 0x05, 0xb4, 0, 1, 1, 1}) == drop::tcp_bad_option);  // MSS 5
  CHECK(rejected({3, 2, 1, 1}) == drop::tcp_bad_option);              // WS 2
  CHECK(rejected({3, 4, 7, 0}) == drop::tcp_bad_option);              // WS 4
  CHECK(rejected({4, 3, 0, 1}) == drop::tcp_bad_option);              // SACK-permitted 3
  CHECK(rejected({4, 4, 0, 0}) == drop::tcp_bad_option);              // SACK-permitted 4
  CHECK(rejected({5, 2, 1, 1}) == drop::tcp_bad_option);              // SACK with no block
  CHECK(rejected({5, 9, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1}) == drop::tcp_bad_option);  // SACK, not 2+8n
  CHECK(rejected({5, 3, 0, 1}) == drop::tcp_bad_option);
  CHECK(rejected({8, 8, 0, 0, 0, 0, 0, 0}) == drop::tcp_bad_option);  // timestamps 8
  CHECK(rejected({8, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}) == drop::tcp_bad_option);
}

TEST_CASE("tcp options: every truncation of a full SYN area is rejected or parses a prefix, never over-reads") {
  const auto full = emitted(syn_options());
  for (std::size_t n = 0; n <= full.size(); ++n) {
    auto buf = exact(bytes(full).first(n));
    auto o = parse_tcp_options(view(buf));
    CAPTURE(n);
    // Option boundaries in the Linux layout: 4 (MSS), 6 (SACKOK), 16 (TS), 17 (NOP), 20 (WS).
    const bool boundary = n == 0 || n == 4 || n == 6 || n == 16 || n == 17 || n == 20;
    CHECK(o.has_value() == boundary);
  }
}

TEST_CASE("tcp options: emit returns 0 when the buffer is too small") {
  std::vector<std::uint8_t> out(19);
  CHECK(emit_tcp_options(syn_options(), out) == 0);
}

TEST_CASE("tcp options: timestamps alone are written and read in the aligned NOP NOP TS layout") {
  tcp_options o;
  o.timestamps = tcp_timestamps{0x01020304u, 0xa0b0c0d0u};
  CHECK(emitted(o) == std::vector<std::uint8_t>{0x01, 0x01, 0x08, 0x0a, 0x01, 0x02, 0x03, 0x04, 0xa0, 0xb0, 0xc0, 0xd0});
  auto aligned = parse_tcp_options(view(emitted(o)));
  REQUIRE(aligned);
  CHECK(*aligned == o);
  // The same option in another legal layout (TS first, then padding) reads the same.
  std::vector<std::uint8_t> other = {0x08, 0x0a, 0x01, 0x02, 0x03, 0x04, 0xa0, 0xb0, 0xc0, 0xd0, 0x01, 0x00};
  auto walked = parse_tcp_options(view(other));
  REQUIRE(walked);
  CHECK(*walked == o);
  // NOP NOP with a wrong timestamps length is still malformed.
  std::vector<std::uint8_t> bad = {0x01, 0x01, 0x08, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK(parse_tcp_options(view(bad)).error() == drop::tcp_bad_option);
}
