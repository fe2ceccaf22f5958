#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "proto/tcp/congestion.hpp"

using namespace coronet;
using namespace coronet::tcp;
using namespace std::chrono_literals;

namespace {

// Feeds a congestion controller synthetic ACKs on a fake clock: each round
// acks the window that was in flight at its start, `per_ack` segments per
// ACK, the ACKs spread evenly over one RTT.
struct ack_driver {
  congestion_control& cc;
  duration rtt;
  time_point now{};
  duration min_rtt = duration::max();

  cc_ack make(std::uint32_t acked, std::uint32_t in_flight, bool limited, time_point t) {
    min_rtt = std::min(min_rtt, rtt);
    cc_ack a;
    a.acked = acked;
    a.in_flight = in_flight;
    a.cwnd_limited = limited;
    a.rtt = rtt;
    a.min_rtt = min_rtt;
    a.now = t;
    return a;
  }
  // One ACK, now.
  void ack(std::uint32_t acked = 1, bool limited = true) { cc.on_ack(make(acked, cc.cwnd(), limited, now)); }
  // One round trip's worth of ACKs.
  void round(std::uint32_t per_ack = 1, bool limited = true) {
    std::uint32_t w = cc.cwnd();
    std::uint32_t acks = (w + per_ack - 1) / per_ack;
    time_point start = now;
    for (std::uint32_t i = 0; i < acks; ++i) {
      std::uint32_t n = std::min(per_ack, w - i * per_ack);
      cc.on_ack(make(n, w - i * per_ack, limited, start + rtt * (i + 1) / acks));
    }
    now = start + rtt;
  }
  void rounds(int n) {
    for (int i = 0; i < n; ++i) round();
  }
  // Single-segment ACKs until cwnd reaches `target` (slow start: +1 each).
  void grow_to(std::uint32_t target) {
    for (int i = 0; i < 100000 && cc.cwnd() < target; ++i) {
      ack();
      now += rtt / 16;
    }
    REQUIRE(cc.cwnd() == target);
  }
};

// A cubic that slow-started to 100 segments, lost, and recovered: W_max = 100,
// cwnd = ssthresh = 70, in congestion avoidance.
void cubic_after_loss_at_100(cubic& c, ack_driver& d) {
  d.grow_to(100);
  c.on_congestion_event(100, d.now);
  c.on_recovery_end(d.now);
}

}  // namespace

// --- factory ---

TEST_CASE("congestion: factory -> cubic and reno by sysctl name, nullptr otherwise") {
  auto c = make_congestion_control("cubic", 10);
  REQUIRE(c);
  CHECK(c->name() == "cubic");
  CHECK(c->cwnd() == 10);
  CHECK(c->ssthresh() == 0x7fffffffu);
  auto r = make_congestion_control("reno", 4);
  REQUIRE(r);
  CHECK(r->name() == "reno");
  CHECK(r->cwnd() == 4);
  CHECK(make_congestion_control("bbr", 10) == nullptr);
  CHECK(make_congestion_control("", 10) == nullptr);
  CHECK(make_congestion_control("Cubic", 10) == nullptr);
}

// --- reno ---

TEST_CASE("reno: slow start -> cwnd doubles per round (one ACK per segment or per two)") {
  reno r(10);
  ack_driver d{r, 10ms};
  d.round();
  CHECK(r.cwnd() == 20);
  d.round();
  CHECK(r.cwnd() == 40);
  d.round(2);  // delayed ACKs: 2 segments each, +2 each (RFC 3465 L = 2)
  CHECK(r.cwnd() == 80);
}

TEST_CASE("reno: slow start, stretch ACK of 4 segments -> +2 (RFC 3465 L = 2)") {
  reno r(10);
  ack_driver d{r, 10ms};
  d.ack(4);
  CHECK(r.cwnd() == 12);
}

TEST_CASE("reno: slow start reaching ssthresh -> the rest of the ACK counts in CA") {
  reno r(10);
  ack_driver d{r, 10ms};
  r.on_rto(24, true, d.now);  // ssthresh 12, cwnd 1
  REQUIRE(r.ssthresh() == 12);
  for (int i = 0; i < 5; ++i) d.ack(2);  // 1 -> 11
  CHECK(r.cwnd() == 11);
  d.ack(2);  // one segment reaches ssthresh, one goes to the CA count
  CHECK(r.cwnd() == 12);
  CHECK(r.cwnd_cnt() == 1);
  CHECK_FALSE(r.in_slow_start());
}

