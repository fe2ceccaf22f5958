// proto/tcp/active_open.cpp - connect() as Linux's tcp_v4_connect (route,
// ephemeral port, ISN, SYN) and the SYN-SENT state (RFC 9293 3.10.7.3, Linux
// tcp_rcv_synsent_state_process), simultaneous open included.
#include <algorithm>
#include <vector>

#include "proto/tcp/layer_impl.hpp"
#include "proto/tcp/seq.hpp"

namespace coronet::tcp {

namespace tf = wire::tcp_flag;

result<conn_id, std::errc> layer::impl::connect(endpoint remote, time_point now) {
  if (remote.port == 0) return std::errc::invalid_argument;
  if (!out.has_route(remote.addr)) return std::errc::network_unreachable;
  auto port = ports.pick(local, remote, cfg.ip_local_port_min, cfg.ip_local_port_max, [&](std::uint16_t p) {
    four_tuple t{local, p, remote.addr, remote.port};
    // A port bound by a listener is never used for connect (Linux bind conflict).
    return by_tuple.contains(t) || requests.contains(t) || listeners.contains(p);
  });
  if (!port) return std::errc::address_not_available;
  connection& c = new_connection({local, *port, remote.addr, remote.port}, tcp_state::syn_sent);
  c.active_open = true;
  c.iss = cfg.test_isn ? *cfg.test_isn : isn(c.tuple, now);  // RFC 6528
  c.snd_una = c.iss;
  c.snd_nxt = c.snd_max = c.iss + 1;
  send_syn(c, now);
  c.last_send = now;  // the SYN's send time: the handshake's RTT sample
  arm(c, now + backoff(0));
  stats.bump(counter::tcp_active_opens);
  return c.id;
}

void layer::impl::apply_peer_options(connection& c, const peer_syn_options& p) {
  // RFC 9293 3.7.1: the peer's MSS (536 when absent) caps what we send; our
  // own link's MSS caps it too.
  c.snd_mss = std::max<std::uint16_t>(64, std::min(p.mss, mss));
  c.rcv_mss = mss;
  // RFC 7323 2.2: scaling only when both SYNs carried the option.
  c.wscale_ok = p.wscale >= 0 && cfg.tcp_window_scaling;
  c.snd_wscale = c.wscale_ok ? std::min(p.wscale, 14) : 0;
  c.rcv_wscale = c.wscale_ok ? rcv_wscale : 0;
  c.sack_ok = p.sack && cfg.tcp_sack;
  c.ts_ok = p.ts && cfg.tcp_timestamps;
  c.ts_recent = p.ts_recent;
}

void layer::impl::syn_sent_input(connection& c, const segment_in& s, time_point now) {
  // RFC 9293 3.10.7.3. First the ACK: outside (ISS, SND.NXT] is answered with
  // <SEQ=SEG.ACK><CTL=RST> unless the segment is a RST itself.
  bool ack_ok = false;
  if (s.has(tf::ack)) {
    if (seq_leq(s.h.ack, c.iss) || seq_gt(s.h.ack, c.snd_nxt)) {
      stats.bump(drop::tcp_bad_ack);
      send_reset_reply(s, now);
      return;
    }
    ack_ok = true;
  }
  if (s.has(tf::rst)) {
    // A RST counts only with an acceptable ACK: the peer refused us.
    if (!ack_ok) {
      stats.bump(drop::tcp_rst_ignored);
      return;
    }
    stats.bump(counter::tcp_attempt_fails);
    to_closed(c, event::kind::connect_failed, std::errc::connection_refused);
    return;
  }
  if (!s.has(tf::syn)) {
    stats.bump(drop::tcp_bad_state);
    return;
  }
  c.irs = s.h.seq;
  c.rcv_nxt = s.h.seq + 1;
  apply_peer_options(c, read_syn_options(s.h, cfg));
  c.snd_wnd = s.h.window;  // RFC 7323 2.2: never scaled in a SYN
  c.snd_wl1 = s.h.seq;
  c.snd_wl2 = s.h.ack;
  c.retries = 0;
  c.rto = cfg.tcp_rto_initial;
  if (ack_ok) {
    c.snd_una = s.h.ack;
    c.state = tcp_state::established;
    disarm(c);
    on_established(c, now);
    send_ack(c, now);
    notify(c, event::kind::connected);
    if (c.fin_queued) queue_fin(c, now);  // shutdown_send() came before the handshake ended
    return;
  }
  // SYN without ACK: simultaneous open (RFC 9293 3.5, figure 8).
  c.state = tcp_state::syn_received;
  send_syn(c, now);
  arm(c, now + backoff(0));
}

void layer::impl::neighbor_failed(ipv4_addr dst, time_point) {
  // Linux: the neighbour entry failed -> EHOSTUNREACH for connects towards it.
  std::vector<connection*> victims;
  for (auto& [id, c] : conns)
    if (c->state == tcp_state::syn_sent && c->tuple.remote_addr == dst) victims.push_back(c.get());
  for (connection* c : victims) {
    stats.bump(counter::tcp_attempt_fails);
    to_closed(*c, event::kind::connect_failed, std::errc::host_unreachable);
  }
}

}  // namespace coronet::tcp
