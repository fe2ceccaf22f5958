// tests/proto/wire/tcp_test.cpp - TCP header round trips, checksum, malformed segments.
#include "proto/wire/tcp.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "proto/wire/checksum.hpp"
#include "wire_test_util.hpp"

using namespace coronet;
using namespace coronet::wire;
using coronet::test::exact;
using coronet::test::view;

namespace {
const ipv4_addr src = make_ipv4(198, 18, 9, 1);
const ipv4_addr dst = make_ipv4(198, 18, 9, 2);

tcp_header sample() {
  tcp_header h;
  h.src_port = 48022;
  h.dst_port = 5001;
  h.seq = 0xee4b2226u;
  h.ack = 0x2de0b8eau;
  h.flags = tcp_flag::ack | tcp_flag::psh;
  h.window = 63;
  h.urgent = 0;
  h.options.timestamps = tcp_timestamps{2045706923u, 2568910556u};
  return h;
}

std::vector<std::uint8_t> payload_of(std::size_t n) {
  std::vector<std::uint8_t> p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(i * 13 + 1);
  return p;
}

std::vector<std::uint8_t> segment(const tcp_header& h, bytes payload = {}) {
  std::vector<std::uint8_t> out(tcp_header_len(h) + payload.size());
  REQUIRE(emit(h, payload, src, dst, out) == out.size());
  return out;
}

// Recomputes the checksum after a test edits the segment.
void fix_checksum(std::vector<std::uint8_t>& s) {
  store_be16(&s[16], 0);
  store_be16(&s[16], csum_fold(csum_add(pseudo_header_sum(src, dst, 6, static_cast<std::uint16_t>(s.size())),
                                        view(s))));
}

drop error_of(const std::vector<std::uint8_t>& s, bool verify = true) {
  auto v = tcp_view::parse(view(exact(view(s))), src, dst, verify);
  REQUIRE_FALSE(v);
  return v.error();
}
}  // namespace

TEST_CASE("tcp: emit then parse returns the same header and payload") {
  const auto data = payload_of(100);
  auto s = segment(sample(), data);
  auto v = tcp_view::parse(view(s), src, dst);
  REQUIRE(v);
  CHECK(v->header() == sample());
  REQUIRE(v->payload().size() == 100);
  CHECK(v->payload().data() == s.data() + 32);
  CHECK(std::vector<std::uint8_t>(v->payload().begin(), v->payload().end()) == data);
}

TEST_CASE("tcp: every flag bit and the urgent pointer round-trip") {
  for (std::uint8_t f : {tcp_flag::fin, tcp_flag::syn, tcp_flag::rst, tcp_flag::psh, tcp_flag::ack, tcp_flag::urg,
                         tcp_flag::ece, tcp_flag::cwr, std::uint8_t{0xff}, std::uint8_t{0}}) {
    auto h = sample();
    h.flags = f;
    h.urgent = 0x1234;
    h.options = {};
    auto v = tcp_view::parse(view(segment(h)), src, dst);
    REQUIRE(v);
    CAPTURE(int(f));
    CHECK(v->header() == h);
  }
}

TEST_CASE("tcp: emit derives the data offset from the options length") {
  auto h = sample();
  h.options = {};
  CHECK(tcp_header_len(h) == 20);
  CHECK(segment(h)[12] == 0x50);
  h.options.mss = 1460;
  CHECK(tcp_header_len(h) == 24);
  CHECK(segment(h)[12] == 0x60);
  h.options.sack_permitted = true;
  h.options.timestamps = tcp_timestamps{1, 0};
  h.options.window_scale = 7;
  CHECK(tcp_header_len(h) == 40);
  CHECK(segment(h)[12] == 0xa0);
  h.options.window_scale.reset();
  h.options.mss.reset();
  h.options.sack_count = 3;
  CHECK(tcp_header_len(h) == 60);  // 40 bytes of options: the largest header
  CHECK(segment(h)[12] == 0xf0);
}

TEST_CASE("tcp: the checksum covers pseudo-header, header and payload") {
  const auto data = payload_of(33);  // odd length
  auto s = segment(sample(), data);
  std::vector<std::uint8_t> pseudo = {0xc6, 0x12, 0x09, 0x01, 0xc6, 0x12, 0x09, 0x02, 0, 6, 0, 0};
  store_be16(&pseudo[10], static_cast<std::uint16_t>(s.size()));
  pseudo.insert(pseudo.end(), s.begin(), s.end());
  CHECK(coronet::test::reference_checksum(view(pseudo)) == 0);
}

TEST_CASE("tcp: a payload split over payload and payload2 gives the same bytes as one payload") {
  const auto data = payload_of(61);
  const auto whole = segment(sample(), data);
  for (std::size_t cut = 0; cut <= data.size(); ++cut) {  // odd and even cuts alike
    std::vector<std::uint8_t> out(whole.size());
    REQUIRE(emit(sample(), bytes(data).first(cut), src, dst, out, bytes(data).subspan(cut)) == out.size());
    CAPTURE(cut);
    CHECK(out == whole);
  }
}

