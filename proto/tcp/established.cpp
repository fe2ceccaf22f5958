// proto/tcp/established.cpp - segments in the synchronized states (RFC 9293
// 3.10.7.4, Linux tcp_rcv_state_process / tcp_validate_incoming): sequence
// check, RST and SYN with RFC 5961's challenge ACKs, ACK processing, in-order
// data into the receive ring, FIN; and send()/recv() with the RTO.
#include <algorithm>

#include "proto/tcp/layer_impl.hpp"
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
}  // namespace

void layer::impl::sync_input(connection& c, const segment_in& s, time_point now) {
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
  auto rcv_wnd = static_cast<std::uint32_t>(c.rcvbuf.free());
  if (!acceptable(s.h.seq, s.seg_len, c.rcv_nxt, rcv_wnd)) {
    if (s.has(tf::rst)) {
      stats.bump(drop::tcp_rst_ignored);
      return;
    }
    // RFC 9293 3.10.7.4: a retransmitted FIN in TIME-WAIT restarts the 2 MSL
    // timer; every unacceptable segment is answered with an ACK (this is the
    // re-ACK of the FIN, or of a SYN-ACK whose ACK was lost).
    if (c.state == tcp_state::time_wait && s.has(tf::fin)) arm(c, now + cfg.tcp_time_wait);
    stats.bump(drop::tcp_out_of_window);
    send_ack(c, now);
    return;
  }
  if (s.has(tf::rst)) {
    if (s.h.seq != c.rcv_nxt) {
      send_challenge_ack(c, now);  // RFC 5961 3.2: in window but not exact
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
    return;
  }
  if (!s.has(tf::ack)) {
    stats.bump(drop::tcp_bad_state);
    return;
  }
  // RFC 7323 4.3: remember the peer's TSval from in-sequence segments.
  if (c.ts_ok && s.h.options.timestamps && seq_leq(s.h.seq, c.rcv_nxt))
    c.ts_recent = s.h.options.timestamps->tsval;
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
    notify(c, event::kind::connected);
    if (c.fin_queued) queue_fin(c, now);
  }
  if (!process_ack(c, s, now)) return;
  bool ack_now = false;
  if (!process_data(c, s, now, ack_now)) return;
  if (ack_now) send_ack(c, now);
  transmit(c, now);
}

bool layer::impl::process_ack(connection& c, const segment_in& s, time_point now) {
  std::uint32_t ack = s.h.ack;
  if (seq_gt(ack, c.snd_max)) {
    // RFC 9293 3.10.7.4: an ACK for something not yet sent -> ACK, drop.
    stats.bump(drop::tcp_bad_ack);
    send_ack(c, now);
    return false;
  }
  if (seq_lt(ack, c.snd_una)) return true;  // an old duplicate: ignore the ACK field
  if (seq_gt(ack, c.snd_una)) {
    std::uint32_t acked = ack - c.snd_una;
    std::size_t data = std::min<std::size_t>(acked, c.sndbuf.size());
    c.sndbuf.consume(data);
    c.snd_una = ack;
    if (seq_lt(c.snd_nxt, c.snd_una)) c.snd_nxt = c.snd_una;
    c.retries = 0;
    c.rto = cfg.tcp_rto_initial;
    // RFC 6298 5.2 / 5.3: stop the timer when all is acknowledged, else restart.
    if (c.snd_una == c.snd_max)
      disarm(c);
    else
      arm(c, now + c.rto);
    if (c.send_blocked && c.sndbuf.free() > 0 && !c.fin_queued) {
      c.send_blocked = false;
      notify(c, event::kind::writable);
    }
  }
  // RFC 9293 3.10.7.4: update the send window from newer segments only.
  if (seq_lt(c.snd_wl1, s.h.seq) || (c.snd_wl1 == s.h.seq && seq_leq(c.snd_wl2, ack))) {
    c.snd_wnd = static_cast<std::uint32_t>(s.h.window) << c.snd_wscale;
    c.snd_wl1 = s.h.seq;
    c.snd_wl2 = ack;
  }
  if (c.fin_acked()) {
    switch (c.state) {
      case tcp_state::fin_wait_1:
        c.state = tcp_state::fin_wait_2;
        // Linux tcp_fin_timeout: an orphan does not wait forever for the FIN.
        if (c.released) arm(c, now + cfg.tcp_fin_timeout);
        break;
      case tcp_state::closing:
        enter_time_wait(c, now);
        break;
      case tcp_state::last_ack:
        to_closed(c, std::nullopt);
        return false;
      default:
        break;
    }
  }
  return true;
}

bool layer::impl::process_data(connection& c, const segment_in& s, time_point now, bool& ack_now) {
  bool receiving = c.state == tcp_state::established || c.state == tcp_state::fin_wait_1 ||
                   c.state == tcp_state::fin_wait_2;
  if (!receiving) return true;  // RFC 9293: after a FIN, text is ignored
  std::uint32_t seq = s.h.seq;
  bytes p = s.payload;
  if (!p.empty()) {
    if (c.released) {
      // Linux tcp_rcv_state_process: new data for a closed socket -> RST.
      send_rst(c, now);
      to_closed(c, std::nullopt);
      return false;
    }
    ack_now = true;
    if (seq_lt(seq, c.rcv_nxt)) {  // trim what we already have
      std::uint32_t skip = c.rcv_nxt - seq;
      p = skip >= p.size() ? bytes{} : p.subspan(skip);
      seq = c.rcv_nxt;
    }
    if (!p.empty()) {
      if (seq != c.rcv_nxt) {
        // Out of order: not queued yet (no reassembly); the duplicate ACK
        // tells the peer where the hole is.
        stats.bump(drop::tcp_out_of_window);
        return true;
      }
      // Accepted even when larger than our MSS (TSO super-frames) as long as
      // it fits the buffer; what does not fit is dropped.
      std::size_t n = c.rcvbuf.write(p);
      c.rcv_nxt += static_cast<std::uint32_t>(n);
      c.bytes_received += n;
      if (n) notify(c, event::kind::readable);
      if (n < p.size()) {
        stats.bump(drop::tcp_out_of_window);
        return true;  // a FIN behind the dropped bytes is not reached either
      }
    }
  }
  if (s.has(tf::fin) && s.h.seq + static_cast<std::uint32_t>(s.payload.size()) == c.rcv_nxt) {
    c.rcv_nxt += 1;
    c.fin_received = true;
    ack_now = true;
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
  return c.state != tcp_state::closed;
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
  if (n) window_update(*c, now);
  return n;
}

void layer::impl::retransmit_timer(connection& c, time_point now) {
  if (c.snd_una == c.snd_max && c.sndbuf.empty()) return;  // nothing in flight or waiting
  if (c.retries >= cfg.tcp_retries2) {
    // Linux tcp_write_timeout: give up with ETIMEDOUT.
    to_closed(c, event::kind::reset, std::errc::timed_out);
    return;
  }
  ++c.retries;
  stats.bump(counter::tcp_timeouts);
  // RFC 6298 5.5-5.6: back off, then resend from SND.UNA (one segment now,
  // the rest as ACKs come back).
  c.rto = std::min<duration>(c.rto * 2, cfg.tcp_rto_max);
  c.snd_nxt = c.snd_una;
  arm(c, now + c.rto);
  transmit(c, now, true);
}

}  // namespace coronet::tcp
