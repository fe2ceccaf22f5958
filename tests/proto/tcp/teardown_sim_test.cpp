// Every way a connection ends, between two engines on the simulated link
// (5 ms each way): active close from either side, simultaneous close,
// half-close with data still flowing, a lost FIN in LAST-ACK, a lost final
// ACK re-sent from TIME-WAIT, the TIME-WAIT length, abort, and data that
// arrives after close(). RFC 9293 3.6 and 3.10.7.4; Linux tcp_close,
// tcp_fin, tcp_rcv_state_process, tcp_timewait_state_process.
#include <doctest/doctest.h>

#include "proto/wire/tcp.hpp"
#include "transfer_sim.hpp"

using namespace coronet;
using namespace coronet::test;
using namespace std::chrono_literals;
namespace tf = wire::tcp_flag;
using ek = event::kind;

namespace {

constexpr duration one_way = 5ms;

// An established pair on a link with 5 ms of delay each way.
struct sim_pair {
  sim s;
  conn_id c = 0, a = 0;

  explicit sim_pair(const settings& cs = {}, const settings& ss = {}) : s(cs, ss) {
    s.link.set_delay(sim::c2s, one_way);
    s.link.set_delay(sim::s2c, one_way);
    auto l = s.server.listen(80, 16);
    REQUIRE(l);
    auto cc = s.connect(s.server_ep(80));
    REQUIRE(cc);
    s.run_for(50ms);
    REQUIRE(sim::has_event(s.client_events, ek::connected, *cc));
    auto aa = s.server.accept(*l);
    REQUIRE(aa);
    c = *cc;
    a = *aa;
  }
  engine& side(bool client) { return client ? s.client : s.server; }
  conn_id id(bool client) const { return client ? c : a; }
  std::vector<event>& events(bool client) { return client ? s.client_events : s.server_events; }
  io::link_dir out(bool client) const { return client ? sim::c2s : sim::s2c; }
  tcp_state state(bool client) {
    auto i = side(client).info(id(client));
    REQUIRE(i);
    return i->state;
  }
  std::size_t fins(bool client) const { return s.link.count(out(client), tf::fin, tf::fin); }
  std::size_t rsts() const { return s.link.count(tf::rst, tf::rst); }
  // When the last segment with `flags` (under `mask`) went out from `client`'s side.
  std::optional<time_point> last_sent(bool client, std::uint8_t flags, std::uint8_t mask) const {
    std::optional<time_point> t;
    for (const auto& seg : s.link.segments())
      if (seg.dir == out(client) && (seg.tcp.flags & mask) == flags) t = seg.at;
    return t;
  }
};

// One side closes first; both shut down with shutdown_send() so that their
// states stay visible through info(), then release the ids with close().
void orderly_close(bool client_first) {
  sim_pair p;
  bool first = client_first, second = !client_first;
  p.side(first).shutdown_send(p.id(first), p.s.now);
  CHECK(p.state(first) == tcp_state::fin_wait_1);
  p.s.run_for(one_way + 1ms);  // the FIN arrives
  CHECK(p.state(second) == tcp_state::close_wait);
  CHECK(p.side(second).at_eof(p.id(second)));
  CHECK(sim::has_event(p.events(second), ek::readable, p.id(second)));
  p.s.run_for(one_way);  // its ACK arrives
  CHECK(p.state(first) == tcp_state::fin_wait_2);

  p.side(second).shutdown_send(p.id(second), p.s.now);
  CHECK(p.state(second) == tcp_state::last_ack);
  p.s.run_for(one_way + 1ms);
  CHECK(p.state(first) == tcp_state::time_wait);
  CHECK(p.side(first).at_eof(p.id(first)));
  p.s.run_for(one_way);
  CHECK(p.state(second) == tcp_state::closed);
  CHECK(p.side(second).error(p.id(second)) == std::errc{});

  // Releasing the ids: the closed event comes at once for both (TIME-WAIT
  // needs no user).
  p.side(first).close(p.id(first), p.s.now);
  p.side(second).close(p.id(second), p.s.now);
  p.s.run_for(1ms);
  CHECK(sim::has_event(p.events(first), ek::closed, p.id(first)));
  CHECK(sim::has_event(p.events(second), ek::closed, p.id(second)));
  CHECK_FALSE(sim::has_event(p.events(first), ek::reset));
  CHECK_FALSE(sim::has_event(p.events(second), ek::reset));
  CHECK(p.fins(first) == 1);
  CHECK(p.fins(second) == 1);
  CHECK(p.rsts() == 0);
  CHECK(p.s.client.stats()[counter::tcp_retrans_segs] == 0);
  CHECK(p.s.server.stats()[counter::tcp_retrans_segs] == 0);
}

}  // namespace

