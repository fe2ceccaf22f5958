#include <doctest/doctest.h>

#include "proto/tcp/syn_cookie.hpp"
#include "tcp_rig.hpp"

using namespace coronet;
using namespace coronet::tcp;
using coronet::test::at;
using namespace std::chrono_literals;

namespace {
const four_tuple t1{make_ipv4(198, 18, 0, 2), 80, make_ipv4(198, 18, 0, 1), 40000};
}

TEST_CASE("syn cookie: encode then check returns the MSS from the table") {
  syn_cookies k(5);
  for (std::uint16_t mss : {536, 1000, 1300, 1440, 1460, 9000}) {
    std::uint32_t c = k.make(t1, 0xfffffff0u, mss, at(100s));
    auto got = k.check(t1, 0xfffffff0u, c, at(101s));
    REQUIRE(got.has_value());
    CHECK(*got <= std::max<std::uint16_t>(mss, 536));
  }
  CHECK(*k.check(t1, 7, k.make(t1, 7, 1460, at(0s)), at(0s)) == 1460);
  CHECK(*k.check(t1, 7, k.make(t1, 7, 1400, at(0s)), at(0s)) == 1300);
}

TEST_CASE("syn cookie: a tampered cookie, tuple, irs or key is rejected") {
  syn_cookies k(5);
  std::uint32_t c = k.make(t1, 1000, 1460, at(10s));
  CHECK_FALSE(k.check(t1, 1000, c + 1, at(10s)).has_value());
  CHECK_FALSE(k.check(t1, 1000, c ^ 0x00100000u, at(10s)).has_value());
  CHECK_FALSE(k.check(t1, 1000 + 100000, c, at(10s)).has_value());
  four_tuple t2 = t1;
  t2.remote_port = 40001;
  CHECK_FALSE(k.check(t2, 1000, c, at(10s)).has_value());
  CHECK_FALSE(syn_cookies(6).check(t1, 1000, c, at(10s)).has_value());
}

TEST_CASE("syn cookie: valid for two 64 s ticks after its own, then too old") {
  syn_cookies k(5);
  std::uint32_t c = k.make(t1, 1000, 1460, at(64s));  // tick 1
  CHECK(k.check(t1, 1000, c, at(127s)).has_value());  // tick 1
  CHECK(k.check(t1, 1000, c, at(191s)).has_value());  // tick 2
  CHECK(k.check(t1, 1000, c, at(255s)).has_value());  // tick 3
  CHECK_FALSE(k.check(t1, 1000, c, at(256s)).has_value());  // tick 4
  CHECK_FALSE(k.check(t1, 1000, c, at(0s)).has_value());  // from the future
}

TEST_CASE("syn cookie: window scale and SACK round-trip through the timestamp") {
  for (int ws : {-1, 0, 7, 14})
    for (bool sack : {false, true}) {
      std::uint32_t now_ms = 123456789;
      std::uint32_t ts = cookie_tsval(now_ms, {ws, sack});
      CHECK(static_cast<std::int32_t>(ts - now_ms) <= 0);
      CHECK(now_ms - ts < 128);
      CHECK(cookie_ts_decode(ts) == cookie_ts_options{ws, sack});
    }
}