TEST_CASE("reno: congestion avoidance -> +1 segment per round") {
  reno r(10);
  ack_driver d{r, 10ms};
  d.rounds(2);  // 40
  r.on_congestion_event(24, d.now);
  REQUIRE(r.cwnd() == 12);
  d.round();
  CHECK(r.cwnd() == 13);
  d.round();
  CHECK(r.cwnd() == 14);
  d.round(2);  // delayed ACKs grow it the same
  CHECK(r.cwnd() == 15);
  for (int i = 0; i < 10; ++i) d.round();
  CHECK(r.cwnd() == 25);
}

TEST_CASE("reno: congestion event -> ssthresh = max(FlightSize / 2, 2), cwnd = ssthresh (RFC 5681 eq. 4)") {
  reno r(10);
  ack_driver d{r, 10ms};
  d.rounds(2);
  REQUIRE(r.cwnd() == 40);
  r.on_congestion_event(30, d.now);  // FlightSize, not cwnd
  CHECK(r.ssthresh() == 15);
  CHECK(r.cwnd() == 15);
  r.on_congestion_event(3, d.now);
  CHECK(r.ssthresh() == 2);
  CHECK(r.cwnd() == 2);
}

TEST_CASE("reno: recovery end (full ACK) -> cwnd = ssthresh (RFC 6582 3.2 step 3)") {
  reno r(10);
  ack_driver d{r, 10ms};
  r.on_recovery_end(d.now);  // no reduction yet: ssthresh infinite, nothing to deflate to
  CHECK(r.cwnd() == 10);
  d.rounds(2);
  r.on_congestion_event(40, d.now);
  r.on_recovery_end(d.now);
  CHECK(r.cwnd() == 20);
  CHECK(r.ssthresh() == 20);
  d.round();
  CHECK(r.cwnd() == 21);  // congestion avoidance from there
}

TEST_CASE("congestion: set_cwnd (PRR during recovery) -> cwnd written, at least 1; recovery end -> ssthresh") {
  for (auto name : {"reno", "cubic"}) {
    auto cc = make_congestion_control(name, 10);
    cc->on_congestion_event(40, time_point{});
    std::uint32_t ssthresh = cc->ssthresh();
    cc->set_cwnd(7);
    CHECK(cc->cwnd() == 7);
    cc->set_cwnd(0);
    CHECK(cc->cwnd() == 1);
    CHECK(cc->ssthresh() == ssthresh);
    cc->on_recovery_end(time_point{});
    CHECK(cc->cwnd() == ssthresh);
  }
}

TEST_CASE("reno: RTO -> cwnd 1, ssthresh halved once for a series of RTOs") {
  reno r(10);
  ack_driver d{r, 10ms};
  d.rounds(2);
  r.on_rto(40, true, d.now);
  CHECK(r.cwnd() == 1);
  CHECK(r.ssthresh() == 20);
  r.on_rto(1, false, d.now);  // backed-off repeat
  r.on_rto(1, false, d.now);
  CHECK(r.cwnd() == 1);
  CHECK(r.ssthresh() == 20);
  d.round();
  CHECK(r.cwnd() == 2);  // slow start again
}

TEST_CASE("reno: not cwnd-limited -> cwnd does not grow, in slow start or CA") {
  reno r(10);
  ack_driver d{r, 10ms};
  for (int i = 0; i < 5; ++i) d.round(1, false);
  CHECK(r.cwnd() == 10);
  r.on_congestion_event(16, d.now);
  for (int i = 0; i < 5; ++i) d.round(1, false);
  CHECK(r.cwnd() == 8);
  CHECK(r.cwnd_cnt() == 0);
}

TEST_CASE("reno: idle restart -> cwnd = min(cwnd, IW), ssthresh keeps 3/4 cwnd (Linux tcp_cwnd_restart)") {
  reno r(10);
  ack_driver d{r, 10ms};
  d.rounds(2);
  r.on_idle_restart(d.now);
  CHECK(r.cwnd() == 10);
  CHECK(r.ssthresh() == 0x7fffffffu);
  r.on_congestion_event(30, d.now);  // ssthresh 15
  for (int i = 0; i < 9; ++i) d.round();
  REQUIRE(r.cwnd() == 24);
  r.on_idle_restart(d.now);
  CHECK(r.cwnd() == 10);
  CHECK(r.ssthresh() == 18);
  reno small(10);
  small.on_rto(8, true, d.now);  // cwnd 1 < IW stays 1
  small.on_idle_restart(d.now);
  CHECK(small.cwnd() == 1);
}

