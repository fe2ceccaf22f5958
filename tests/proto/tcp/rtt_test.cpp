#include <doctest/doctest.h>

#include "proto/tcp/rtt.hpp"

using namespace coronet;
using namespace coronet::tcp;
using namespace std::chrono_literals;

namespace {
// Linux's defaults: TCP_TIMEOUT_INIT, TCP_RTO_MIN, TCP_RTO_MAX.
rtt_estimator linux_defaults() { return rtt_estimator(1s, 200ms, 120s); }
}  // namespace

TEST_CASE("rtt: before any sample -> RTO is the initial RTO (RFC 6298 2.1)") {
  rtt_estimator e = linux_defaults();
  CHECK_FALSE(e.has_sample());
  CHECK(e.rto() == 1s);
  CHECK(e.srtt() == 0s);
  CHECK(e.rttvar() == 0s);
  CHECK(e.min_rtt() == duration::max());
  CHECK(e.latest() == 0s);
}

TEST_CASE("rtt: first sample R -> SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR (RFC 6298 2.2)") {
  rtt_estimator e = linux_defaults();
  e.sample(500ms);
  CHECK(e.has_sample());
  CHECK(e.srtt() == 500ms);
  CHECK(e.rttvar() == 250ms);
  CHECK(e.rto() == 1500ms);
  CHECK(e.latest() == 500ms);
  CHECK(e.min_rtt() == 500ms);
}

TEST_CASE("rtt: later samples -> RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, SRTT = 7/8 SRTT + 1/8 R (RFC 6298 2.3)") {
  rtt_estimator e = linux_defaults();
  e.sample(500ms);
  e.sample(300ms);
  // RTTVAR = 187.5 + 50 = 237.5 ms (with the old SRTT), SRTT = 437.5 + 37.5 = 475 ms.
  CHECK(e.rttvar() == 237500us);
  CHECK(e.srtt() == 475ms);
  CHECK(e.rto() == 475ms + 4 * 237500us);  // 1425 ms
  e.sample(800ms);
  // RTTVAR = 178.125 + 81.25 = 259.375 ms, SRTT = 415.625 + 100 = 515.625 ms.
  CHECK(e.rttvar() == 259375us);
  CHECK(e.srtt() == 515625us);
  CHECK(e.rto() == 1553125us);
  CHECK(e.latest() == 800ms);
  CHECK(e.min_rtt() == 300ms);
}

TEST_CASE("rtt: veth-sized samples keep sub-millisecond precision") {
  rtt_estimator e = linux_defaults();
  e.sample(30us);
  CHECK(e.srtt() == 30us);
  CHECK(e.rttvar() == 15us);
  e.sample(38us);
  CHECK(e.rttvar() == 13250ns);  // 3/4 * 15 us + 1/4 * 8 us
  CHECK(e.srtt() == 31us);       // 7/8 * 30 us + 1/8 * 38 us
}

TEST_CASE("rtt: small RTT -> RTO = SRTT + rto_min (Linux floor on the variance term)") {
  rtt_estimator e = linux_defaults();
  for (int i = 0; i < 20; ++i) e.sample(30us);
  CHECK(e.srtt() == 30us);
  CHECK(e.rto() == 200ms + 30us);
  // A shrunk floor (tests set coronet.tcp_rto_min_ms) applies the same way.
  rtt_estimator f(1s, 1ms, 120s);
  f.sample(100us);
  CHECK(f.rto() == 1ms + 100us);
  f.sample(5ms);  // RTTVAR = 3/4 * 50 us + 1/4 * 4.9 ms = 1.2625 ms, SRTT = 712.5 us
  CHECK(f.rto() == 712500ns + 4 * 1262500ns);
}

TEST_CASE("rtt: zero sample is allowed -> RTO clamped up to rto_min") {
  rtt_estimator e = linux_defaults();
  e.sample(0s);
  CHECK(e.has_sample());
  CHECK(e.srtt() == 0s);
  CHECK(e.rto() == 200ms);
  CHECK(e.min_rtt() == 0s);
}

TEST_CASE("rtt: large RTT -> RTO clamped to rto_max (RFC 6298 2.5)") {
  rtt_estimator e = linux_defaults();
  e.sample(100s);
  CHECK(e.srtt() == 100s);
  CHECK(e.rto() == 120s);
}

TEST_CASE("rtt: negative sample -> ignored") {
  rtt_estimator e = linux_defaults();
  e.sample(-1ms);
  CHECK_FALSE(e.has_sample());
  CHECK(e.rto() == 1s);
  e.sample(40ms);
  e.sample(-5ms);
  CHECK(e.srtt() == 40ms);
  CHECK(e.latest() == 40ms);
}

TEST_CASE("rtt: min_rtt tracks the smallest sample, latest the last one") {
  rtt_estimator e = linux_defaults();
  e.sample(10ms);
  e.sample(4ms);
  e.sample(7ms);
  CHECK(e.min_rtt() == 4ms);
  CHECK(e.latest() == 7ms);
}

TEST_CASE("rtt: backed_off doubles per expiry up to rto_max (RFC 6298 5.5)") {
  rtt_estimator e = linux_defaults();
  CHECK(e.backed_off(0) == 1s);
  CHECK(e.backed_off(3) == 8s);
  CHECK(e.backed_off(7) == 120s);
  CHECK(e.backed_off(1000) == 120s);
  CHECK(e.rto() == 1s);  // the base RTO is unchanged
}
