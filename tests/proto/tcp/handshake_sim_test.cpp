// Two engines on the in-memory link (tests/proto/sim.hpp): the handshake and
// its failure modes with the real shell, ARP and IPv4 in the path.
#include <doctest/doctest.h>

#include "proto/wire/tcp.hpp"
#include "../sim.hpp"

using namespace coronet;
using namespace coronet::test;
using namespace std::chrono_literals;
namespace tf = wire::tcp_flag;
using ek = event::kind;

TEST_CASE("sim: listen + connect -> connected on the client, acceptable on the server") {
  sim s;
  auto l = s.server.listen(80, 16);
  REQUIRE(l);
  auto c = s.connect(s.server_ep(80));
  REQUIRE(c);
  s.run_for(10ms);
  CHECK(sim::has_event(s.client_events, ek::connected, *c));
  CHECK(sim::count_events(s.server_events, ek::acceptable) == 1);
  auto a = s.server.accept(*l);
  REQUIRE(a);
  CHECK(s.server.info(*a)->state == tcp_state::established);
  CHECK(s.link.count(tf::syn) == 1);
  CHECK(s.link.count(tf::syn | tf::ack) == 1);
  CHECK(s.server.stats()[counter::tcp_passive_opens] == 1);
  CHECK(s.client.stats()[counter::tcp_active_opens] == 1);
}

TEST_CASE("sim SYN-SENT: SYN lost twice -> resent at 1 s and 3 s, established after") {
  sim s;
  REQUIRE(s.server.listen(80, 16));
  s.link.drop_next(sim::c2s, 2);
  auto c = s.connect(s.server_ep(80));
  s.run_until(999ms);
  CHECK(s.link.count(sim::c2s, tf::syn) == 1);
  s.run_until(1s);
  CHECK(s.link.count(sim::c2s, tf::syn) == 2);
  s.run_until(2999ms);
  CHECK(s.link.count(sim::c2s, tf::syn) == 2);
  CHECK_FALSE(sim::has_event(s.client_events, ek::connected));
  s.run_until(3s);
  CHECK(s.link.count(sim::c2s, tf::syn) == 3);
  CHECK(sim::has_event(s.client_events, ek::connected, *c));
}

TEST_CASE("sim SYN-RECEIVED: SYN-ACK lost -> retransmitted, then established") {
  sim s;
  auto l = s.server.listen(80, 16);
  s.link.drop_next(sim::s2c, 1);
  auto c = s.connect(s.server_ep(80));
  s.run_until(999ms);
  CHECK_FALSE(sim::has_event(s.client_events, ek::connected));
  s.run_until(1100ms);
  CHECK(s.link.count(sim::s2c, tf::syn | tf::ack) >= 2);
  CHECK(sim::has_event(s.client_events, ek::connected, *c));
  CHECK(s.server.accept(*l));
}

TEST_CASE("sim SYN-RECEIVED: final ACK lost -> the SYN-ACK retransmit is re-ACKed, server accepts") {
  sim s;
  auto l = s.server.listen(80, 16);
  auto c = s.connect(s.server_ep(80));
  s.link.set_filter(sim::c2s, [n = 0](bytes f) mutable {
    return io::memory_link::is_tcp(f, tf::ack) && n++ == 0;  // the first bare ACK
  });
  s.run_until(500ms);
  CHECK(sim::has_event(s.client_events, ek::connected, *c));
  CHECK_FALSE(s.server.accept(*l));
  s.run_until(1100ms);
  CHECK(s.link.count(sim::s2c, tf::syn | tf::ack) == 2);
  CHECK(s.server.accept(*l));
}

TEST_CASE("sim SYN-RECEIVED: no ACK ever -> entry expires after the 5th retry, at 63 s") {
  settings cs;
  cs.tcp_syn_retries = 0;  // the client gives up at 1 s and stays quiet
  sim s(cs);
  REQUIRE(s.server.listen(80, 16));
  s.link.set_filter(sim::s2c, [](bytes) { return true; });
  REQUIRE(s.connect(s.server_ep(80)));
  s.run_until(62900ms);
  CHECK(s.server.stats()[counter::tcp_req_expired] == 0);
  s.run_until(63s);
  CHECK(s.server.stats()[counter::tcp_req_expired] == 1);
  CHECK(s.link.count(sim::s2c, tf::syn | tf::ack) == 6);
  s.run_until(200s);
  CHECK(s.link.count(sim::s2c, tf::syn | tf::ack) == 6);
}

TEST_CASE("sim CLOSED: connect to a port nobody listens on -> connection_refused") {
  sim s;
  auto c = s.connect(s.server_ep(81));
  s.run_for(10ms);
  auto e = sim::find_event(s.client_events, ek::connect_failed, *c);
  REQUIRE(e);
  CHECK(e->error == std::errc::connection_refused);
  CHECK(s.link.count(sim::s2c, tf::rst | tf::ack) == 1);
}

TEST_CASE("sim SYN-SENT: no answer -> timed_out at 127 s with the defaults") {
  sim s;
  // Every TCP frame from the client is lost; ARP still works.
  s.link.set_filter(sim::c2s, [](bytes f) { return io::memory_link::is_tcp(f, 0, 0); });
  auto c = s.connect(s.server_ep(80));
  s.run_until(126900ms);
  CHECK_FALSE(sim::has_event(s.client_events, ek::connect_failed));
  s.run_until(127s);
  auto e = sim::find_event(s.client_events, ek::connect_failed, *c);
  REQUIRE(e);
  CHECK(e->error == std::errc::timed_out);
  CHECK(s.link.count(sim::c2s, tf::syn) == 7);
}

