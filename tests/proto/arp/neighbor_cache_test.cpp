#include "proto/arp/neighbor_cache.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace coronet;
using namespace coronet::arp;
using namespace std::chrono_literals;

namespace {

const ipv4_addr peer = make_ipv4(198, 18, 0, 7);
const ipv4_addr other = make_ipv4(198, 18, 0, 8);
const mac_addr peer_mac{{0x02, 0, 0, 0, 0, 0x07}};
const mac_addr new_mac{{0x02, 0, 0, 0, 0, 0x77}};

time_point at(duration d) { return time_point{d}; }

neighbor_limits small_limits() {
  neighbor_limits l;
  l.retrans_time = 1s;
  l.mcast_solicit = 3;
  l.reachable_time = 30s;
  l.unres_qlen = 3;
  l.pool_frames = 4;
  l.frame_capacity = 64;
  return l;
}

struct recorder : neighbor_cache::hooks {
  std::vector<ipv4_addr> requests, failures;
  std::vector<std::vector<std::uint8_t>> discards;
  void send_request(ipv4_addr ip) override { requests.push_back(ip); }
  void discarded(ipv4_addr, bytes f) override { discards.emplace_back(f.begin(), f.end()); }
  void failed(ipv4_addr ip) override { failures.push_back(ip); }
};

// Queues a one-byte frame holding `tag`; false when the cache refused it.
bool queue(neighbor_cache& c, ipv4_addr ip, std::uint8_t tag) {
  mut_bytes b = c.reserve(ip);
  if (b.empty()) return false;
  b[0] = tag;
  c.commit(ip, 1);
  return true;
}

}  // namespace

TEST_CASE("neighbor_cache: unknown address -> incomplete, one request, frames queue") {
  neighbor_cache c(small_limits());
  auto d = c.resolve(peer, at(0s));
  CHECK_FALSE(d.send_now);
  CHECK(d.send_request);
  auto again = c.resolve(peer, at(100ms));
  CHECK_FALSE(again.send_now);
  CHECK_FALSE(again.send_request);  // already asking
  auto e = c.find(peer, at(100ms));
  REQUIRE(e);
  CHECK(e->state == neigh_state::incomplete);
  CHECK_FALSE(e->mac);
  CHECK(e->probes == 1);
}

TEST_CASE("neighbor_cache: incomplete + reply -> reachable, queued frames drained in order") {
  neighbor_cache c(small_limits());
  (void)c.resolve(peer, at(0s));
  CHECK(queue(c, peer, 1));
  CHECK(queue(c, peer, 2));
  CHECK(queue(c, peer, 3));
  CHECK(c.find(peer, at(0s))->queued == 3);
  CHECK(c.pool_free() == 1);

  CHECK(c.update(peer, peer_mac, at(10ms), false));
  std::vector<std::uint8_t> order;
  c.drain(peer, [&](mut_bytes f) { order.push_back(f[0]); });
  CHECK(order == std::vector<std::uint8_t>{1, 2, 3});
  CHECK(c.pool_free() == 4);
  auto e = c.find(peer, at(10ms));
  CHECK(e->state == neigh_state::reachable);
  CHECK(e->mac == peer_mac);
  CHECK(e->queued == 0);

  auto d = c.resolve(peer, at(20ms));
  CHECK(d.send_now);
  CHECK(d.mac == peer_mac);
  CHECK_FALSE(d.send_request);
  CHECK_FALSE(c.next_deadline());
}

TEST_CASE("neighbor_cache: incomplete with unres_qlen frames -> next frame refused") {
  neighbor_cache c(small_limits());
  (void)c.resolve(peer, at(0s));
  for (std::uint8_t i = 0; i < 3; ++i) CHECK(queue(c, peer, i));
  CHECK_FALSE(queue(c, peer, 9));
}

TEST_CASE("neighbor_cache: pool exhausted across neighbours -> frame refused") {
  neighbor_cache c(small_limits());  // 4 frames in the pool
  (void)c.resolve(peer, at(0s));
  (void)c.resolve(other, at(0s));
  CHECK(queue(c, peer, 1));
  CHECK(queue(c, peer, 2));
  CHECK(queue(c, other, 3));
  CHECK(queue(c, other, 4));
  CHECK_FALSE(queue(c, other, 5));
  CHECK(c.pool_free() == 0);
}

TEST_CASE("neighbor_cache: reserve without commit -> nothing queued") {
  neighbor_cache c(small_limits());
  (void)c.resolve(peer, at(0s));
  CHECK_FALSE(c.reserve(peer).empty());
  CHECK(c.find(peer, at(0s))->queued == 0);
  CHECK(c.pool_free() == 4);
}

