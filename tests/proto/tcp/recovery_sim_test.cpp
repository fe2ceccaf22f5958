// Loss recovery and flow control between two engines on the simulated link
// (5 ms each way): zero-window probing (RFC 9293 3.8.6.1, Linux
// tcp_probe_timer), the RTO's exponential backoff and retry limit (RFC 6298
// 5.5, Linux tcp_retransmit_timer / tcp_write_timeout), fast retransmit of a
// hole (RFC 5681 3.2, RFC 6675, RFC 6582), tail loss probes (RFC 8985 7) and
// delayed ACKs (RFC 5681 4.2, RFC 9293 3.8.6.3). Everything is checked on the
// link's record of segments and on the counters.
#include <doctest/doctest.h>

#include <algorithm>

#include "proto/tcp/seq.hpp"
#include "proto/wire/tcp.hpp"
#include "transfer_sim.hpp"

using namespace coronet;
using namespace coronet::test;
using namespace std::chrono_literals;
namespace tf = wire::tcp_flag;

namespace {

constexpr duration one_way = 5ms;

transfer_spec one_way_spec(std::size_t up) {
  transfer_spec spec;
  spec.bytes_up = up;
  spec.bytes_down = 0;
  spec.delay = one_way;
  spec.time_limit = 60s;
  return spec;
}

// Established, nothing written yet, the applications told not to close.
void start(transfer_sim& t) {
  REQUIRE(t.establish());
  t.client_app.auto_close = false;
  t.server_app.auto_close = false;
}

std::vector<io::seen_segment> data_segments(const io::memory_link& l, io::link_dir d, time_point from = {}) {
  std::vector<io::seen_segment> v;
  for (const auto& s : l.segments())
    if (s.dir == d && s.payload_len > 0 && s.at >= from) v.push_back(s);
  return v;
}

// Every time the segment starting at `seq` was offered in `d`.
std::vector<time_point> sends_of(const io::memory_link& l, io::link_dir d, std::uint32_t seq) {
  std::vector<time_point> v;
  for (const auto& s : l.segments())
    if (s.dir == d && s.payload_len > 0 && s.tcp.seq == seq) v.push_back(s.at);
  return v;
}

// Drops the data frames (TCP payload > 0) numbered in `which` (1-based) in
// one direction; everything else passes.
std::function<bool(bytes)> drop_data_frames(std::vector<int> which) {
  return [which, n = 0](bytes f) mutable {
    auto t = io::memory_link::segment_of(f);
    if (!t || t->payload_len == 0) return false;
    ++n;
    return std::find(which.begin(), which.end(), n) != which.end();
  };
}

long long ms(duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

}  // namespace

// --- zero window ---------------------------------------------------------

TEST_CASE("zero window: the reader stops -> window 0, probes back off; reading again resumes and completes") {
  settings st;  // 128 KiB receive buffer
  transfer_sim t(st, st, one_way_spec(std::size_t{1} << 20));
  start(t);
  t.server_app.reading = false;
  auto zero_advertised = [&] {
    for (const auto& s : t.s.link.segments())
      if (s.dir == sim::s2c && s.tcp.window == 0 && !(s.tcp.flags & tf::syn)) return true;
    return false;
  };
  REQUIRE(t.drive(zero_advertised, t.s.now + 10s));
  time_point zero_at = t.s.now;
  time_point known_at = zero_at + one_way;  // the sender hears of it
  CHECK(t.s.server.stats()[counter::tcp_to_zero_window_adv] >= 1);

  // RFC 9293 3.8.6.1: the sender keeps probing the closed window; Linux
  // tcp_probe_timer / tcp_send_probe0 double the interval each time
  // (icsk_backoff), capped at TCP_RTO_MAX.
  t.run_for(10s);
  INFO(t.summary());
  std::vector<time_point> probes;
  for (const auto& s : t.s.link.segments())
    if (s.dir == sim::c2s && s.at > known_at) probes.push_back(s.at);
  CHECK(probes.size() >= 3);
  CHECK(t.s.client.stats()[counter::tcp_win_probe] == probes.size());
  for (std::size_t i = 0; i < probes.size(); ++i) {
    CAPTURE(i);
    CAPTURE(ms(probes[i] - zero_at));
    if (i == 0) {
      CHECK(probes[0] - zero_at >= t.s.client_settings.tcp_rto_min);  // one RTO after the window closed
    } else if (i >= 2) {
      duration prev = probes[i - 1] - probes[i - 2], gap = probes[i] - probes[i - 1];
      CHECK(gap * 2 >= prev * 3);  // backing off (x2 each time)
    }
  }
  // Each probe is answered, still with a zero window.
  std::size_t answers = 0;
  for (const auto& s : t.s.link.segments())
    if (s.dir == sim::s2c && s.at > known_at && s.tcp.window == 0) ++answers;
  CHECK(answers >= probes.size());
  CHECK(t.server_app.received == 0);

  // The reader comes back: the window update restarts the flow at once,
  // not at the next probe (which is seconds away by now).
  t.server_app.reading = true;
  t.server_app.can_read = true;
  time_point resumed = t.s.now;
  bool done = t.drive([&] { return t.server_app.received == t.server_app.to_recv; }, resumed + 1s);
  INFO(t.summary());
  CHECK(done);
  CHECK(t.server_app.digest_ok());
  CHECK_FALSE(t.server_app.first_mismatch);
  CHECK(t.s.server.stats()[counter::tcp_from_zero_window_adv] >= 1);
  CHECK(t.s.client.stats()[counter::tcp_timeouts] == 0);  // probes are not retransmission timeouts
}

// --- RTO backoff and retry limit -------------------------------------------

namespace {
// After a warm-up exchange (so the RTO comes from a measured RTT of 10 ms,
// RFC 6298 2.2), every frame from the server is lost; the client writes one
// segment at `t0`. TLP is off (tcp_early_retrans = 0) so that every
// retransmission is the RTO's.
struct blackhole {
  transfer_sim t;
  time_point t0{};
  std::uint32_t seq = 0;
  explicit blackhole(settings cs) : t(cs, settings{}, one_way_spec(1000)) {
    start(t);
    REQUIRE(t.drive([&] { return t.server_app.received == 1000; }, t.s.now + 2s));
    t.run_for(500ms);  // let any delayed ACK go out
    t.drop_filter[1] = [](bytes) { return true; };
    t0 = t.s.now;
    t.add_bytes(t.client_app, t.server_app, 1000);
    t.client_app.can_write = true;
    t.run_for(1ms);
    auto segs = data_segments(t.s.link, sim::c2s, t0);
    REQUIRE(segs.size() == 1);
    seq = segs[0].tcp.seq;
  }
};
}  // namespace

TEST_CASE("RTO: no ACKs -> retransmitted at RTO, 2 RTO, 4 RTO ... capped at tcp_rto_max") {
  settings cs;
  cs.tcp_early_retrans = 0;
  cs.tcp_rto_max = 3s;
  cs.tcp_retries2 = 8;
  blackhole b(cs);
  b.t.run_for(60s);
  INFO(b.t.summary());
  auto sends = sends_of(b.t.s.link, sim::c2s, b.seq);
  REQUIRE(sends.size() >= 4);
  duration first = sends[1] - sends[0];
  CAPTURE(ms(first));
  // RFC 6298 2.4 with Linux's 200 ms floor: RTT 10 ms gives an RTO just above
  // tcp_rto_min, far below the 1 s used before any RTT sample.
  CHECK(first >= cs.tcp_rto_min);
  CHECK(first <= 400ms);
  duration expect = first;
  for (std::size_t i = 1; i + 1 < sends.size(); ++i) {
    expect = std::min<duration>(expect * 2, cs.tcp_rto_max);  // RFC 6298 5.5
    duration gap = sends[i + 1] - sends[i];
    CAPTURE(i);
    CAPTURE(ms(gap));
    CAPTURE(ms(expect));
    CHECK(gap >= expect - 2ms);
    CHECK(gap <= expect + 2ms);
  }
  CHECK(sends.size() == 1u + static_cast<std::size_t>(cs.tcp_retries2));
  CHECK(b.t.s.client.stats()[counter::tcp_timeouts] >= sends.size() - 1);
}

TEST_CASE("RTO: tcp_retries2 retransmissions unanswered -> timed_out, reset event, TCPAbortOnTimeout") {
  settings cs;
  cs.tcp_early_retrans = 0;
  cs.tcp_retries2 = 5;
  blackhole b(cs);
  auto& t = b.t;
  conn_id c = t.client_app.c;
  bool failed = t.drive([&] { return sim::has_event(t.s.client_events, event::kind::reset, c); }, t.s.now + 120s);
  time_point failed_at = t.s.now;
  t.run_for(10s);
  INFO(t.summary());
  REQUIRE(failed);
  auto sends = sends_of(t.s.link, sim::c2s, b.seq);
  CHECK(sends.size() == 6);  // the original and tcp_retries2 retransmissions
  auto ev = sim::find_event(t.s.client_events, event::kind::reset, c);
  REQUIRE(ev);
  CHECK(ev->error == std::errc::timed_out);
  CHECK(t.s.client.error(c) == std::errc::timed_out);
  CHECK(t.s.client.stats()[counter::tcp_abort_on_timeout] == 1);
  CHECK(t.s.client.send(c, bytes(std::vector<std::uint8_t>(10)), t.s.now) == 0);
  // Linux tcp_retransmit_timer -> tcp_write_timeout: the connection fails
  // when the RTO after the last retransmission fires (twice the previous
  // interval), and tcp_write_err sends no RST.
  REQUIRE(sends.size() >= 2);
  duration last_gap = sends.back() - sends[sends.size() - 2];
  CAPTURE(ms(failed_at - sends.back()));
  CAPTURE(ms(last_gap));
  CHECK(failed_at - sends.back() >= 2 * last_gap - 2ms);
  CHECK(failed_at - sends.back() <= 2 * last_gap + 2ms);
  CHECK(t.s.link.count(sim::c2s, tf::rst, tf::rst) == 0);
  CHECK(data_segments(t.s.link, sim::c2s, sends.back() + 1ns).empty());
  auto info = t.s.client.info(c);
  REQUIRE(info);
  CHECK(info->state == tcp_state::closed);
}

// --- fast retransmit ---------------------------------------------------------

TEST_CASE("fast retransmit: one segment lost mid-window -> resent on duplicate ACKs / SACK, not on the RTO") {
  for (bool sack : {true, false}) {
    CAPTURE(sack);
    settings st;
    st.tcp_sack = sack;
    transfer_sim t(st, st, one_way_spec(20 * 1448));
    t.drop_filter[0] = drop_data_frames({3});
    start(t);
    time_point t0 = t.s.now;
    bool done = t.drive([&] { return t.server_app.received == t.server_app.to_recv; }, t0 + 5s);
    INFO(t.summary());
    INFO(segment_log(t.s.link, t0));
    CHECK(done);
    CHECK(t.server_app.digest_ok());
    auto segs = data_segments(t.s.link, sim::c2s, t0);
    REQUIRE(segs.size() >= 3);
    std::uint32_t lost = segs[2].tcp.seq;
    auto sends = sends_of(t.s.link, sim::c2s, lost);
    REQUIRE(sends.size() >= 2);
    CHECK(sends.size() == 2);  // resent once
    CAPTURE(ms(sends[1] - sends[0]));
    CHECK(sends[1] - sends[0] < st.tcp_rto_min);  // no RTO can fire this early
    const counters& c = t.s.client.stats();
    CHECK(c[counter::tcp_timeouts] == 0);
    CHECK(c[counter::tcp_retrans_segs] == 1);  // only the hole is resent
    if (sack)
      CHECK((c[counter::tcp_sack_recovery] >= 1 || c[counter::tcp_fast_retrans] >= 1));
    else
      CHECK(c[counter::tcp_reno_recovery] >= 1);  // RFC 6582 NewReno
    CHECK(t.s.server.stats()[counter::tcp_ofo_queue] >= 1);  // segments past the hole were kept
  }
}

// --- tail loss probe -------------------------------------------------------

TEST_CASE("TLP: the last two segments of a flight lost -> a loss probe, then SACK recovery, before any RTO") {
  settings st;  // SACK and timestamps: 1448-byte segments
  transfer_sim t(st, st, one_way_spec(10 * 1448));  // one initial window (RFC 6928)
  t.drop_filter[0] = drop_data_frames({9, 10});
  start(t);
  time_point t0 = t.s.now;
  bool done = t.drive([&] { return t.server_app.received == t.server_app.to_recv; }, t0 + 5s);
  INFO(t.summary());
  INFO(segment_log(t.s.link, t0));
  CHECK(done);
  CHECK(t.server_app.digest_ok());
  CAPTURE(ms(t.server_app.all_read_at.value_or(t0) - t0));
  CHECK(t.server_app.all_read_at.value_or(time_point::max()) < t0 + st.tcp_rto_min);
  const counters& c = t.s.client.stats();
  CHECK(c[counter::tcp_loss_probes] >= 1);
  CHECK(c[counter::tcp_timeouts] == 0);
}

TEST_CASE("TLP: the last segment lost -> repaired by the loss probe, not by an RTO") {
  settings st;
  transfer_sim t(st, st, one_way_spec(10 * 1448));
  t.drop_filter[0] = drop_data_frames({10});
  start(t);
  time_point t0 = t.s.now;
  bool done = t.drive([&] { return t.server_app.received == t.server_app.to_recv; }, t0 + 5s);
  INFO(t.summary());
  INFO(segment_log(t.s.link, t0));
  CHECK(done);
  CHECK(t.server_app.digest_ok());
  const counters& c = t.s.client.stats();
  // RFC 8985 7.2: with one segment in flight the PTO allows for a delayed
  // ACK, but never exceeds the RTO: the probe comes first.
  CHECK(c[counter::tcp_loss_probes] >= 1);
  CHECK(c[counter::tcp_timeouts] == 0);
  auto segs = data_segments(t.s.link, sim::c2s, t0);
  REQUIRE(segs.size() >= 10);
  auto sends = sends_of(t.s.link, sim::c2s, segs[9].tcp.seq);
  REQUIRE(sends.size() >= 2);
  CAPTURE(ms(sends[1] - sends[0]));
  CHECK(sends[1] - sends[0] <= 1s);  // well inside the first RTO's reach (200 ms + RTT)
}

// --- delayed ACKs ------------------------------------------------------------

TEST_CASE("delayed ACK: bulk data -> an ACK for at least every second full-sized segment") {
  settings st;
  transfer_sim t(st, st, one_way_spec(std::size_t{2} << 20));
  start(t);
  time_point t0 = t.s.now;
  bool done = t.drive([&] { return t.server_app.received == t.server_app.to_recv; }, t0 + 30s);
  INFO(t.summary());
  REQUIRE(done);
  CHECK(t.s.client.stats()[counter::tcp_retrans_segs] == 0);
  auto ci = t.s.client.info(t.client_app.c);
  REQUIRE(ci);
  std::uint32_t full = ci->snd_mss - (ci->timestamps ? 12u : 0u);
  // RFC 5681 4.2 / RFC 9293 3.8.6.3: the cumulative ACK never falls more
  // than two full-sized segments behind what has arrived. On the link: each
  // advance of the server's ACK covers at most two full segments.
  std::optional<std::uint32_t> last;
  std::uint32_t worst = 0;
  std::size_t acks = 0;
  for (const auto& s : t.s.link.segments()) {
    if (s.dir != sim::s2c || !(s.tcp.flags & tf::ack) || s.at < t0) continue;
    if (last && tcp::seq_gt(s.tcp.ack, *last)) {
      worst = std::max(worst, s.tcp.ack - *last);
      ++acks;
    }
    if (!last || tcp::seq_gt(s.tcp.ack, *last)) last = s.tcp.ack;
  }
  CAPTURE(worst);
  CAPTURE(acks);
  CHECK(worst <= 2 * full);
  CHECK(acks * 2 + 2 >= t.server_app.received / full);
}

TEST_CASE("delayed ACK: a lone segment -> ACKed within tcp_delack (40 ms)") {
  settings st;
  transfer_sim t(st, st, one_way_spec(64 * 1448));  // first some bulk: past Linux's quick-ACK phase
  start(t);
  REQUIRE(t.drive([&] { return t.server_app.received == t.server_app.to_recv; }, t.s.now + 5s));
  t.run_for(1s);
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    time_point t0 = t.s.now;
    t.add_bytes(t.client_app, t.server_app, 100);
    t.client_app.can_write = true;
    REQUIRE(t.drive([&] { return t.server_app.received == t.server_app.to_recv; }, t0 + 1s));
    t.run_for(1s);
    auto segs = data_segments(t.s.link, sim::c2s, t0);
    REQUIRE(segs.size() == 1);
    std::uint32_t end = segs[0].tcp.seq + 100;
    time_point arrived = segs[0].at + one_way;
    std::optional<time_point> acked;
    for (const auto& s : t.s.link.segments())
      if (s.dir == sim::s2c && s.at >= arrived && (s.tcp.flags & tf::ack) && s.tcp.ack == end) {
        acked = s.at;
        break;
      }
    REQUIRE(acked);
    CAPTURE(ms(*acked - arrived));
    CHECK(*acked - arrived <= st.tcp_delack);
    CHECK(t.s.client.stats()[counter::tcp_retrans_segs] == 0);  // no retransmission stood in for the ACK
  }
}

