#include "net/handshake_steps.hpp"

#include <cstdio>

#include "proto/wire/tcp.hpp"

namespace coronet::net {

void handshake_steps::print(const key& k, const flow& f, time_point now, std::string_view what) {
  const auto& [local, remote] = k;
  const endpoint& client = f.server ? remote : local;
  const endpoint& server = f.server ? local : remote;
  const double us = std::chrono::duration<double, std::micro>(now - f.t0).count();
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%10.1f us  ", us);
  out_ << client.to_string() << " > " << server.to_string() << stamp << what << '\n';
}

void handshake_steps::on_segment(direction d, time_point now, const segment_summary& s) {
  namespace f = wire::tcp_flag;
  const bool in = d == direction::in;
  const key k = in ? key{s.dst, s.src} : key{s.src, s.dst};
  const std::uint8_t kind = s.flags & (f::syn | f::ack | f::rst | f::fin);
  auto it = flows_.find(k);

  // The first SYN of a flow starts its clock (RFC 9293 3.5: SYN, SYN-ACK, ACK).
  if (kind == f::syn) {
    if (it != flows_.end()) {
      print(k, it->second, now, in ? "SYN received again" : "SYN retransmitted");
      return;
    }
    if (flows_.size() >= max_flows) return;
    flow fl{.server = in, .at = in ? stage::syn_received : stage::syn_sent, .t0 = now, .expect_ack = 0};
    it = flows_.emplace(k, fl).first;
    print(k, it->second, now, in ? "SYN received" : "SYN sent");
    return;
  }
  if (it == flows_.end()) return;
  flow& fl = it->second;

  if (s.flags & f::rst) {
    print(k, fl, now, in ? "RST received" : "RST sent");
    flows_.erase(it);
    return;
  }
  if (fl.server) {
    if (!in && kind == (f::syn | f::ack)) {
      print(k, fl, now, fl.at == stage::syn_received ? "SYN-ACK sent" : "SYN-ACK retransmitted");
      fl.at = stage::synack_sent;
      fl.expect_ack = s.seq + 1;
    } else if (in && (s.flags & f::ack) && !(s.flags & f::syn) && fl.at == stage::synack_sent &&
               s.ack == fl.expect_ack) {
      print(k, fl, now, "ACK received -> ESTABLISHED");
      fl.at = stage::established;
    }
  } else {
    if (in && kind == (f::syn | f::ack) && fl.at == stage::syn_sent) {
      print(k, fl, now, "SYN-ACK received");
      fl.at = stage::synack_received;
      fl.expect_ack = s.seq + 1;
    } else if (!in && (s.flags & f::ack) && !(s.flags & f::syn) && fl.at == stage::synack_received &&
               s.ack == fl.expect_ack) {
      print(k, fl, now, "ACK sent -> ESTABLISHED");
      fl.at = stage::established;
    }
  }
}

void handshake_steps::resumed(endpoint local, endpoint remote, time_point now, std::string_view what) {
  auto it = flows_.find(key{local, remote});
  if (it == flows_.end()) return;
  print(it->first, it->second, now, std::string(what) + " resumed");
  flows_.erase(it);
}

}  // namespace coronet::net
