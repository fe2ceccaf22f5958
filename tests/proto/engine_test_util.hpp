// tests/proto/engine_test_util.hpp - what the engine-shell tests share: the
// two hosts' addresses, the engine's interface, draining its TX frames and
// reading an ICMP echo back out of one.
#pragma once

#include <optional>
#include <vector>

#include "proto/engine.hpp"
#include "proto/wire/ethernet.hpp"
#include "proto/wire/icmp.hpp"
#include "proto/wire/ipv4.hpp"

namespace coronet::test {

using frame = std::vector<std::uint8_t>;

inline const mac_addr our_mac{{0x02, 0, 0, 0, 0, 0x02}};
inline const ipv4_addr our_ip = make_ipv4(198, 18, 0, 2);
inline const mac_addr peer_mac{{0x02, 0, 0, 0, 0, 0x01}};
inline const ipv4_addr peer_ip = make_ipv4(198, 18, 0, 1);

inline time_point at(duration d) { return time_point{d}; }

inline interface_config our_iface(std::optional<ipv4_addr> gateway = {}) {
  interface_config c;
  c.mac = our_mac;
  c.addr = our_ip;
  c.prefix_len = 24;
  c.gateway = gateway;
  return c;
}

// Every frame the engine has queued, in order.
inline std::vector<frame> drain(engine& e, time_point now = {}) {
  std::vector<frame> out;
  frame buf(e.iface().mtu + 14u);
  for (int i = 0; i < 10000; ++i) {
    std::size_t n = e.next_frame(buf, now);
    if (n == 0) break;
    out.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return out;
}

struct echo_seen {
  wire::ethernet_header eth;
  wire::ipv4_header ip;
  wire::icmp_type type;
  std::uint16_t id, seq;
  frame data;
};

// The ICMP echo (request or reply) in `f`, or nullopt.
inline std::optional<echo_seen> as_echo(const frame& f) {
  auto eth = wire::ethernet_view::parse(f);
  if (!eth || eth->header().type != 0x0800) return std::nullopt;
  auto ip = wire::ipv4_view::parse(eth->payload());
  if (!ip || ip->header().proto != 1) return std::nullopt;
  auto m = wire::parse_icmp_echo(ip->payload());
  if (!m) return std::nullopt;
  return echo_seen{eth->header(), ip->header(), m->type, m->id, m->seq, frame(m->data.begin(), m->data.end())};
}

}  // namespace coronet::test