// --- cubic: constants and window reductions ---

TEST_CASE("cubic: congestion event -> ssthresh = cwnd * 0.7, W_max = cwnd (RFC 9438 4.6)") {
  cubic c(10);
  ack_driver d{c, 100ms};
  d.grow_to(100);
  c.on_congestion_event(100, d.now);
  CHECK(c.ssthresh() == 70);
  CHECK(c.cwnd() == 70);
  CHECK(c.w_max() == doctest::Approx(100));
  CHECK(c.cwnd_prior() == 100);
  CHECK(c.hystart() == cubic::hystart_phase::done);
  cubic tiny(2);
  tiny.on_congestion_event(2, d.now);
  CHECK(tiny.ssthresh() == 2);  // floor of 2 segments
  CHECK(tiny.cwnd() == 2);
}

TEST_CASE("cubic: K = cbrt((W_max - cwnd_epoch) / C) at the epoch start (RFC 9438 4.2)") {
  cubic c(10);
  ack_driver d{c, 100ms};
  cubic_after_loss_at_100(c, d);
  CHECK_FALSE(c.epoch_started());
  d.ack();
  REQUIRE(c.epoch_started());
  // (100 - 70) / 0.4 = 75; cbrt(75) = 4.2171633...
  CHECK(c.k() == doctest::Approx(4.2171633).epsilon(1e-6));
  CHECK(c.origin() == doctest::Approx(100));
  CHECK(c.w_cubic(0) == doctest::Approx(70));
  CHECK(c.w_cubic(c.k()) == doctest::Approx(100));
  CHECK(c.w_cubic(1) == doctest::Approx(0.4 * std::pow(1 - 4.2171633, 3) + 100).epsilon(1e-6));
}

TEST_CASE("cubic: growth follows W_cubic(t): concave below W_max, plateau at K, convex above") {
  cubic c(10);
  ack_driver d{c, 250ms};  // long enough that W_cubic, not W_est, leads (RFC 9438 4.3)
  cubic_after_loss_at_100(c, d);
  std::vector<std::uint32_t> at_second;  // cwnd at t = 0 s, 1 s, ... 8 s of the epoch
  at_second.push_back(c.cwnd());
  for (int s = 1; s <= 8; ++s) {
    for (int i = 0; i < 4; ++i) d.round();
    at_second.push_back(c.cwnd());
    // Each round closes the gap to W_cubic one RTT ahead: at a round's end
    // cwnd (with its fraction) sits on the curve.
    double t = std::chrono::duration<double>(d.now - c.epoch_start()).count();
    CHECK(double(c.cwnd()) >= c.w_cubic(t) - 1.5);
    CHECK(double(c.cwnd()) <= c.w_cubic(t) + 0.5);
  }
  // Concave: growth slows as cwnd nears W_max.
  CHECK(at_second[1] - at_second[0] > at_second[2] - at_second[1]);
  CHECK(at_second[2] - at_second[1] > at_second[4] - at_second[3]);
  CHECK(at_second[4] < 100);
  // Plateau around K = 4.2 s: little change across it.
  CHECK(at_second[5] - at_second[4] <= 2);
  CHECK(at_second[5] >= 99);
  CHECK(at_second[5] <= 101);
  // Convex: growth speeds up above W_max.
  CHECK(at_second[7] - at_second[6] > at_second[6] - at_second[5]);
  CHECK(at_second[8] - at_second[7] > at_second[7] - at_second[6]);
  CHECK(at_second[8] > 115);
}

TEST_CASE("cubic: fast convergence -> loss below W_max lowers W_max to cwnd * (1 + beta) / 2 (RFC 9438 4.7)") {
  cubic c(10);
  ack_driver d{c, 100ms};
  cubic_after_loss_at_100(c, d);
  for (int i = 0; i < 20 && c.cwnd() < 85; ++i) d.round();
  std::uint32_t w = c.cwnd();
  REQUIRE(w < 100);
  c.on_congestion_event(w, d.now);
  CHECK(c.w_max() == doctest::Approx(w * 0.85));
  CHECK(c.ssthresh() == w * 7 / 10);
  c.on_recovery_end(d.now);
  d.ack();
  CHECK(c.k() == doctest::Approx(std::cbrt((w * 0.85 - c.ssthresh()) / 0.4)));
  // A loss above W_max sets W_max = cwnd.
  cubic e(10);
  ack_driver de{e, 100ms};
  cubic_after_loss_at_100(e, de);
  for (int i = 0; i < 100 && e.cwnd() < 110; ++i) de.round();
  std::uint32_t w2 = e.cwnd();
  REQUIRE(w2 >= 110);
  e.on_congestion_event(w2, de.now);
  CHECK(e.w_max() == doctest::Approx(w2));
}