TEST_CASE("sim SYN-SENT: tcp_syn_retries=3 -> timed_out at 15 s") {
  settings cs;
  cs.tcp_syn_retries = 3;
  sim s(cs);
  // Every TCP frame from the client is lost; ARP still works.
  s.link.set_filter(sim::c2s, [](bytes f) { return io::memory_link::is_tcp(f, 0, 0); });
  auto c = s.connect(s.server_ep(80));
  s.run_until(14900ms);
  CHECK_FALSE(sim::has_event(s.client_events, ek::connect_failed));
  s.run_until(15s);
  CHECK(sim::find_event(s.client_events, ek::connect_failed, *c)->error == std::errc::timed_out);
}

TEST_CASE("sim: options negotiated each way, and omitted when disabled on either side") {
  SUBCASE("all on") {
    sim s;
    REQUIRE(s.server.listen(80, 16));
    auto c = s.connect(s.server_ep(80));
    s.run_for(10ms);
    auto i = s.client.info(*c);
    CHECK(i->timestamps);
    CHECK(i->sack_permitted);
    CHECK(i->snd_wscale >= 0);
    CHECK(i->snd_mss == 1460);
    for (auto& seg : s.link.segments())
      if (seg.tcp.flags & tf::syn) {
        CHECK(seg.tcp.options.timestamps);
        CHECK(seg.tcp.options.window_scale);
        CHECK(seg.tcp.options.sack_permitted);
      }
  }
  for (int side = 0; side < 2; ++side) {
    CAPTURE(side);
    settings off;
    off.tcp_timestamps = false;
    off.tcp_sack = false;
    off.tcp_window_scaling = false;
    sim s(side == 0 ? off : settings{}, side == 0 ? settings{} : off);
    REQUIRE(s.server.listen(80, 16));
    auto c = s.connect(s.server_ep(80));
    s.run_for(10ms);
    REQUIRE(sim::has_event(s.client_events, ek::connected, *c));
    auto i = s.client.info(*c);
    CHECK_FALSE(i->timestamps);
    CHECK_FALSE(i->sack_permitted);
    CHECK(i->snd_wscale == -1);
    for (auto& seg : s.link.segments())
      if ((seg.tcp.flags & tf::syn) && seg.dir == (side == 0 ? sim::c2s : sim::s2c)) {
        CHECK_FALSE(seg.tcp.options.timestamps);
        CHECK_FALSE(seg.tcp.options.window_scale);
        CHECK_FALSE(seg.tcp.options.sack_permitted);
      }
  }
}

TEST_CASE("sim SYN-SENT: ARP gets no answer -> connect_failed, host_unreachable") {
  sim s;
  auto c = s.client.connect(endpoint{make_ipv4(198, 18, 0, 77), 80}, s.now);
  REQUIRE(c);
  s.run_for(30s);
  auto e = sim::find_event(s.client_events, ek::connect_failed, *c);
  REQUIRE(e);
  CHECK(e->error == std::errc::host_unreachable);
}

TEST_CASE("sim ESTABLISHED: 60 KB each way over a link losing 5% -> intact, then FIN both ways") {
  sim s;
  auto l = s.server.listen(80, 16);
  auto c = s.connect(s.server_ep(80));
  s.run_for(10ms);
  auto a = s.server.accept(*l);
  REQUIRE(a);
  s.link.set_loss(sim::c2s, 0.05);
  s.link.set_loss(sim::s2c, 0.05);
  std::vector<std::uint8_t> up(60000), down(60000);
  for (std::size_t i = 0; i < up.size(); ++i) {
    up[i] = static_cast<std::uint8_t>(i * 13 + 1);
    down[i] = static_cast<std::uint8_t>(i * 7 + 3);
  }
  std::vector<std::uint8_t> got_up, got_down;
  std::size_t sent_up = 0, sent_down = 0;
  std::uint8_t buf[4096];
  for (int i = 0; i < 20000 && (got_up.size() < up.size() || got_down.size() < down.size()); ++i) {
    sent_up += s.client.send(*c, bytes(up).subspan(sent_up), s.now);
    sent_down += s.server.send(*a, bytes(down).subspan(sent_down), s.now);
    s.run_for(50ms);
    for (std::size_t n; (n = s.server.recv(*a, buf, s.now)) > 0;) got_up.insert(got_up.end(), buf, buf + n);
    for (std::size_t n; (n = s.client.recv(*c, buf, s.now)) > 0;) got_down.insert(got_down.end(), buf, buf + n);
  }
  CHECK(got_up == up);
  CHECK(got_down == down);
  s.link.set_loss(sim::c2s, 0);
  s.link.set_loss(sim::s2c, 0);
  s.client.close(*c, s.now);
  s.run_for(10s);
  CHECK(s.server.at_eof(*a));
  s.server.close(*a, s.now);
  s.run_for(10s);
  CHECK(sim::has_event(s.server_events, ek::closed, *a));
  CHECK(sim::has_event(s.client_events, ek::closed, *c));
}
