// tests/proto/tcp/tcp_rig.hpp - drives tcp::layer without the engine shell:
// a host records every segment its layer emits and every event it reports;
// a pair wires two hosts back to back with a fake clock and a loss filter.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <vector>

#include "proto/tcp/layer.hpp"
#include "proto/wire/tcp.hpp"

namespace coronet::test {

namespace tf = wire::tcp_flag;
using namespace std::chrono_literals;

inline constexpr ipv4_addr client_addr = make_ipv4(198, 18, 0, 1);
inline constexpr ipv4_addr server_addr = make_ipv4(198, 18, 0, 2);

inline time_point at(duration d) { return time_point{d}; }

struct seg_record {
  ipv4_addr src, dst;
  wire::tcp_header h;
  std::vector<std::uint8_t> data;
  bool has(std::uint8_t f) const { return (h.flags & f) != 0; }
  bool is(std::uint8_t f) const { return h.flags == f; }
};

struct recording_output : tcp::ip_output {
  ipv4_addr self;
  std::vector<seg_record> segs;
  int refuse = 0;  // refuse this many sends (TX ring full)
  bool route = true;
  bool send_segment(ipv4_addr dst, const wire::tcp_header& h, bytes p1, bytes p2, time_point) override {
    if (refuse > 0) {
      --refuse;
      return false;
    }
    seg_record r{self, dst, h, {}};
    r.data.assign(p1.begin(), p1.end());
    r.data.insert(r.data.end(), p2.begin(), p2.end());
    segs.push_back(std::move(r));
    return true;
  }
  // The fast transmit writes the segment itself: read it back through the
  // real parser (checksum included) and record it like the others.
  std::vector<std::uint8_t> slot;
  ipv4_addr slot_dst;
  mut_bytes reserve_segment(ipv4_addr dst, std::size_t len, time_point) override {
    if (refuse > 0) {
      --refuse;
      return {};
    }
    slot.assign(len, 0xa5);
    slot_dst = dst;
    return slot;
  }
  void commit_segment(std::size_t len) override {
    REQUIRE(len == slot.size());
    auto v = wire::tcp_view::parse(slot, self, slot_dst);
    REQUIRE(v.has_value());
    seg_record r{self, slot_dst, v->header(), {}};
    r.data.assign(v->payload().begin(), v->payload().end());
    segs.push_back(std::move(r));
  }
  bool has_route(ipv4_addr) const override { return route; }
};

struct recording_events : tcp::event_sink {
  std::vector<event> evs;
  void push(const event& e) override { evs.push_back(e); }
};

struct tcp_host {
  settings cfg;
  counters stats;
  recording_output out;
  recording_events ev;
  tcp::layer L;

  tcp_host(ipv4_addr addr, const settings& s = {}, std::uint64_t seed = 7, std::uint16_t mss = 1460)
      : cfg(s), L(cfg, addr, mss, seed, stats, out, ev) {
    out.self = addr;
  }

  // Hands the layer a segment from `from`, through the real wire format.
  void inject(ipv4_addr from, const wire::tcp_header& h, bytes payload, time_point now) {
    std::vector<std::uint8_t> buf(wire::tcp_header_len(h) + payload.size());
    std::size_t n = wire::emit(h, payload, from, out.self, buf);
    REQUIRE(n == buf.size());
    auto v = wire::tcp_view::parse(buf, from, out.self);
    REQUIRE(v.has_value());
    wire::ipv4_header ip;
    ip.src = from;
    ip.dst = out.self;
    ip.proto = 6;
    ip.payload_len = static_cast<std::uint16_t>(n);
    L.on_segment(ip, *v, now);
  }
  void deliver(const seg_record& r, time_point now) { inject(r.src, r.h, r.data, now); }

  std::vector<seg_record> take() { return std::exchange(out.segs, {}); }
  void fire(time_point now) {
    if (auto d = L.next_deadline(); d && *d <= now) L.on_timer(now);
  }
  std::size_t count(event::kind k, std::optional<conn_id> c = {}) const {
    return static_cast<std::size_t>(std::count_if(ev.evs.begin(), ev.evs.end(), [&](const event& e) {
      return e.what == k && (!c || e.conn == *c);
    }));
  }
  std::optional<event> find(event::kind k, std::optional<conn_id> c = {}) const {
    for (const auto& e : ev.evs)
      if (e.what == k && (!c || e.conn == *c)) return e;
    return std::nullopt;
  }
};

// A segment template from the peer: change only what matters.
inline wire::tcp_header seg(std::uint16_t sport, std::uint16_t dport, std::uint8_t flags, std::uint32_t seq,
                            std::uint32_t ack = 0, std::uint16_t window = 65535) {
  wire::tcp_header h;
  h.src_port = sport;
  h.dst_port = dport;
  h.flags = flags;
  h.seq = seq;
  h.ack = ack;
  h.window = window;
  return h;
}

// Two layers back to back. `lose` decides, per segment, whether the wire eats it.
struct tcp_pair {
  time_point now{};
  tcp_host client, server;
  std::function<bool(const seg_record&)> lose;
  std::vector<seg_record> log;  // every segment put on the wire, lost or not

  explicit tcp_pair(const settings& cs = {}, const settings& ss = {}, std::uint64_t cseed = 1,
                    std::uint64_t sseed = 2)
      : client(client_addr, cs, cseed), server(server_addr, ss, sseed) {}

  void pump() {
    for (int round = 0; round < 100000; ++round) {
      auto a = client.take();
      auto b = server.take();
      if (a.empty() && b.empty()) return;
      for (auto& r : a) {
        log.push_back(r);
        if (!lose || !lose(r)) server.deliver(r, now);
      }
      for (auto& r : b) {
        log.push_back(r);
        if (!lose || !lose(r)) client.deliver(r, now);
      }
    }
    FAIL("tcp_pair::pump: segments without end");
  }
  // Advances the clock to `t`, firing every deadline on the way.
  void run_until(time_point t) {
    for (int i = 0; i < 100000; ++i) {
      pump();
      std::optional<time_point> next;
      for (auto d : {client.L.next_deadline(), server.L.next_deadline()})
        if (d && (!next || *d < *next)) next = d;
      if (!next || *next > t) {
        now = std::max(now, t);
        client.fire(now);
        server.fire(now);
        pump();
        return;
      }
      now = std::max(now, *next);
      client.fire(now);
      server.fire(now);
    }
    FAIL("tcp_pair::run_until: livelock");
  }
  void run_for(duration d) { run_until(now + d); }

  std::size_t count_log(std::uint8_t flags, ipv4_addr src) const {
    return static_cast<std::size_t>(
        std::count_if(log.begin(), log.end(), [&](const seg_record& r) { return r.src == src && r.is(flags); }));
  }

  // listen + connect + handshake; returns (client id, server id).
  std::pair<conn_id, conn_id> establish(std::uint16_t port = 80) {
    auto l = server.L.listen(port, 16);
    REQUIRE(l.has_value());
    auto c = client.L.connect({server_addr, port}, now);
    REQUIRE(c.has_value());
    pump();
    auto a = server.L.accept(*l);
    REQUIRE(a.has_value());
    REQUIRE(client.count(event::kind::connected, *c) == 1);
    return {*c, *a};
  }
};

inline std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t seed = 0) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 7 + seed + (i >> 8));
  return v;
}

}  // namespace coronet::test