TEST_CASE("cubic: tiny RTT -> the Reno-friendly region (W_est) sets cwnd (RFC 9438 4.3)") {
  cubic c(10);
  ack_driver d{c, 30us};  // veth
  cubic_after_loss_at_100(c, d);
  for (int i = 0; i < 20; ++i) d.round();
  double t = std::chrono::duration<double>(d.now - c.epoch_start()).count();
  CHECK(c.w_cubic(t) < 70.1);  // the cubic curve has barely moved in 0.6 ms
  // W_est gains alpha_cubic = 3 * 0.3 / 1.7 = 0.529 segments per round.
  CHECK(c.w_est() == doctest::Approx(70 + 20 * 0.9 / 1.7).epsilon(0.01));
  CHECK(c.cwnd() == std::uint32_t(c.w_est()));  // cwnd = W_est
  // Once W_est reaches cwnd_prior (100), alpha becomes 1: +1 per round.
  for (int i = 0; i < 100 && c.cwnd() < 101; ++i) d.round();
  std::uint32_t w = c.cwnd();
  d.rounds(10);
  CHECK(c.cwnd() >= w + 9);
  CHECK(c.cwnd() <= w + 11);
}

TEST_CASE("cubic: RTO -> cwnd 1, ssthresh once for a series, then K = 0 from cwnd_epoch (RFC 9438 4.8)") {
  cubic c(10);
  ack_driver d{c, 100ms};
  d.grow_to(100);
  c.on_rto(100, true, d.now);
  CHECK(c.cwnd() == 1);
  CHECK(c.ssthresh() == 70);
  c.on_rto(1, false, d.now);
  c.on_rto(1, false, d.now);
  CHECK(c.cwnd() == 1);
  CHECK(c.ssthresh() == 70);
  CHECK(c.w_max() == 0);
  // Slow start (plain, no HyStart++) back to ssthresh, then CA with K = 0.
  d.grow_to(70);
  CHECK_FALSE(c.in_slow_start());
  d.ack();
  REQUIRE(c.epoch_started());
  CHECK(c.k() == 0);
  CHECK(c.origin() == doctest::Approx(70));
  CHECK(c.w_est() >= 70);
}

TEST_CASE("cubic: not cwnd-limited -> no growth in slow start or CA") {
  cubic c(10);
  ack_driver d{c, 100ms};
  for (int i = 0; i < 5; ++i) d.round(1, false);
  CHECK(c.cwnd() == 10);
  cubic_after_loss_at_100(c, d);
  for (int i = 0; i < 20; ++i) d.round(1, false);
  CHECK(c.cwnd() == 70);
  CHECK_FALSE(c.epoch_started());
}

TEST_CASE("cubic: idle restart -> cwnd = min(cwnd, IW), epoch restarts, W_max kept (RFC 9438 5.8)") {
  cubic c(10);
  ack_driver d{c, 100ms};
  cubic_after_loss_at_100(c, d);
  d.rounds(10);
  REQUIRE(c.epoch_started());
  d.now += 30s;  // idle
  c.on_idle_restart(d.now);
  CHECK(c.cwnd() == 10);
  CHECK_FALSE(c.epoch_started());
  CHECK(c.ssthresh() == 70);  // max(70, 3/4 of cwnd)
  CHECK(c.w_max() == doctest::Approx(100));
  d.round();
  CHECK(c.cwnd() == 20);  // slow start towards ssthresh
  d.grow_to(70);
  d.ack();
  REQUIRE(c.epoch_started());
  CHECK(c.epoch_start() == d.now);  // the idle 30 s do not count as growth time
  CHECK(c.k() == doctest::Approx(std::cbrt((100.0 - 70) / 0.4)));
  CHECK(c.cwnd() <= 71);
}

// --- cubic: HyStart++ (RFC 9406) ---