// --- keepalive -------------------------------------------------------------

namespace {
settings keepalive_settings() {
  settings cs;
  cs.tcp_keepalive_time = 10s;
  cs.tcp_keepalive_intvl = 2s;
  cs.tcp_keepalive_probes = 3;
  return cs;
}
// Client segments sent at or after `from` (an idle client sends nothing else).
std::vector<time_point> client_segments(const io::memory_link& l, time_point from) {
  std::vector<time_point> v;
  for (const auto& s : l.segments())
    if (s.dir == sim::c2s && s.at >= from) v.push_back(s.at);
  return v;
}
}  // namespace

TEST_CASE("keepalive: an idle connection whose peer answers -> a probe after tcp_keepalive_time, connection kept") {
  settings cs = keepalive_settings();
  transfer_sim t(cs, settings{}, one_way_spec(0));
  start(t);
  time_point idle = t.s.now;
  t.s.client.set_keepalive(t.client_app.c, true, idle);
  t.run_for(25s);
  INFO(segment_log(t.s.link, idle));
  auto probes = client_segments(t.s.link, idle);
  // Linux tcp_keepalive_timer: the first probe once the connection has been
  // idle for tcp_keepalive_time; the peer's ACK counts as activity, so the
  // next comes tcp_keepalive_time after that ACK.
  REQUIRE(probes.size() >= 1);
  CHECK(probes[0] - idle >= cs.tcp_keepalive_time);
  CHECK(probes[0] - idle <= cs.tcp_keepalive_time + 100ms);
  CHECK(probes.size() <= 3);
  CHECK(t.s.client.stats()[counter::tcp_keepalive] == probes.size());
  auto i = t.s.client.info(t.client_app.c);
  REQUIRE(i);
  CHECK(i->state == tcp_state::established);
  CHECK_FALSE(sim::has_event(t.s.client_events, event::kind::reset));
}

