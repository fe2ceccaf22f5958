// tests/proto/sim.hpp - two engines joined by an in-memory link, driven by a
// fake clock: the harness for handshake and ARP scenarios.
//
//   sim s;                                   // client 198.18.0.1, server 198.18.0.2, t = 0
//   auto l = s.server.listen(80, 16);
//   auto c = s.connect(s.server_ep(80));     // client.connect at s.now
//   s.run_for(10ms);
//   CHECK(s.has_event(s.client_events, event::kind::connected, *c));
//
// By default both engines know each other's MAC before the test starts
// (prime_arp), so the first frame on the link is the test's own.
// run_until() jumps from one deadline to the next (either engine's
// next_deadline() or the link's next delivery) and fails the test through
// doctest's FAIL after `max_steps` jumps instead of hanging.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "io/memory_link.hpp"
#include "proto/engine.hpp"
#include "proto/wire/arp.hpp"
#include "proto/wire/ethernet.hpp"

namespace coronet::test {

inline interface_config sim_client_iface() {
  interface_config c;
  c.mac = mac_addr{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
  c.addr = make_ipv4(198, 18, 0, 1);
  c.prefix_len = 24;
  return c;
}

inline interface_config sim_server_iface() {
  interface_config c;
  c.mac = mac_addr{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
  c.addr = make_ipv4(198, 18, 0, 2);
  c.prefix_len = 24;
  return c;
}

struct sim {
  static constexpr io::link_dir c2s = io::link_dir::a_to_b;  // client -> server
  static constexpr io::link_dir s2c = io::link_dir::b_to_a;  // server -> client

  // Declared before the engines, which are built from them.
  settings client_settings, server_settings;
  interface_config client_if, server_if;
  engine client, server;
  io::memory_link link;
  time_point now{};
  std::vector<event> client_events, server_events;
  int max_steps = 100000;  // jumps per run_until before it is called a livelock

  explicit sim(const settings& cs = {}, const settings& ss = {}, std::uint64_t client_seed = 1,
               std::uint64_t server_seed = 2, std::uint64_t link_seed = 3, bool prime_arp = true,
               const interface_config& cif = sim_client_iface(),
               const interface_config& sif = sim_server_iface())
      : client_settings(cs),
        server_settings(ss),
        client_if(cif),
        server_if(sif),
        client(client_settings, client_if, client_seed),
        server(server_settings, server_if, server_seed),
        link(link_seed),
        client_buf_(client_if.mtu + 14u),
        server_buf_(server_if.mtu + 14u) {
    if (prime_arp) prime_neighbors();
  }

  // Teaches each engine the other's MAC without using the link, so the link's
  // counters and drop_next() see only what the test does. (The entries are
  // reachable for neigh_base_reachable_time; after that one ARP request
  // re-probes, while frames keep flowing.)
  void prime_neighbors() {
    std::vector<std::uint8_t> req(14 + wire::arp_packet_len);
    wire::emit(wire::ethernet_header{mac_addr::broadcast(), client_if.mac,
                                     static_cast<std::uint16_t>(wire::ethertype::arp)},
               req);
    wire::emit(wire::arp_packet{wire::arp_op::request, client_if.mac, client_if.addr, mac_addr{}, server_if.addr},
               mut_bytes(req).subspan(14));
    server.on_frame(req, now);  // the server learns the client, and answers
    std::size_t n = server.next_frame(server_buf_, now);
    REQUIRE(n > 0);
    client.on_frame(bytes(server_buf_.data(), n), now);  // the client learns the server
  }

  endpoint server_ep(std::uint16_t port) const { return endpoint{server_if.addr, port}; }
  endpoint client_ep(std::uint16_t port) const { return endpoint{client_if.addr, port}; }
  result<conn_id, std::errc> connect(endpoint remote) { return client.connect(remote, now); }

  // Earliest timer of either engine or link delivery.
  std::optional<time_point> next_wakeup() const {
    std::optional<time_point> t;
    auto take = [&t](std::optional<time_point> x) {
      if (x && (!t || *x < *t)) t = x;
    };
    take(client.next_deadline());
    take(server.next_deadline());
    take(link.next_delivery());
    return t;
  }

  // Does everything due at `now`: fires due timers, moves frames from both
  // engines onto the link and delivers the frames due, until nothing moves.
  void step() {
    for (int i = 0; i < max_steps; ++i) {
      fire_timer(client);
      fire_timer(server);
      bool moved = pump(client, client_buf_, c2s);
      moved |= pump(server, server_buf_, s2c);
      moved |= deliver(c2s, server);
      moved |= deliver(s2c, client);
      collect();
      if (!moved) return;
    }
    FAIL("sim::step: frames still moving after max_steps rounds at t=" << now.time_since_epoch().count());
  }

  // Runs the clock forward to `t`, stopping at every deadline on the way.
  void run_until(time_point t) {
    for (int i = 0; i < max_steps; ++i) {
      step();
      auto next = next_wakeup();
      if (!next || *next > t) {
        if (now < t) {
          now = t;
          step();
        }
        return;
      }
      now = std::max(now, *next);
    }
    FAIL("sim::run_until: livelock, more than max_steps deadlines before t="
         << t.time_since_epoch().count() << " (now=" << now.time_since_epoch().count() << ")");
  }
  void run_for(duration d) { run_until(now + d); }
  template <class Rep, class Period>
  void run_for(std::chrono::duration<Rep, Period> d) {
    run_for(std::chrono::duration_cast<duration>(d));
  }
  template <class Rep, class Period>
  void run_until(std::chrono::duration<Rep, Period> since_zero) {
    run_until(time_point{std::chrono::duration_cast<duration>(since_zero)});
  }

  // Event helpers.
  static std::size_t count_events(const std::vector<event>& evs, event::kind k) {
    return static_cast<std::size_t>(
        std::count_if(evs.begin(), evs.end(), [k](const event& e) { return e.what == k; }));
  }
  static bool has_event(const std::vector<event>& evs, event::kind k, std::optional<conn_id> c = {}) {
    return std::any_of(evs.begin(), evs.end(),
                       [&](const event& e) { return e.what == k && (!c || e.conn == *c); });
  }
  static std::optional<event> find_event(const std::vector<event>& evs, event::kind k,
                                         std::optional<conn_id> c = {}) {
    for (const auto& e : evs) {
      if (e.what == k && (!c || e.conn == *c)) return e;
    }
    return std::nullopt;
  }

 private:
  void fire_timer(engine& e) {
    auto d = e.next_deadline();
    if (d && *d <= now) e.on_timer(now);
  }
  bool pump(engine& e, std::vector<std::uint8_t>& buf, io::link_dir d) {
    bool moved = false;
    for (int i = 0; i < max_steps; ++i) {
      std::size_t n = e.next_frame(buf, now);
      if (n == 0) return moved;
      link.send(d, bytes(buf.data(), n), now);
      moved = true;
    }
    FAIL("sim::pump: engine emits frames without end");
    return moved;
  }
  bool deliver(io::link_dir d, engine& to) {
    bool moved = false;
    while (link.pop(d, now, rx_buf_)) {
      to.on_frame(rx_buf_, now);
      moved = true;
    }
    return moved;
  }
  void collect() {
    while (auto e = client.next_event()) client_events.push_back(*e);
    while (auto e = server.next_event()) server_events.push_back(*e);
  }

  std::vector<std::uint8_t> client_buf_, server_buf_, rx_buf_;
};

}  // namespace coronet::test