TEST_CASE("neighbor_cache: no answer -> request every retrans_time, failure after mcast_solicit") {
  neighbor_cache c(small_limits());
  recorder r;
  (void)c.resolve(peer, at(0s));  // request 1 (sent by the caller)
  CHECK(queue(c, peer, 1));
  CHECK(queue(c, peer, 2));
  CHECK(c.next_deadline() == at(1s));

  c.on_timer(at(999ms), r);
  CHECK(r.requests.empty());
  c.on_timer(at(1s), r);  // request 2
  CHECK(r.requests.size() == 1);
  CHECK(c.next_deadline() == at(2s));
  c.on_timer(at(2s), r);  // request 3
  CHECK(r.requests.size() == 2);
  CHECK(c.find(peer, at(2s))->probes == 3);
  CHECK(r.failures.empty());

  c.on_timer(at(3s), r);  // out of requests
  CHECK(r.requests.size() == 2);
  REQUIRE(r.failures.size() == 1);
  CHECK(r.failures[0] == peer);
  REQUIRE(r.discards.size() == 2);
  CHECK(r.discards[0][0] == 1);
  CHECK(r.discards[1][0] == 2);
  CHECK(c.find(peer, at(3s))->state == neigh_state::failed);
  CHECK(c.pool_free() == 4);
  CHECK_FALSE(c.next_deadline());
}

TEST_CASE("neighbor_cache: failed + new frame -> resolution starts over") {
  neighbor_cache c(small_limits());
  recorder r;
  (void)c.resolve(peer, at(0s));
  for (auto t : {1s, 2s, 3s}) c.on_timer(at(t), r);
  REQUIRE(c.find(peer, at(3s))->state == neigh_state::failed);
  auto d = c.resolve(peer, at(5s));
  CHECK_FALSE(d.send_now);
  CHECK(d.send_request);
  CHECK(c.find(peer, at(5s))->state == neigh_state::incomplete);
  CHECK(c.next_deadline() == at(6s));
}

TEST_CASE("neighbor_cache: ARP from unknown sender -> added only when we are the target") {
  neighbor_cache c(small_limits());
  CHECK_FALSE(c.update(peer, peer_mac, at(0s), false));
  CHECK_FALSE(c.find(peer, at(0s)));
  CHECK(c.update(peer, peer_mac, at(0s), true));
  CHECK(c.find(peer, at(0s))->state == neigh_state::reachable);
}

TEST_CASE("neighbor_cache: reachable + ARP with a new MAC -> MAC replaced (merge)") {
  neighbor_cache c(small_limits());
  CHECK(c.update(peer, peer_mac, at(0s), true));
  CHECK(c.update(peer, new_mac, at(1s), false));
  CHECK(c.resolve(peer, at(2s)).mac == new_mac);
}

TEST_CASE("neighbor_cache: reachable past its lifetime -> old MAC used while one request re-probes") {
  neighbor_cache c(small_limits());
  recorder r;
  CHECK(c.update(peer, peer_mac, at(0s), true));
  CHECK(c.find(peer, at(30s))->state == neigh_state::stale);
  auto d = c.resolve(peer, at(30s));
  CHECK(d.send_now);
  CHECK(d.mac == peer_mac);
  CHECK(d.send_request);
  auto d2 = c.resolve(peer, at(30s + 1ms));
  CHECK(d2.send_now);
  CHECK_FALSE(d2.send_request);
  CHECK(c.find(peer, at(30s))->state == neigh_state::probe);

  CHECK(c.update(peer, peer_mac, at(30s + 5ms), false));  // the answer
  CHECK(c.find(peer, at(31s))->state == neigh_state::reachable);
  CHECK_FALSE(c.next_deadline());
}

TEST_CASE("neighbor_cache: probe unanswered -> entry fails") {
  neighbor_cache c(small_limits());
  recorder r;
  CHECK(c.update(peer, peer_mac, at(0s), true));
  (void)c.resolve(peer, at(30s));
  for (auto t : {31s, 32s, 33s}) c.on_timer(at(t), r);
  CHECK(r.requests.size() == 2);
  CHECK(r.failures.size() == 1);
  CHECK(r.discards.empty());
  CHECK(c.find(peer, at(33s))->state == neigh_state::failed);
}

TEST_CASE("neighbor_cache: limits from settings follow the sysctls") {
  settings s;
  s.neigh_retrans_time = settings::ms(250);
  s.neigh_mcast_solicit = 5;
  s.neigh_unres_qlen = 7;
  auto l = neighbor_limits::from(s, 1514);
  CHECK(l.retrans_time == 250ms);
  CHECK(l.mcast_solicit == 5);
  CHECK(l.unres_qlen == 7);
  CHECK(l.reachable_time == 30s);
  CHECK(l.frame_capacity == 1514);
  CHECK(l.pool_frames >= 14);
}