TEST_CASE("teardown: the client closes first -> FIN-WAIT-1/2, TIME-WAIT; the server CLOSE-WAIT, LAST-ACK, CLOSED") {
  orderly_close(true);
}

TEST_CASE("teardown: the server closes first -> it holds TIME-WAIT; the client goes through LAST-ACK") {
  orderly_close(false);
}

TEST_CASE("teardown: simultaneous close -> both FINs cross, CLOSING, then TIME-WAIT on both") {
  sim_pair p;
  p.s.client.shutdown_send(p.c, p.s.now);
  p.s.server.shutdown_send(p.a, p.s.now);
  CHECK(p.state(true) == tcp_state::fin_wait_1);
  CHECK(p.state(false) == tcp_state::fin_wait_1);
  p.s.run_for(one_way + 1ms);  // each has the other's FIN, neither an ACK of its own
  CHECK(p.state(true) == tcp_state::closing);
  CHECK(p.state(false) == tcp_state::closing);
  p.s.run_for(one_way);
  CHECK(p.state(true) == tcp_state::time_wait);
  CHECK(p.state(false) == tcp_state::time_wait);
  CHECK(p.fins(true) == 1);
  CHECK(p.fins(false) == 1);
  CHECK(p.rsts() == 0);
  // Each FIN was acknowledged by the other side.
  auto ci = p.s.client.info(p.c);
  auto si = p.s.server.info(p.a);
  std::size_t acks_of_fin = 0;
  for (const auto& seg : p.s.link.segments()) {
    if (seg.dir == sim::c2s && (seg.tcp.flags & tf::ack) && seg.tcp.ack == si->iss + 2) ++acks_of_fin;
    if (seg.dir == sim::s2c && (seg.tcp.flags & tf::ack) && seg.tcp.ack == ci->iss + 2) ++acks_of_fin;
  }
  CHECK(acks_of_fin >= 2);
}

TEST_CASE("teardown: half-close -> the client's FIN first, the server keeps sending, all of it arrives") {
  transfer_spec spec;
  spec.bytes_up = 0;                        // the client shuts down at once
  spec.bytes_down = std::size_t{4} << 20;  // the server goes on writing, for longer than the checks below
  spec.delay = one_way;
  transfer_sim t({}, {}, spec);
  REQUIRE(t.establish());
  bool midway = t.drive([&] { return t.server_app.sent > (std::size_t{100} << 10); }, t.s.now + 10s);
  REQUIRE(midway);
  t.run_for(20ms);
  INFO(t.summary());
  CHECK(t.client_app.shut);
  CHECK(t.s.client.info(t.client_app.c)->state == tcp_state::fin_wait_2);
  CHECK(t.s.server.info(t.server_app.c)->state == tcp_state::close_wait);
  CHECK(t.server_app.eof);
  bool done = t.exchange();
  CHECK(done);
  CHECK(t.client_app.digest_ok());
  CHECK_FALSE(t.client_app.first_mismatch);
  CHECK(t.close_both());
  CHECK(t.s.link.count(tf::rst, tf::rst) == 0);
  // The client's FIN went out before any of the server's data.
  std::optional<time_point> fin_at, first_data_at;
  for (const auto& seg : t.s.link.segments()) {
    if (seg.dir == sim::c2s && (seg.tcp.flags & tf::fin) && !fin_at) fin_at = seg.at;
    if (seg.dir == sim::s2c && seg.payload_len > 0 && !first_data_at) first_data_at = seg.at;
  }
  REQUIRE(fin_at);
  REQUIRE(first_data_at);
  CHECK(*fin_at <= *first_data_at);
}

