// proto/tcp/output.cpp - building segments: headers, options, windows, and the
// data path's transmit loop that sends straight from the send ring.
#include <algorithm>
#include <chrono>
#include <limits>

#include "proto/tcp/layer_impl.hpp"
#include "proto/tcp/seq.hpp"

namespace coronet::tcp {

namespace tf = wire::tcp_flag;

int wscale_for(std::size_t space) {
  int ws = 0;
  while (space > 65535 && ws < 14) {
    space >>= 1;
    ++ws;
  }
  return ws;
}

std::uint32_t ts_clock(time_point now) {
  return static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
}

segment_summary summarize(endpoint src, endpoint dst, const wire::tcp_header& h, std::size_t payload_len) {
  segment_summary s;
  s.src = src;
  s.dst = dst;
  s.flags = h.flags;
  s.seq = h.seq;
  s.ack = h.ack;
  s.window = h.window;
  s.payload_len = static_cast<std::uint32_t>(payload_len);
  s.mss = h.options.mss;
  s.wscale = h.options.window_scale;
  s.sack_permitted = h.options.sack_permitted;
  if (h.options.timestamps) {
    s.tsval = h.options.timestamps->tsval;
    s.tsecr = h.options.timestamps->tsecr;
  }
  return s;
}

bool layer::impl::emit(const four_tuple& t, wire::tcp_header& h, bytes p1, bytes p2, time_point now) {
  h.src_port = t.local_port;
  h.dst_port = t.remote_port;
  if (!out.send_segment(t.remote_addr, h, p1, p2, now)) return false;
  stats.bump(counter::tcp_out_segs);
  if (h.flags & tf::rst) stats.bump(counter::tcp_out_rsts);
  if (observer) observer->on_segment(segment_observer::direction::out, now, summarize(t.local(), t.remote(), h, p1.size() + p2.size()));
  return true;
}

void layer::impl::add_timestamp(const connection& c, wire::tcp_header& h, time_point now) const {
  // RFC 7323 3.2: once negotiated, every segment carries TSval and TSecr.
  if (c.ts_ok) h.options.timestamps = wire::tcp_timestamps{ts_clock(now), c.ts_recent};
}

std::uint16_t layer::impl::advertise(connection& c) {
  // The window is the free receive buffer, scaled (RFC 7323 2.3); it never
  // moves the right edge left because data only fills what it advances past.
  std::size_t field = std::min<std::size_t>(c.rcvbuf.free() >> c.rcv_wscale, 65535);
  std::uint32_t edge = c.rcv_nxt + static_cast<std::uint32_t>(field << c.rcv_wscale);
  if (seq_gt(edge, c.rcv_adv)) c.rcv_adv = edge;
  return static_cast<std::uint16_t>(field);
}

void layer::impl::send_reset_reply(const segment_in& s, time_point now) {
  if (s.has(tf::rst)) return;  // RFC 9293 3.10.7.1: never answer a RST
  wire::tcp_header h;
  if (s.has(tf::ack)) {
    h.seq = s.h.ack;  // <SEQ=SEG.ACK><CTL=RST>
    h.flags = tf::rst;
  } else {
    h.seq = 0;  // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    h.ack = s.h.seq + s.seg_len;
    h.flags = tf::rst | tf::ack;
  }
  emit(s.tuple, h, {}, {}, now);
}

void layer::impl::send_ack(connection& c, time_point now) {
  wire::tcp_header h;
  h.seq = c.snd_nxt;
  h.ack = c.rcv_nxt;
  h.flags = tf::ack;
  h.window = advertise(c);
  add_timestamp(c, h, now);
  emit(c.tuple, h, {}, {}, now);
}

void layer::impl::send_challenge_ack(connection& c, time_point now) {
  // RFC 5961 3.2 / 4.2: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>; a peer that really
  // lost its state answers with a RST carrying exactly RCV.NXT.
  stats.bump(counter::tcp_challenge_acks);
  send_ack(c, now);
}

void layer::impl::send_rst(connection& c, time_point now) {
  // Linux tcp_send_active_reset: RST|ACK at SND.NXT.
  wire::tcp_header h;
  h.seq = c.snd_nxt;
  h.ack = c.rcv_nxt;
  h.flags = tf::rst | tf::ack;
  emit(c.tuple, h, {}, {}, now);
}

void layer::impl::send_syn(connection& c, time_point now) {
  wire::tcp_header h;
  h.seq = c.iss;
  // RFC 7323 2.2: the window in a SYN or SYN-ACK is never scaled.
  h.window = static_cast<std::uint16_t>(std::min<std::size_t>(c.rcvbuf.free(), 65535));
  h.options.mss = mss;
  if (c.state == tcp_state::syn_sent) {
    // Our SYN offers everything the settings enable.
    h.flags = tf::syn;
    h.options.sack_permitted = cfg.tcp_sack;
    if (cfg.tcp_timestamps) h.options.timestamps = wire::tcp_timestamps{ts_clock(now), 0};
    if (cfg.tcp_window_scaling) h.options.window_scale = static_cast<std::uint8_t>(rcv_wscale);
  } else {
    // SYN-ACK of a simultaneous open: only what the peer's SYN offered.
    h.flags = tf::syn | tf::ack;
    h.ack = c.rcv_nxt;
    h.options.sack_permitted = c.sack_ok;
    if (c.wscale_ok) h.options.window_scale = static_cast<std::uint8_t>(c.rcv_wscale);
    add_timestamp(c, h, now);
  }
  emit(c.tuple, h, {}, {}, now);
}

void layer::impl::send_synack(const request_entry& r, time_point now, std::optional<std::uint32_t> tsval) {
  // Linux tcp_make_synack; RFC 7323 1.3 / 2.2 and RFC 2018: each option only
  // when the peer's SYN offered it (and the settings enable it).
  wire::tcp_header h;
  h.seq = r.iss;
  h.ack = r.irs + 1;
  h.flags = tf::syn | tf::ack;
  h.window = static_cast<std::uint16_t>(std::min(cfg.tcp_rmem, 65535));
  h.options.mss = mss;
  h.options.sack_permitted = r.peer.sack && cfg.tcp_sack;
  if (r.peer.wscale >= 0 && cfg.tcp_window_scaling) h.options.window_scale = static_cast<std::uint8_t>(rcv_wscale);
  if (r.peer.ts && cfg.tcp_timestamps)
    h.options.timestamps = wire::tcp_timestamps{tsval ? *tsval : ts_clock(now), r.peer.ts_recent};
  emit(r.tuple, h, {}, {}, now);
}

void layer::impl::transmit(connection& c, time_point now, bool after_timeout) {
  switch (c.state) {
    case tcp_state::established: case tcp_state::close_wait: case tcp_state::fin_wait_1:
    case tcp_state::closing: case tcp_state::last_ack:
      break;
    default:
      return;
  }
  // RFC 6691: the peer's MSS counts payload only; our options take from it.
  std::uint32_t eff_mss = std::max<std::uint32_t>(1, c.snd_mss - (c.ts_ok ? 12u : 0u));
  int budget = after_timeout ? 1 : std::numeric_limits<int>::max();  // after an RTO: one segment
  while (budget-- > 0) {
    std::uint32_t off = c.snd_nxt - c.snd_una;
    std::size_t buffered = c.sndbuf.size();
    std::uint32_t avail = off < buffered ? static_cast<std::uint32_t>(buffered - off) : 0;
    std::uint32_t wnd_end = c.snd_una + c.snd_wnd;
    std::uint32_t usable = seq_lt(c.snd_nxt, wnd_end) ? wnd_end - c.snd_nxt : 0;
    // RFC 9293 3.8.6.1: a zero window is probed with one byte on the timer.
    if (after_timeout && usable == 0 && avail > 0) usable = 1;
    std::uint32_t len = std::min({avail, usable, eff_mss});
    bool fin = c.fin_queued && len == avail && c.snd_nxt + len == c.fin_seq;
    if (len == 0 && !fin) break;

    wire::tcp_header h;
    h.seq = c.snd_nxt;
    h.ack = c.rcv_nxt;
    h.flags = static_cast<std::uint8_t>(tf::ack | (fin ? tf::fin : 0) | (len && len == avail ? tf::psh : 0));
    h.window = advertise(c);
    add_timestamp(c, h, now);
    auto [a, b] = c.sndbuf.peek(off, len);
    bool retrans = seq_lt(c.snd_nxt, c.snd_max);
    if (!emit(c.tuple, h, a, b, now)) {
      if (!c.tx_blocked) {
        c.tx_blocked = true;
        tx_waiters.push_back(c.id);
      }
      break;
    }
    if (retrans) stats.bump(counter::tcp_retrans_segs);
    c.snd_nxt += len + (fin ? 1 : 0);
    if (seq_gt(c.snd_nxt, c.snd_max)) {
      c.bytes_sent += c.snd_nxt - c.snd_max - (fin ? 1 : 0);
      c.snd_max = c.snd_nxt;
    }
    if (c.timer.deadline == no_deadline) arm(c, now + c.rto);
  }
  // Data waits behind a zero window with nothing in flight: the timer probes.
  if (c.timer.deadline == no_deadline && c.snd_una == c.snd_max && !c.sndbuf.empty()) arm(c, now + c.rto);
}

void layer::impl::window_update(connection& c, time_point now) {
  if (c.state != tcp_state::established && c.state != tcp_state::fin_wait_1 &&
      c.state != tcp_state::fin_wait_2)
    return;
  // RFC 9293 3.8.6.2.2 (receiver SWS avoidance): announce a reopened window
  // once it grew by min(buffer/2, MSS) and what the peer knows is small.
  std::uint32_t known = c.rcv_adv - c.rcv_nxt;
  std::size_t field = std::min<std::size_t>(c.rcvbuf.free() >> c.rcv_wscale, 65535);
  auto fresh = static_cast<std::uint32_t>(field << c.rcv_wscale);
  std::uint32_t half = static_cast<std::uint32_t>(c.rcvbuf.capacity() / 2);
  if (fresh > known && fresh - known >= std::min<std::uint32_t>(half, c.rcv_mss) && known < half)
    send_ack(c, now);
}

}  // namespace coronet::tcp
