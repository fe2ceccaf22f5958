// The engine shell between two engines on the simulated link: ARP on the
// wire, the handshake through the shell, neighbour failure reaching TCP.
#include <doctest/doctest.h>

#include "proto/engine.hpp"
#include "proto/wire/tcp.hpp"
#include "tests/proto/sim.hpp"

using namespace coronet;
using namespace std::chrono_literals;

TEST_CASE("sim: connect to a listener -> one ARP exchange, then SYN and SYN-ACK") {
  test::sim s({}, {}, 1, 2, 3, /*prime_arp=*/false);
  auto l = s.server.listen(80, 16);
  REQUIRE(l);
  auto c = s.connect(s.server_ep(80));
  REQUIRE(c);
  s.run_for(10ms);
  namespace tf = wire::tcp_flag;
  CHECK(s.link.count_arp(test::sim::c2s, 1) == 1);  // the client asks for the server
  CHECK(s.link.count_arp(test::sim::s2c, 2) == 1);  // the server answers
  CHECK(s.link.count_arp(test::sim::s2c, 1) == 0);  // and learned the client from the request
  CHECK(s.link.count(test::sim::c2s, tf::syn) == 1);
  CHECK(s.link.count(test::sim::s2c, tf::syn | tf::ack) == 1);
  CHECK(s.client.stats()[drop::neighbor_unresolved] == 0);
}

TEST_CASE("sim: primed neighbours -> the SYN is the first frame on the link") {
  test::sim s;
  auto l = s.server.listen(80, 16);
  REQUIRE(l);
  REQUIRE(s.connect(s.server_ep(80)));
  s.run_for(10ms);
  CHECK(s.link.count_arp(test::sim::c2s, 1) == 0);
  CHECK(s.link.count_arp(test::sim::s2c, 1) == 0);
  REQUIRE_FALSE(s.link.segments().empty());
  CHECK(s.link.segments()[0].tcp.flags == wire::tcp_flag::syn);
  CHECK(s.link.segments()[0].at == time_point{});
}

TEST_CASE("sim: handshake through the shell -> client connected, server accepts") {
  test::sim s;
  auto l = s.server.listen(80, 16);
  REQUIRE(l);
  auto c = s.connect(s.server_ep(80));
  REQUIRE(c);
  s.run_for(10ms);
  CHECK(s.has_event(s.client_events, event::kind::connected, *c));
  CHECK(s.has_event(s.server_events, event::kind::acceptable));
  CHECK(s.server.accept(*l));
  CHECK(s.client.stats().total_drops() == 0);
  CHECK(s.server.stats().total_drops() == 0);
}

TEST_CASE("sim: connect to an address nobody answers -> ARP retried, connect fails with host_unreachable") {
  settings cs;
  cs.neigh_retrans_time = settings::ms(1000);
  cs.neigh_mcast_solicit = 3;
  test::sim s(cs);
  auto c = s.connect(endpoint{make_ipv4(198, 18, 0, 9), 80});
  REQUIRE(c);
  s.run_until(2500ms);
  CHECK(s.link.count_arp(test::sim::c2s, 1) == 3);  // at 0 s, 1 s and 2 s
  CHECK_FALSE(s.has_event(s.client_events, event::kind::connect_failed, *c));
  s.run_until(3s);
  CHECK(s.link.count_arp(test::sim::c2s, 1) == 3);
  auto ev = s.find_event(s.client_events, event::kind::connect_failed, *c);
  REQUIRE(ev);
  CHECK(ev->error == std::errc::host_unreachable);
  CHECK(s.client.stats()[drop::neighbor_unresolved] >= 1);
  CHECK(s.server.stats()[drop::arp_not_for_us] == 3);
}