TEST_CASE("teardown: LAST-ACK, the FIN lost -> retransmitted on the RTO, then CLOSED") {
  sim_pair p;
  p.s.client.shutdown_send(p.c, p.s.now);
  p.s.run_for(20ms);
  REQUIRE(p.state(false) == tcp_state::close_wait);
  int fins = 0;
  p.s.link.set_filter(sim::s2c, [&](bytes f) { return io::memory_link::is_tcp(f, tf::fin, tf::fin) && fins++ == 0; });
  p.s.server.shutdown_send(p.a, p.s.now);
  p.s.run_for(100ms);
  CHECK(p.state(false) == tcp_state::last_ack);
  CHECK(p.state(true) == tcp_state::fin_wait_2);
  p.s.run_for(2s);
  INFO(segment_log(p.s.link));
  CHECK(p.fins(false) == 2);
  CHECK(p.state(false) == tcp_state::closed);
  CHECK(p.state(true) == tcp_state::time_wait);
  std::vector<time_point> fin_times;
  for (const auto& seg : p.s.link.segments())
    if (seg.dir == sim::s2c && (seg.tcp.flags & tf::fin)) fin_times.push_back(seg.at);
  REQUIRE(fin_times.size() == 2);
  // One RTO later (RTT 10 ms: the 200 ms floor plus a little, RFC 6298 2.4).
  CHECK(fin_times[1] - fin_times[0] >= p.s.server_settings.tcp_rto_min);
  CHECK(fin_times[1] - fin_times[0] <= 1s);
  CHECK(p.rsts() == 0);
}

TEST_CASE("teardown: the final ACK lost -> TIME-WAIT re-ACKs the retransmitted FIN and restarts its timer") {
  settings cs;
  cs.tcp_time_wait = 10s;
  sim_pair p(cs);
  std::uint32_t server_fin_end = p.s.server.info(p.a)->iss + 2;  // no data: FIN at ISS + 1
  p.s.client.shutdown_send(p.c, p.s.now);
  p.s.run_for(20ms);
  int lost = 0;
  p.s.link.set_filter(sim::c2s, [&](bytes f) {
    auto h = io::memory_link::tcp_of(f);
    return h && h->flags == tf::ack && h->ack == server_fin_end && lost++ == 0;
  });
  p.s.server.shutdown_send(p.a, p.s.now);
  p.s.run_for(one_way + 1ms);
  REQUIRE(p.state(true) == tcp_state::time_wait);
  p.s.run_for(2s);
  INFO(segment_log(p.s.link));
  CHECK(p.fins(false) == 2);
  CHECK(p.state(false) == tcp_state::closed);
  std::size_t acks = 0;
  for (const auto& seg : p.s.link.segments())
    if (seg.dir == sim::c2s && seg.tcp.flags == tf::ack && seg.tcp.ack == server_fin_end) ++acks;
  CHECK(acks == 2);
  // RFC 9293 3.10.7.4 (TIME-WAIT): acknowledge the retransmitted FIN and
  // restart the 2 MSL timeout (Linux tcp_timewait_state_process: TCP_TW_ACK,
  // inet_twsk_reschedule).
  auto refin = p.last_sent(false, tf::fin, tf::fin);
  REQUIRE(refin);
  time_point restarted = *refin + one_way;
  p.s.run_until(restarted + cs.tcp_time_wait - 1ms);
  CHECK(p.state(true) == tcp_state::time_wait);
  p.s.run_until(restarted + cs.tcp_time_wait + 1ms);
  CHECK(p.state(true) == tcp_state::closed);
  CHECK(p.rsts() == 0);
}