TEST_CASE("tcp: emit returns 0 for any buffer shorter than the segment") {
  const auto data = payload_of(10);
  const std::size_t need = tcp_header_len(sample()) + 10;
  for (std::size_t n = 0; n < need; ++n) {
    std::vector<std::uint8_t> out(n);
    CAPTURE(n);
    CHECK(emit(sample(), data, src, dst, out) == 0);
  }
}

TEST_CASE("tcp: every segment shorter than 20 bytes -> tcp_too_short") {
  auto h = sample();
  h.options = {};
  const auto full = segment(h);
  for (std::size_t n = 0; n < tcp_min_header_len; ++n) {
    CAPTURE(n);
    CHECK(error_of(std::vector<std::uint8_t>(full.begin(), full.begin() + static_cast<long>(n))) ==
          drop::tcp_too_short);
  }
}

TEST_CASE("tcp: a data offset below 5 -> tcp_bad_data_offset") {
  for (std::uint8_t doff = 0; doff < 5; ++doff) {
    auto s = segment(sample(), payload_of(8));
    s[12] = static_cast<std::uint8_t>(doff << 4);
    fix_checksum(s);
    CAPTURE(int(doff));
    CHECK(error_of(s) == drop::tcp_bad_data_offset);
  }
}

TEST_CASE("tcp: a data offset past the end of the segment -> tcp_bad_data_offset") {
  auto h = sample();
  h.options = {};
  auto s = segment(h, payload_of(19));  // 39 bytes
  s[12] = 0xa0;                         // claims a 40-byte header
  fix_checksum(s);
  CHECK(error_of(s) == drop::tcp_bad_data_offset);
  s[12] = 0xf0;
  fix_checksum(s);
  CHECK(error_of(s) == drop::tcp_bad_data_offset);
  auto bare = segment(h);  // 20 bytes
  bare[12] = 0x60;
  fix_checksum(bare);
  CHECK(error_of(bare) == drop::tcp_bad_data_offset);
}

TEST_CASE("tcp: a data offset that ends exactly at the segment end leaves an empty payload") {
  auto h = sample();
  h.options = {};
  auto s = segment(h, std::vector<std::uint8_t>(40, 0x01));  // 40 NOPs
  s[12] = 0xf0;                                              // ... all of them options
  fix_checksum(s);
  const auto s_exact = exact(view(s));
  auto v = tcp_view::parse(view(s_exact), src, dst);
  REQUIRE(v);
  CHECK(v->payload().empty());
  CHECK(v->header().options == tcp_options{});
}

TEST_CASE("tcp: a bad checksum -> tcp_bad_checksum, unless verification is off") {
  auto s = segment(sample(), payload_of(14));
  s[40] ^= 0x20;  // a payload byte
  CHECK(error_of(s) == drop::tcp_bad_checksum);
  auto v = tcp_view::parse(view(s), src, dst, /*verify_checksum=*/false);
  REQUIRE(v);
  CHECK(v->payload()[8] == (payload_of(14)[8] ^ 0x20));
}

TEST_CASE("tcp: the pseudo-header is part of the sum: a different address fails it") {
  auto s = segment(sample(), payload_of(5));
  CHECK(tcp_view::parse(view(s), src, dst).has_value());
  CHECK(tcp_view::parse(view(s), src, make_ipv4(198, 18, 9, 3)).error() == drop::tcp_bad_checksum);
  CHECK(tcp_view::parse(view(s), make_ipv4(198, 18, 8, 1), dst).error() == drop::tcp_bad_checksum);
  // A shorter span (a wrong IP length) changes the length in the pseudo-header.
  CHECK(tcp_view::parse(bytes(s).first(s.size() - 1), src, dst).error() == drop::tcp_bad_checksum);
}

TEST_CASE("tcp: a checksum left to offload (pseudo-header sum only) parses with verification off") {
  auto s = segment(sample(), payload_of(20));
  // What the kernel hands over with TP_STATUS_CSUMNOTREADY: the folded,
  // uncomplemented pseudo-header sum in the checksum field.
  const std::uint32_t ph = pseudo_header_sum(src, dst, 6, static_cast<std::uint16_t>(s.size()));
  store_be16(&s[16], static_cast<std::uint16_t>(~csum_fold(ph)));
  // Verified anyway (a device without the flag, e.g. AF_XDP over veth), it
  // is dropped under its own name rather than as a corrupt segment.
  CHECK(error_of(s) == drop::tcp_csum_partial);
  // One bit off that value is plain corruption again.
  s[17] ^= 1;
  CHECK(error_of(s) == drop::tcp_bad_checksum);
  s[17] ^= 1;
  auto v = tcp_view::parse(view(s), src, dst, false);
  REQUIRE(v);
  CHECK(v->header() == sample());
}

