// proto/tcp/timers.cpp - a connection's timers. Linux keeps one
// retransmission timer whose purpose changes (icsk_pending: RTO, loss probe,
// RACK reorder timeout, zero-window probe) next to the delayed-ACK and
// keepalive timers; here each connection has those deadlines and one slot in
// the layer's timer heap holding the earliest of them.
#include <algorithm>

#include "proto/tcp/layer_impl.hpp"
#include "proto/tcp/seq.hpp"

namespace coronet::tcp {

void layer::impl::disarm_all(connection& c) {
  c.xmit_at = c.misc_at = c.delack_at = c.keepalive_at = no_deadline;
  c.xt = xmit_timer::none;
  c.timer.deadline = no_deadline;
}

void layer::impl::conn_timer(connection& c, time_point now) {
  // Each handler may close (and free) the connection: look it up again after each.
  const conn_id id = c.id;
  auto alive = [&]() -> connection* {
    auto it = conns.find(id);
    return it == conns.end() || it->second->state == tcp_state::closed ? nullptr : it->second.get();
  };
  if (c.misc_at <= now) {
    c.misc_at = no_deadline;
    misc_timer(c, now);
  }
  connection* p = alive();
  if (p && p->xmit_at <= now) {
    p->xmit_at = no_deadline;
    xmit_timer_fired(*p, now);
    p = alive();
  }
  if (p && p->delack_at <= now) {
    p->delack_at = no_deadline;
    delack_fired(*p, now);
    p = alive();
  }
  if (p && p->keepalive_at <= now) {
    p->keepalive_at = no_deadline;
    keepalive_fired(*p, now);
    p = alive();
  }
  if (p) rearm(*p);
}

void layer::impl::misc_timer(connection& c, time_point now) {
  switch (c.state) {
    case tcp_state::syn_sent: case tcp_state::syn_received: {
      int limit = c.state == tcp_state::syn_sent ? cfg.tcp_syn_retries : cfg.tcp_synack_retries;
      stats.bump(counter::tcp_timeouts);
      if (c.retries >= limit) {
        // Linux tcp_write_timeout: the handshake gives up with ETIMEDOUT.
        stats.bump(counter::tcp_attempt_fails);
        to_closed(c, event::kind::connect_failed, std::errc::timed_out);
        return;
      }
      ++c.retries;
      stats.bump(counter::tcp_synack_retrans);  // TCPSynRetrans counts SYNs and SYN-ACKs
      stats.bump(counter::tcp_retrans_segs);
      c.syn_retransmitted = true;
      send_syn(c, now);
      arm(c, now + backoff(c.retries));  // RFC 6298 5.5: 1 s, 2 s, 4 s ... apart
      return;
    }
    case tcp_state::fin_wait_2:
      if (c.released) to_closed(c, std::nullopt);  // tcp_fin_timeout for orphans
      return;
    case tcp_state::time_wait:
      to_closed(c, std::nullopt);
      return;
    default:
      return;
  }
}

void layer::impl::xmit_timer_fired(connection& c, time_point now) {
  xmit_timer kind = c.xt;
  c.xt = xmit_timer::none;
  switch (kind) {
    case xmit_timer::rto: rto_fired(c, now); return;
    case xmit_timer::tlp: tlp_fired(c, now); return;
    case xmit_timer::persist: persist_fired(c, now); return;
    case xmit_timer::reorder: {
      // Linux tcp_rack_reo_timeout: segments whose reordering window ran out are lost.
      std::uint32_t prior = c.in_flight();
      rack_detect_loss(c, now);
      if (c.lost_out > 0 && (c.ca == ca_state::open || c.ca == ca_state::disorder)) enter_recovery(c, prior, now);
      transmit(c, now);
      if (c.xt == xmit_timer::none) rearm_xmit(c, now);
      return;
    }
    case xmit_timer::none:
      return;
  }
}

void layer::impl::abort_timed_out(connection& c) {
  // Linux tcp_write_err after tcp_write_timeout: ETIMEDOUT on the socket.
  stats.bump(counter::tcp_abort_on_timeout);
  if (c.state == tcp_state::established || c.state == tcp_state::close_wait) stats.bump(counter::tcp_estab_resets);
  to_closed(c, event::kind::reset, std::errc::timed_out);
}

void layer::impl::rto_fired(connection& c, time_point now) {
  if (c.txq.empty()) return;
  if (c.txq.size() == 1 && c.txq.front().has(tx_seg::probe) && c.snd_wnd == 0) {
    // The window probe went unanswered or was refused: probe again (RFC 9293 3.8.6.1).
    persist_fired(c, now);
    return;
  }
  if (c.retries >= cfg.tcp_retries2) {
    abort_timed_out(c);
    return;
  }
  ++c.retries;
  ++c.st.rto_expiries;
  stats.bump(counter::tcp_timeouts);
  // RFC 5681 3.1 / RFC 6298 5.5-5.7, Linux tcp_enter_loss: the window
  // collapses to one segment, every segment not SACKed counts as lost and is
  // resent in order while slow start reopens the window.
  // Linux tcp_enter_loss: a new ssthresh only when the RTO starts a new
  // episode (not during recovery's reduced window, nor on a backed-off repeat).
  bool first = c.ca == ca_state::open || c.ca == ca_state::disorder || (c.ca == ca_state::loss && c.snd_una == c.high_seq);
  if (c.cc) c.cc->on_rto(c.in_flight(), first, now);
  c.ca = ca_state::loss;
  c.high_seq = c.snd_max;
  c.lost_out = c.retrans_out = 0;
  if (!c.sack_ok) c.sacked_out = 0;  // Linux tcp_reset_reno_sack: the dupack count starts over
  for (std::size_t i = 0; i < c.txq.size(); ++i) {
    tx_seg& r = c.txq[i];
    r.flags &= static_cast<std::uint8_t>(~(tx_seg::retrans | tx_seg::lost));
    if (!r.has(tx_seg::sacked)) {
      r.flags |= tx_seg::lost;
      ++c.lost_out;
    }
  }
  c.retrans_hint = 0;
  c.dupacks = 0;
  c.tlp_out = false;
  c.rto = std::min<duration>(c.rto * 2, cfg.tcp_rto_max);  // RFC 6298 5.5: back off
  c.xt = xmit_timer::rto;
  c.xmit_at = now + c.rto;
  transmit(c, now);
}

void layer::impl::tlp_fired(connection& c, time_point now) {
  // RFC 8985 7.3: send one new segment if the window allows, else the last one again.
  if (c.txq.empty()) return;
  ++c.st.tlp_probes;
  stats.bump(counter::tcp_loss_probes);
  std::uint32_t off = c.snd_nxt - c.snd_una;
  std::size_t avail = c.sndbuf.size() > off ? c.sndbuf.size() - off : 0;
  std::uint32_t wnd_end = c.snd_una + c.snd_wnd;
  std::uint32_t usable = seq_lt(c.snd_nxt, wnd_end) ? wnd_end - c.snd_nxt : 0;
  std::uint32_t len = std::min<std::uint32_t>({static_cast<std::uint32_t>(std::min<std::size_t>(avail, 0xffffffff)),
                                               usable, eff_mss(c)});
  bool sent = false;
  if (len > 0) {
    bool fin = c.fin_queued && off + len == c.sndbuf.size();
    sent = send_new_segment(c, len, fin, now);
  }
  if (!sent) {
    std::size_t last = c.txq.size() - 1;
    if (!c.txq[last].has(tx_seg::sacked)) sent = retransmit_record(c, last, now);
  }
  c.tlp_out = true;
  c.tlp_end = c.snd_max;
  c.xt = xmit_timer::rto;  // RFC 8985 7.3: after the probe, the RTO
  c.xmit_at = now + c.rto;
}

void layer::impl::persist_fired(connection& c, time_point now) {
  std::uint32_t off = c.snd_nxt - c.snd_una;
  bool waiting = c.sndbuf.size() > off || (c.fin_queued && !seq_gt(c.snd_max, c.fin_seq));
  if (!waiting && c.txq.empty()) return;
  if (c.snd_wnd > 0 && c.txq.empty()) {
    // The window is open but too small for the sender's SWS rule: the RFC 9293
    // 3.8.6.2.1 override timeout sends what fits.
    c.sws_override = true;
    transmit(c, now);
    c.sws_override = false;
    if (c.xt == xmit_timer::none) rearm_xmit(c, now);
    return;
  }
  // Linux tcp_probe_timer: give up after tcp_retries2 probes the peer never answered.
  if (c.probes >= static_cast<std::uint32_t>(cfg.tcp_retries2)) {
    abort_timed_out(c);
    return;
  }
  ++c.probes;
  send_window_probe(c, now);
  // Linux tcp_probe0_when: the RTO, backed off per unanswered probe.
  duration when = c.rtt.rto();
  for (std::uint32_t i = 0; i < c.probes && when < cfg.tcp_rto_max; ++i) when *= 2;
  c.xt = xmit_timer::persist;
  c.xmit_at = now + std::min<duration>(when, cfg.tcp_rto_max);
}

void layer::impl::delack_fired(connection& c, time_point now) {
  if (!c.ack_pending) return;
  stats.bump(counter::tcp_delayed_acks);
  send_ack(c, now);
}

void layer::impl::keepalive_fired(connection& c, time_point now) {
  if (!c.keepalive || (c.state != tcp_state::established && c.state != tcp_state::close_wait &&
                       c.state != tcp_state::fin_wait_2))
    return;
  // Linux tcp_keepalive_timer: no probes while data is in flight (the RTO
  // covers it); idle time counts from the last segment received.
  if (!c.txq.empty()) {
    c.keepalive_at = now + cfg.tcp_keepalive_intvl;
    return;
  }
  time_point idle_end = c.last_recv + cfg.tcp_keepalive_time;
  if (now < idle_end) {
    c.keepalive_at = idle_end;
    return;
  }
  if (c.keepalive_probes_out >= cfg.tcp_keepalive_probes) {
    // Linux tcp_keepalive_timer: tcp_send_active_reset, then tcp_write_err.
    // A peer that is alive but was cut off for a while hears that the
    // connection is gone instead of keeping its half open (unlike the RTO's
    // give-up, tcp_write_timeout, which sends nothing).
    send_rst(c, now);
    abort_timed_out(c);
    return;
  }
  ++c.keepalive_probes_out;
  stats.bump(counter::tcp_keepalive);
  send_keepalive(c, now);
  c.keepalive_at = now + cfg.tcp_keepalive_intvl;
}

}  // namespace coronet::tcp