TEST_CASE("teardown: TIME-WAIT lasts tcp_time_wait, then CLOSED") {
  settings cs;
  cs.tcp_time_wait = 5s;
  sim_pair p(cs);
  p.s.client.shutdown_send(p.c, p.s.now);
  p.s.run_for(20ms);
  p.s.server.shutdown_send(p.a, p.s.now);
  p.s.run_for(20ms);
  REQUIRE(p.state(true) == tcp_state::time_wait);
  auto fin = p.last_sent(false, tf::fin, tf::fin);
  REQUIRE(fin);
  time_point entered = *fin + one_way;  // the server's FIN arrived
  p.s.run_until(entered + cs.tcp_time_wait - 1ms);
  CHECK(p.state(true) == tcp_state::time_wait);
  p.s.run_until(entered + cs.tcp_time_wait + 1ms);
  CHECK(p.state(true) == tcp_state::closed);
  CHECK(p.s.client.error(p.c) == std::errc{});
  CHECK(p.rsts() == 0);
  p.s.client.close(p.c, p.s.now);
  p.s.step();  // collects the engines' events
  CHECK(sim::has_event(p.s.client_events, ek::closed, p.c));
}

TEST_CASE("teardown: abort -> RST at SND.NXT; the peer reports connection_reset on its next recv and send") {
  sim_pair p;
  std::vector<std::uint8_t> data(1000, 7);
  REQUIRE(p.s.client.send(p.c, data, p.s.now) == 1000);
  p.s.run_for(50ms);
  std::vector<std::uint8_t> buf(2000);
  CHECK(p.s.server.recv(p.a, buf, p.s.now) == 1000);
  std::uint32_t snd_nxt = p.s.client.info(p.c)->iss + 1 + 1000;
  p.s.client.abort(p.c, p.s.now);
  CHECK_FALSE(p.s.client.info(p.c));  // the id is released at once
  p.s.run_for(50ms);
  CHECK(sim::has_event(p.s.client_events, ek::closed, p.c));
  std::size_t rsts = 0;
  for (const auto& seg : p.s.link.segments())
    if (seg.dir == sim::c2s && (seg.tcp.flags & tf::rst)) {
      ++rsts;
      CHECK(seg.tcp.seq == snd_nxt);  // Linux tcp_send_active_reset
    }
  CHECK(rsts == 1);
  auto ev = sim::find_event(p.s.server_events, ek::reset, p.a);
  REQUIRE(ev);
  CHECK(ev->error == std::errc::connection_reset);
  CHECK(p.s.server.error(p.a) == std::errc::connection_reset);
  CHECK(p.s.server.recv(p.a, buf, p.s.now) == 0);
  CHECK_FALSE(p.s.server.at_eof(p.a));  // a reset is not an orderly end of stream
  CHECK(p.s.server.send(p.a, data, p.s.now) == 0);
  CHECK(p.state(false) == tcp_state::closed);
  CHECK(p.s.client.stats()[counter::tcp_estab_resets] == 1);  // ESTABLISHED -> CLOSED by abort
  CHECK(p.s.server.stats()[counter::tcp_estab_resets] == 1);  // ESTABLISHED -> CLOSED by the RST
  CHECK(p.s.link.count(sim::s2c, tf::rst, tf::rst) == 0);     // a RST is never answered
}

TEST_CASE("teardown: data arriving after close() -> RST, the sender sees connection_reset") {
  sim_pair p;
  p.s.server.close(p.a, p.s.now);  // nothing unread: a FIN, and the id is gone
  p.s.run_for(50ms);
  REQUIRE(p.state(true) == tcp_state::close_wait);
  std::vector<std::uint8_t> data(1000, 9);
  REQUIRE(p.s.client.send(p.c, data, p.s.now) == 1000);
  p.s.run_for(50ms);
  INFO(segment_log(p.s.link));
  // Linux tcp_rcv_state_process: new data after the receive side was shut
  // down -> TCPAbortOnData and a RST (RFC 9293 3.10.7.4 leaves it to the
  // user's close; RFC 2525 2.17).
  CHECK(p.s.link.count(sim::s2c, tf::rst, tf::rst) >= 1);
  CHECK(p.s.server.stats()[counter::tcp_abort_on_data] == 1);
  auto ev = sim::find_event(p.s.client_events, ek::reset, p.c);
  REQUIRE(ev);
  CHECK(ev->error == std::errc::connection_reset);
  CHECK(p.s.client.error(p.c) == std::errc::connection_reset);
  CHECK(sim::has_event(p.s.server_events, ek::closed, p.a));
}
