// proto/tcp/established.cpp - segments in the synchronized states (RFC 9293
// 3.10.7.4, Linux tcp_rcv_state_process / tcp_validate_incoming): PAWS,
// sequence check, RST and SYN with RFC 5961's challenge ACKs, then the ACK
// (ack.cpp) and the data: in order into the receive ring, out of order into
// the ring at its offset (Linux's ofo queue, RFC 9293 3.10.7.4 "seventh"),
// SACK and D-SACK blocks, delayed ACKs; and send()/recv().
#include <algorithm>

#include "proto/tcp/layer_impl.hpp"
#include "proto/tcp/layer_steps.hpp"
#include "proto/tcp/seq.hpp"

namespace coronet::tcp {

namespace tf = wire::tcp_flag;

namespace {
// RFC 9293 3.10.7.4, first check: the four cases of segment acceptability.
bool acceptable(std::uint32_t seq, std::uint32_t len, std::uint32_t rcv_nxt, std::uint32_t wnd) {
  if (len == 0) return wnd == 0 ? seq == rcv_nxt : seq_in(seq, rcv_nxt, rcv_nxt + wnd);
  if (wnd == 0) return false;
  return seq_in(seq, rcv_nxt, rcv_nxt + wnd) || seq_in(seq + len - 1, rcv_nxt, rcv_nxt + wnd);
}

// RFC 7323 5.5: TS.Recent older than 24 days no longer rejects segments.
constexpr auto paws_idle = std::chrono::hours(24 * 24);
}  // namespace

void layer::impl::sync_input(connection& c, const segment_in& s, time_point now) {
  if (fast_paths && predicted(c, s)) return fast_input(c, s, now);  // fast_path.cpp
  ++c.st.segs_in;
  // Linux tcp_timewait_state_process: a new SYN above RCV.NXT may reuse a
  // TIME-WAIT tuple when a listener wants it.
  if (c.state == tcp_state::time_wait && s.has(tf::syn) && !s.has(tf::ack) && !s.has(tf::rst) &&
      seq_gt(s.h.seq, c.rcv_nxt)) {
    auto lit = listeners.find(c.tuple.local_port);
    if (lit != listeners.end()) {
      stats.bump(counter::tcp_time_wait_reused);
      to_closed(c, std::nullopt);
      conn_request(lit->second, s, now);
      return;
    }
  }
  // RFC 7323 5.3 R1 (Linux tcp_paws_discard): a segment whose TSval is older
  // than TS.Recent is an old duplicate; RSTs are exempt (Linux accepts them).
  if (c.ts_ok && s.h.options.timestamps && !s.has(tf::rst) && seq_lt(s.h.options.timestamps->tsval, c.ts_recent) &&
      now - c.ts_recent_at <= paws_idle) {
    stats.bump(drop::tcp_paws_estab);
    if (s.has(tf::syn)) {
      send_challenge_ack(c, now);
    } else if (!s.payload.empty() || oow_allowed(c, now)) {
      send_ack(c, now);
    } else {
      stats.bump(counter::tcp_ack_skipped_seq);
    }
    rearm(c);
    return;
  }
  std::uint32_t adv = seq_gt(c.rcv_adv, c.rcv_nxt) ? c.rcv_adv - c.rcv_nxt : 0;
  auto rcv_wnd = std::max(adv, static_cast<std::uint32_t>(std::min<std::size_t>(c.rcvbuf.free(), 0x7fffffff)));
  if (!acceptable(s.h.seq, s.seg_len, c.rcv_nxt, rcv_wnd)) {
    if (s.has(tf::rst)) {
      stats.bump(drop::tcp_rst_ignored);  // RFC 5961 3.2: outside the window, silently
      return;
    }
    // RFC 9293 3.10.7.4: a retransmitted FIN in TIME-WAIT restarts the 2 MSL
    // timer; every unacceptable segment is answered with an ACK (this is the
    // re-ACK of the FIN, or of a SYN-ACK whose ACK was lost).
    if (c.state == tcp_state::time_wait && s.has(tf::fin)) arm(c, now + cfg.tcp_time_wait);
    stats.bump(drop::tcp_out_of_window);
    if (s.has(tf::syn)) {
      send_challenge_ack(c, now);  // RFC 5961 4.2
    } else if (!s.payload.empty() || s.has(tf::fin)) {
      // Old data: a duplicate the peer retransmitted; tell it with D-SACK (RFC 2883).
      std::uint32_t end = s.h.seq + static_cast<std::uint32_t>(s.payload.size());
      if (!s.payload.empty() && seq_leq(end, c.rcv_nxt) && c.sack_ok && cfg.tcp_dsack) {
        c.dsack = seq_range{s.h.seq, end};
        stats.bump(counter::tcp_dsack_old_sent);
      }
      send_ack(c, now);
    } else if (oow_allowed(c, now)) {
      send_ack(c, now);  // Linux tcp_send_dupack, rate limited for pure ACKs
    } else {
      stats.bump(counter::tcp_ack_skipped_seq);
    }
    rearm(c);
    return;
  }
  if (s.has(tf::rst)) {
    if (s.h.seq != c.rcv_nxt) {
      send_challenge_ack(c, now);  // RFC 5961 3.2: in window but not exact
      rearm(c);
      return;
    }
    switch (c.state) {
      case tcp_state::syn_received:  // our SYN was refused (simultaneous open)
        stats.bump(counter::tcp_attempt_fails);
        to_closed(c, event::kind::connect_failed, std::errc::connection_refused);
        return;
      case tcp_state::time_wait:
        to_closed(c, std::nullopt);
        return;
      case tcp_state::established: case tcp_state::close_wait:
        stats.bump(counter::tcp_estab_resets);  // RFC 1213 tcpEstabResets
        [[fallthrough]];
      default:
        to_closed(c, event::kind::reset, std::errc::connection_reset);
        return;
    }
  }
  if (s.has(tf::syn)) {
    if (c.state == tcp_state::syn_received && s.h.seq == c.irs) {
      send_syn(c, now);  // the peer's SYN again: our SYN-ACK was lost
      return;
    }
    send_challenge_ack(c, now);  // RFC 5961 4.2
    rearm(c);
    return;
  }
  if (!s.has(tf::ack)) {
    stats.bump(drop::tcp_bad_state);
    return;
  }
  c.last_recv = now;
  c.keepalive_probes_out = 0;
  // RFC 7323 4.3: TS.Recent follows segments that cover Last.ACK.sent.
  if (c.ts_ok && s.h.options.timestamps && seq_leq(s.h.seq, c.last_ack_sent) &&
      seq_geq(s.h.options.timestamps->tsval, c.ts_recent)) {
    c.ts_recent = s.h.options.timestamps->tsval;
    c.ts_recent_at = now;
  }
  if (c.state == tcp_state::syn_received) {
    if (!(seq_gt(s.h.ack, c.snd_una) && seq_leq(s.h.ack, c.snd_nxt))) {
      stats.bump(drop::tcp_bad_ack);
      send_reset_reply(s, now);
      return;
    }
    c.state = tcp_state::established;
    c.snd_una = c.iss + 1;
    c.snd_wnd = static_cast<std::uint32_t>(s.h.window) << c.snd_wscale;
    c.snd_wl1 = s.h.seq;
    c.snd_wl2 = s.h.ack;
    c.retries = 0;
    disarm(c);
    on_established(c, now);
    notify(c, event::kind::connected);
    if (c.fin_queued) queue_fin(c, now);
  }
  if (!process_ack(c, s, now)) return;
  bool ack_now = false;
  if (!process_data(c, s, now, ack_now)) return;
  finish_input(c, ack_now, now);
}

std::uint32_t layer::impl::quickack_quota(const connection& c) const {
  // Linux tcp_incr_quickack: enough to open the sender's window, at most TCP_MAX_QUICKACKS.
  auto quota = static_cast<std::uint32_t>(c.rcvbuf.capacity() / (2 * std::max<std::uint32_t>(c.rcv_mss, 1)));
  return std::clamp<std::uint32_t>(quota, 2, static_cast<std::uint32_t>(cfg.tcp_quickacks));
}

void layer::impl::on_established(connection& c, time_point now) {
  c.cc = make_congestion_control(cfg.tcp_congestion_control, static_cast<std::uint32_t>(cfg.tcp_init_cwnd));
  if (!c.cc) c.cc = make_congestion_control("cubic", static_cast<std::uint32_t>(cfg.tcp_init_cwnd));
  c.rtt = rtt_estimator(cfg.tcp_rto_initial, cfg.tcp_rto_min, cfg.tcp_rto_max);
  // The SYN's round trip is the first sample when it was not retransmitted
  // (Karn; Linux tcp_synack_rtt_meas / tcp_ack_update_rtt on the SYN).
  if (c.active_open && !c.syn_retransmitted) c.rtt.sample(now - c.last_send);
  c.rto = c.rtt.rto();
  c.max_snd_wnd = std::max(c.max_snd_wnd, c.snd_wnd);
  // What our SYN (or SYN-ACK of a simultaneous open) offered, unscaled.
  if (c.active_open) c.rcv_adv = c.rcv_nxt + static_cast<std::uint32_t>(std::min<std::size_t>(c.rcvbuf.free(), 65535));
  c.fack = c.snd_una;
  c.last_ack_sent = c.rcv_nxt;
  c.rcv_mss_seen = std::min<std::uint32_t>(536, c.rcv_mss);
  c.quickacks = quickack_quota(c);  // quick-ACK mode at the start, as Linux
  c.last_recv = now;
  if (c.keepalive) c.keepalive_at = now + cfg.tcp_keepalive_time;
}

bool layer::impl::process_data(connection& c, const segment_in& s, time_point now, bool& ack_now) {
  bool receiving = c.state == tcp_state::established || c.state == tcp_state::fin_wait_1 ||
                   c.state == tcp_state::fin_wait_2;
  if (!receiving) return true;  // RFC 9293: after a FIN, text is ignored
  std::uint32_t seq = s.h.seq;
  bytes p = s.payload;
  bool truncated = false;
  if (!p.empty()) {
    ++c.st.data_segs_in;
    std::uint32_t end = seq + static_cast<std::uint32_t>(p.size());
    if (c.released && seq_gt(end, c.rcv_nxt)) {
      // Linux tcp_rcv_state_process: new data for a socket closed for
      // reading -> RST (TCPAbortOnData); RFC 9293 3.10.7.4 leaves it open.
      stats.bump(counter::tcp_abort_on_data);
      send_rst(c, now);
      to_closed(c, std::nullopt);
      return false;
    }
    // Linux tcp_measure_rcv_mss: the largest segment seen is "full-sized".
    c.rcv_mss_seen = std::max<std::uint32_t>(c.rcv_mss_seen, std::min<std::uint32_t>(
                                                                 static_cast<std::uint32_t>(p.size()), c.rcv_mss));
    c.ack_pending = true;
    if (seq_leq(end, c.rcv_nxt)) {
      // All of it is here already: a retransmission. ACK at once with D-SACK.
      ++c.st.dup_segs_in;
      if (c.sack_ok && cfg.tcp_dsack) {
        c.dsack = seq_range{seq, end};
        stats.bump(counter::tcp_dsack_old_sent);
      }
      c.quickacks = std::max(c.quickacks, quickack_quota(c));
      ack_now = true;
      p = {};
    } else {
      if (seq_lt(seq, c.rcv_nxt)) {  // overlaps what we have: trim the front
        std::uint32_t skip = c.rcv_nxt - seq;
        if (c.sack_ok && cfg.tcp_dsack) {
          c.dsack = seq_range{seq, c.rcv_nxt};
          stats.bump(counter::tcp_dsack_old_sent);
        }
        p = p.subspan(skip);
        seq = c.rcv_nxt;
      }
      // What the ring can take from RCV.NXT on (out-of-order bytes sit inside it).
      std::size_t room = c.rcvbuf.free();
      std::size_t off = seq - c.rcv_nxt;
      if (off >= room) {
        stats.bump(drop::tcp_rcvbuf_full);
        ack_now = true;
        return true;
      }
      if (p.size() > room - off) {
        p = p.first(room - off);
        stats.bump(drop::tcp_rcvbuf_full);
        truncated = true;
      }
      if (off == 0) {
        bool filled = queue_in_order(c, p);
        notify(c, event::kind::readable);
        // RFC 5681 4.2 / Linux __tcp_ack_snd_check: ACK at once when a hole
        // closed, in quick-ACK mode, or after more than one full segment.
        if (filled || !c.ofo.empty() || c.quickacks > 0 || c.rcv_nxt - c.last_ack_sent > c.rcv_mss_seen)
          ack_now = true;
      } else {
        queue_out_of_order(c, seq, p);
        c.quickacks = std::max(c.quickacks, quickack_quota(c));
        ack_now = true;  // RFC 5681 4.2: a duplicate ACK at once for out-of-order data
      }
    }
  }
  if (s.has(tf::fin) && !truncated && !c.fin_received) {
    std::uint32_t fin_seq = s.h.seq + static_cast<std::uint32_t>(s.payload.size());
    if (seq_gt(fin_seq, c.rcv_nxt)) c.ofo_fin = fin_seq;  // behind a hole: wait for it
    c.ack_pending = true;
    ack_now = true;
  }
  if (c.ofo_fin && *c.ofo_fin == c.rcv_nxt && !c.fin_received) {
    receive_fin(c, now);
    ack_now = true;
  } else if (s.has(tf::fin) && !truncated && !c.fin_received &&
             s.h.seq + static_cast<std::uint32_t>(s.payload.size()) == c.rcv_nxt) {
    receive_fin(c, now);
    ack_now = true;
  }
  return c.state != tcp_state::closed;
}

bool layer::impl::queue_in_order(connection& c, bytes p) {
  c.rcvbuf.write_at(0, p);
  std::uint32_t nxt = c.rcv_nxt + static_cast<std::uint32_t>(p.size());
  bool filled = false;
  // Out-of-order ranges the new bytes reach become readable too.
  while (!c.ofo.empty() && seq_leq(c.ofo.front().start, nxt)) {
    nxt = seq_max(nxt, c.ofo.front().end);
    c.ofo.pop_front();
    stats.bump(counter::tcp_ofo_merge);
    filled = true;
  }
  std::uint32_t n = nxt - c.rcv_nxt;
  c.rcvbuf.commit(n);
  c.rcv_nxt = nxt;
  c.bytes_received += n;
  trim_sack_blocks(c);
  return filled;
}

void layer::impl::queue_out_of_order(connection& c, std::uint32_t seq, bytes p) {
  std::uint32_t end = seq + static_cast<std::uint32_t>(p.size());
  if (c.ofo.covers(seq, end)) {  // a duplicate of held data
    ++c.st.dup_segs_in;
    if (c.sack_ok && cfg.tcp_dsack) {
      c.dsack = seq_range{seq, end};
      stats.bump(counter::tcp_dsack_ofo_sent);
    }
    return;
  }
  auto merged = c.ofo.add(seq, end);
  if (!merged) {
    stats.bump(drop::tcp_ofo_full);  // the sender repairs it as a loss
    return;
  }
  c.rcvbuf.write_at(seq - c.rcv_nxt, p);
  ++c.st.ofo_segs;
  stats.bump(counter::tcp_ofo_queue);
  note_sack_block(c, *merged);
}

void layer::impl::note_sack_block(connection& c, seq_range r) {
  // RFC 2018 4: the block with the newest segment first, then the others
  // most recent first; blocks merged into it disappear.
  std::array<seq_range, 4> next{};
  std::uint8_t n = 0;
  next[n++] = r;
  for (std::uint8_t i = 0; i < c.sack_recent_n && n < next.size(); ++i) {
    const seq_range& o = c.sack_recent[i];
    if (!r.contains(o.start, o.end)) next[n++] = o;
  }
  c.sack_recent = next;
  c.sack_recent_n = n;
}

void layer::impl::trim_sack_blocks(connection& c) {
  std::uint8_t n = 0;
  for (std::uint8_t i = 0; i < c.sack_recent_n; ++i)
    if (seq_gt(c.sack_recent[i].end, c.rcv_nxt) && c.ofo.covers(c.sack_recent[i].start, c.sack_recent[i].end))
      c.sack_recent[n++] = c.sack_recent[i];
  c.sack_recent_n = n;
}

void layer::impl::receive_fin(connection& c, time_point now) {
  c.rcv_nxt += 1;
  c.fin_received = true;
  c.ofo_fin.reset();
  c.ack_pending = true;
  notify(c, event::kind::readable);
  switch (c.state) {
    case tcp_state::established:
      c.state = tcp_state::close_wait;
      break;
    case tcp_state::fin_wait_1:
      if (c.fin_acked())
        enter_time_wait(c, now);
      else
        c.state = tcp_state::closing;  // simultaneous close
      break;
    case tcp_state::fin_wait_2:
      enter_time_wait(c, now);
      break;
    default:
      break;
  }
}

std::size_t layer::impl::send(conn_id id, bytes data, time_point now) {
  connection* c = find(id);
  if (!c || c->fin_queued || (c->state != tcp_state::established && c->state != tcp_state::close_wait))
    return 0;
  std::size_t n = c->sndbuf.write(data);
  if (n < data.size()) c->send_blocked = true;
  if (n) transmit(*c, now);
  return n;
}

std::size_t layer::impl::recv(conn_id id, mut_bytes buf, time_point now) {
  connection* c = find(id);
  if (!c) return 0;
  std::size_t n = c->rcvbuf.read(buf);
  if (c->ofo.empty()) c->rcvbuf.restart_if_empty();  // out-of-order bytes sit at fixed offsets
  if (n) window_update(*c, now);
  return n;
}

}  // namespace coronet::tcp