TEST_CASE("cubic: HyStart++, steady RTT -> plain slow start, doubling per round") {
  cubic c(10);
  ack_driver d{c, 10ms};
  for (int i = 0; i < 6; ++i) d.round();
  CHECK(c.cwnd() == 640);
  CHECK(c.hystart() == cubic::hystart_phase::slow_start);
  CHECK(c.ssthresh() == 0x7fffffffu);
}

TEST_CASE("cubic: HyStart++, RTT rises by the threshold -> CSS, then CA after CSS_ROUNDS") {
  cubic c(10);
  ack_driver d{c, 10ms};
  d.rounds(2);  // 10 -> 20 -> 40
  REQUIRE(c.cwnd() == 40);
  // RttThresh = max(4 ms, min(10 ms / 8, 16 ms)) = 4 ms; 13.9 ms is not enough.
  d.rtt = 13900us;
  d.round();
  CHECK(c.hystart() == cubic::hystart_phase::slow_start);
  CHECK(c.cwnd() == 80);
  // The last round's min was 13.9 ms: a rise to 17.9 ms triggers CSS after
  // N_RTT_SAMPLE (8) samples.
  d.rtt = 17900us;
  for (int i = 0; i < 7; ++i) d.ack();
  CHECK(c.hystart() == cubic::hystart_phase::slow_start);
  CHECK(c.cwnd() == 87);
  d.ack();
  CHECK(c.hystart() == cubic::hystart_phase::css);
  CHECK(c.cwnd() == 88);
  // CSS: cwnd grows by a quarter of slow start's rate.
  for (int i = 0; i < 8; ++i) d.ack();
  CHECK(c.cwnd() == 90);
  CHECK(c.ssthresh() == 0x7fffffffu);
  // The rest of this round (80 - 16 = 64 acks) and 4 more rounds: 5 CSS rounds.
  for (int i = 0; i < 64; ++i) d.ack();
  CHECK(c.cwnd() == 106);
  for (int r = 0; r < 3; ++r) d.round();
  CHECK(c.hystart() == cubic::hystart_phase::css);
  d.round();
  CHECK(c.hystart() == cubic::hystart_phase::done);
  CHECK(c.ssthresh() == c.cwnd());
  CHECK_FALSE(c.in_slow_start());
  CHECK(c.cwnd_prior() == c.cwnd());
  // CA from there: K = 0 and W_max = cwnd_epoch (RFC 9438 4.10).
  std::uint32_t w = c.cwnd();
  d.ack();
  CHECK(c.k() == 0);
  CHECK(c.origin() == doctest::Approx(w));
  // With no W_max known yet the flat start of the curve would stall growth;
  // Linux bictcp_update grows at least 5 % per RTT then (ca->cnt <= 20).
  d.round();
  CHECK(c.cwnd() >= w + w / 20 - 1);
  CHECK(c.cwnd() <= w + w / 20 + 1);
}

TEST_CASE("cubic: HyStart++, RTT falls back below the CSS baseline -> slow start resumes") {
  cubic c(10);
  ack_driver d{c, 10ms};
  d.rounds(2);
  d.rtt = 15ms;
  d.round();  // CSS entered at the 8th ACK of this round
  REQUIRE(c.hystart() == cubic::hystart_phase::css);
  d.rtt = 10ms;
  std::uint32_t w = c.cwnd();
  for (int i = 0; i < 8; ++i) d.ack();
  CHECK(c.hystart() == cubic::hystart_phase::slow_start);
  CHECK(c.cwnd() == w + 2);  // 8 ACKs at a quarter of the rate
  d.ack();
  CHECK(c.cwnd() == w + 3);  // then a full segment per ACK again
}

TEST_CASE("cubic: HyStart++ only in the initial slow start; a loss ends it") {
  cubic c(10);
  ack_driver d{c, 10ms};
  d.round();
  c.on_congestion_event(20, d.now);
  CHECK(c.hystart() == cubic::hystart_phase::done);
  CHECK(c.ssthresh() == 14);
  cubic r(10);
  ack_driver dr{r, 10ms};
  dr.round();
  r.on_rto(20, true, dr.now);
  CHECK(r.hystart() == cubic::hystart_phase::done);
  dr.rtt = 50ms;  // a big RTT rise in the slow start after the RTO changes nothing
  for (int i = 0; i < 13; ++i) dr.ack();
  CHECK(r.cwnd() == 14);
  CHECK(r.ssthresh() == 14);
}
