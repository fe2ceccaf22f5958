#include <doctest/doctest.h>

#include <set>

#include "proto/tcp/ports.hpp"
#include "tcp_rig.hpp"

using namespace coronet;
using namespace coronet::test;

TEST_CASE("ports: connects get distinct ports within ip_local_port_range") {
  tcp_host h(client_addr);
  std::set<std::uint16_t> seen;
  for (int i = 0; i < 200; ++i) {
    auto c = h.L.connect({server_addr, 80}, at(0s));
    REQUIRE(c.has_value());
    auto port = h.L.info(*c)->local.port;
    CHECK(port >= 32768);
    CHECK(port <= 60999);
    seen.insert(port);
  }
  CHECK(seen.size() == 200);
}

TEST_CASE("ports: a narrowed range is honoured, exhaustion -> address_not_available") {
  settings s;
  s.ip_local_port_min = 50000;
  s.ip_local_port_max = 50002;
  tcp_host h(client_addr, s);
  std::set<std::uint16_t> seen;
  for (int i = 0; i < 3; ++i) {
    auto c = h.L.connect({server_addr, 80}, at(0s));
    REQUIRE(c.has_value());
    seen.insert(h.L.info(*c)->local.port);
  }
  CHECK(seen == std::set<std::uint16_t>{50000, 50001, 50002});
  auto full = h.L.connect({server_addr, 80}, at(0s));
  REQUIRE_FALSE(full.has_value());
  CHECK(full.error() == std::errc::address_not_available);
  // Linux reuses a local port towards a different remote.
  CHECK(h.L.connect({server_addr, 81}, at(0s)).has_value());
  CHECK(h.L.connect({make_ipv4(198, 18, 0, 3), 80}, at(0s)).has_value());
}

TEST_CASE("ports: a port in use is skipped; a freed one comes back") {
  settings s;
  s.ip_local_port_min = 50000;
  s.ip_local_port_max = 50001;
  tcp_host h(client_addr, s);
  auto a = h.L.connect({server_addr, 80}, at(0s));
  auto b = h.L.connect({server_addr, 80}, at(0s));
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(h.L.info(*a)->local.port != h.L.info(*b)->local.port);
  auto port_a = h.L.info(*a)->local.port;
  h.L.close(*a, at(0s));  // SYN-SENT: closed at once
  auto c = h.L.connect({server_addr, 80}, at(0s));
  REQUIRE(c.has_value());
  CHECK(h.L.info(*c)->local.port == port_a);
}

TEST_CASE("ports: a listening port is never chosen for connect") {
  settings s;
  s.ip_local_port_min = 50000;
  s.ip_local_port_max = 50001;
  tcp_host h(client_addr, s);
  REQUIRE(h.L.listen(50000, 4).has_value());
  auto c = h.L.connect({server_addr, 80}, at(0s));
  REQUIRE(c.has_value());
  CHECK(h.L.info(*c)->local.port == 50001);
}

TEST_CASE("ports: the start is keyed, not sequential from the range's bottom") {
  tcp::port_allocator a(1), b(2);
  auto never = [](std::uint16_t) { return false; };
  auto pa = a.pick(client_addr, {server_addr, 80}, 32768, 60999, never);
  auto pb = b.pick(client_addr, {server_addr, 80}, 32768, 60999, never);
  REQUIRE(pa);
  REQUIRE(pb);
  CHECK(*pa != *pb);
}

TEST_CASE("connect: no route -> network_unreachable") {
  tcp_host h(client_addr);
  h.out.route = false;
  auto c = h.L.connect({make_ipv4(198, 19, 0, 1), 80}, at(0s));
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error() == std::errc::network_unreachable);
}