TEST_CASE("tcp: malformed options -> tcp_bad_option after the checksum passes") {
  auto h = sample();
  h.options = {};
  h.options.mss = 1460;
  auto s = segment(h);
  s[21] = 5;  // MSS with length 5
  fix_checksum(s);
  CHECK(error_of(s) == drop::tcp_bad_option);
  s[21] = 0;
  fix_checksum(s);
  CHECK(error_of(s) == drop::tcp_bad_option);
}

TEST_CASE("tcp: a 64 KiB segment (a TSO super-frame) checksums and parses") {
  const auto data = payload_of(65535 - 20 - 32);
  auto s = segment(sample(), data);
  auto v = tcp_view::parse(view(s), src, dst);
  REQUIRE(v);
  CHECK(v->payload().size() == data.size());
  s[s.size() - 1] ^= 1;
  CHECK(error_of(s) == drop::tcp_bad_checksum);
}

TEST_CASE("tcp: emit_data_segment writes the bytes emit writes for the same header, with and without timestamps") {
  std::mt19937_64 rng(5);
  std::vector<std::uint8_t> data(3000);
  for (auto& b : data) b = static_cast<std::uint8_t>(rng());
  for (int i = 0; i < 400; ++i) {
    data_segment d;
    d.src_port = static_cast<std::uint16_t>(rng());
    d.dst_port = static_cast<std::uint16_t>(rng());
    d.seq = static_cast<std::uint32_t>(rng());
    d.ack = static_cast<std::uint32_t>(rng());
    d.flags = static_cast<std::uint8_t>(rng());
    d.window = static_cast<std::uint16_t>(rng());
    d.has_ts = i % 2 == 0;
    d.ts = tcp_timestamps{static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng())};
    tcp_header h;
    h.src_port = d.src_port;
    h.dst_port = d.dst_port;
    h.seq = d.seq;
    h.ack = d.ack;
    h.flags = d.flags;
    h.window = d.window;
    if (d.has_ts) h.options.timestamps = d.ts;
    // Payload in one span or two, of every length class (odd, even, empty).
    std::size_t n1 = rng() % 1500, n2 = i % 3 == 0 ? rng() % 1400 : 0;
    bytes p1(data.data(), n1), p2(data.data() + 1500, n2);
    std::vector<std::uint8_t> want(tcp_header_len(h) + n1 + n2), got(want.size() + 7, 0x5a);
    REQUIRE(emit(h, p1, src, dst, want, p2) == want.size());
    CAPTURE(i);
    REQUIRE(data_segment_header_len(d.has_ts) == tcp_header_len(h));
    REQUIRE(emit_data_segment(d, p1, p2, src, dst, got) == want.size());
    CHECK(std::equal(want.begin(), want.end(), got.begin()));
    CHECK(got[want.size()] == 0x5a);  // nothing written past the segment
    auto v = tcp_view::parse(bytes(got.data(), want.size()), src, dst);
    REQUIRE(v.has_value());
    CHECK(v->header() == h);
  }
}

TEST_CASE("tcp: emit_data_segment returns 0 for a buffer shorter than the segment") {
  data_segment d;
  d.has_ts = true;
  std::vector<std::uint8_t> payload(10), out(41);
  CHECK(emit_data_segment(d, payload, {}, src, dst, out) == 0);
  out.resize(42);
  CHECK(emit_data_segment(d, payload, {}, src, dst, out) == 42);
}

TEST_CASE("tcp: parse_into a reused view -> nothing of the previous segment's options or payload is left") {
  tcp_header a = sample();
  a.options.mss = 1460;
  a.options.sack_count = 2;
  a.options.sack[0] = {100, 200};
  a.options.sack[1] = {300, 400};
  tcp_header b = sample();
  b.options = tcp_options{};
  b.options.timestamps = tcp_timestamps{7, 8};
  std::vector<std::uint8_t> pa(tcp_header_len(a) + 5), pb(tcp_header_len(b));
  REQUIRE(emit(a, std::vector<std::uint8_t>(5, 1), src, dst, pa) == pa.size());
  REQUIRE(emit(b, {}, src, dst, pb) == pb.size());
  tcp_view v;
  REQUIRE_FALSE(tcp_view::parse_into(v, pa, src, dst).has_value());
  CHECK(v.header() == a);
  CHECK(v.payload().size() == 5);
  REQUIRE_FALSE(tcp_view::parse_into(v, pb, src, dst).has_value());
  CHECK(v.header() == b);
  CHECK(v.payload().empty());
  pb[16] ^= 1;  // checksum
  auto bad = tcp_view::parse_into(v, pb, src, dst);
  REQUIRE(bad.has_value());
  CHECK(*bad == drop::tcp_bad_checksum);
}