TEST_CASE("keepalive: the peer is gone -> tcp_keepalive_probes probes tcp_keepalive_intvl apart, then RST and timed_out") {
  settings cs = keepalive_settings();
  transfer_sim t(cs, settings{}, one_way_spec(0));
  start(t);
  t.drop_filter[1] = [](bytes) { return true; };  // nothing comes back
  time_point idle = t.s.now;
  t.s.client.set_keepalive(t.client_app.c, true, idle);
  conn_id c = t.client_app.c;
  bool failed = t.drive([&] { return sim::has_event(t.s.client_events, event::kind::reset, c); }, idle + 60s);
  time_point failed_at = t.s.now;
  t.run_for(10s);
  INFO(segment_log(t.s.link, idle));
  REQUIRE(failed);
  std::vector<io::seen_segment> sent;
  for (const auto& s : t.s.link.segments())
    if (s.dir == sim::c2s && s.at >= idle) sent.push_back(s);
  REQUIRE(sent.size() == 4);  // three probes, then the RST
  std::vector<time_point> probes;
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK((sent[i].tcp.flags & tf::rst) == 0);
    probes.push_back(sent[i].at);
  }
  CHECK(probes[0] - idle >= cs.tcp_keepalive_time);
  CHECK(probes[0] - idle <= cs.tcp_keepalive_time + 100ms);
  CHECK(probes[1] - probes[0] == cs.tcp_keepalive_intvl);
  CHECK(probes[2] - probes[1] == cs.tcp_keepalive_intvl);
  // Linux tcp_keepalive_timer: the timer after the last probe finds
  // tcp_keepalive_probes unanswered, sends an RST (tcp_send_active_reset) at
  // SND.NXT - the probes' SEG.SEQ + 1, nothing being in flight - and fails
  // the connection with ETIMEDOUT (tcp_write_err).
  CHECK(failed_at - probes[2] == cs.tcp_keepalive_intvl);
  CHECK(sent[3].at == failed_at);
  CHECK(sent[3].tcp.flags == (tf::rst | tf::ack));
  CHECK(sent[3].tcp.seq == sent[2].tcp.seq + 1);
  CHECK(t.s.client.stats()[counter::tcp_out_rsts] == 1);
  CHECK(sim::find_event(t.s.client_events, event::kind::reset, c)->error == std::errc::timed_out);
  CHECK(t.s.client.error(c) == std::errc::timed_out);
  CHECK(t.s.client.stats()[counter::tcp_keepalive] == 3);
}
