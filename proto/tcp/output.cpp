// proto/tcp/output.cpp - building segments: headers, options, windows, and the
// data path's transmit loop that sends straight from the send ring.
#include <algorithm>
#include <chrono>
#include <limits>

#include "proto/tcp/layer_impl.hpp"
#include "proto/tcp/layer_steps.hpp"
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
  // The window is the free receive buffer, scaled (RFC 7323 2.3). Receiver
  // SWS avoidance (RFC 9293 3.8.6.2.2): the right edge moves on only by at
  // least min(buffer/2, MSS); it never moves left (RFC 9293 3.8.6).
  std::uint32_t known = seq_gt(c.rcv_adv, c.rcv_nxt) ? c.rcv_adv - c.rcv_nxt : 0;
  auto free = static_cast<std::uint32_t>(std::min<std::size_t>(c.rcvbuf.free(), 0x3fffffff));
  std::uint32_t step = std::min<std::uint32_t>(static_cast<std::uint32_t>(c.rcvbuf.capacity() / 2), c.rcv_mss);
  std::uint32_t unit = 1u << c.rcv_wscale;
  std::size_t field;
  if (free > known && free - known < step) {
    field = (known + unit - 1) >> c.rcv_wscale;  // keep the edge, rounded up so it does not shrink
  } else {
    field = std::max<std::uint32_t>(free, known) >> c.rcv_wscale;
    if ((static_cast<std::uint64_t>(field) << c.rcv_wscale) < known) field = (known + unit - 1) >> c.rcv_wscale;
  }
  field = std::min<std::size_t>(field, 65535);
  std::uint32_t edge = c.rcv_nxt + static_cast<std::uint32_t>(field << c.rcv_wscale);
  if (seq_gt(edge, c.rcv_adv)) c.rcv_adv = edge;
  if (field == 0 && !c.zero_window_adv) {
    c.zero_window_adv = true;
    ++c.st.zero_window_adv;
    stats.bump(counter::tcp_to_zero_window_adv);
  } else if (field != 0 && c.zero_window_adv) {
    c.zero_window_adv = false;
    stats.bump(counter::tcp_from_zero_window_adv);
  }
  return static_cast<std::uint16_t>(field);
}

void layer::impl::add_sack_blocks(connection& c, wire::tcp_header& h, std::uint32_t room) {
  // RFC 2018 4: the block holding the latest segment first, then the most
  // recent others; RFC 2883: a D-SACK block before them, reported once.
  // `room`: option bytes left within the MSS (Linux tcp_established_options
  // sizes the SACK option to what fits).
  if (!c.sack_ok || room < 12) return;
  std::size_t fit = std::min<std::size_t>((room - 4) / 8, h.options.sack.size());
  std::uint8_t n = 0;
  if (c.dsack && n < fit) {
    h.options.sack[n++] = {c.dsack->start, c.dsack->end};
    c.dsack.reset();
  }
  for (std::uint8_t i = 0; i < c.sack_recent_n && n < fit; ++i)
    h.options.sack[n++] = {c.sack_recent[i].start, c.sack_recent[i].end};
  h.options.sack_count = n;
}

std::uint32_t layer::impl::sack_option_len(const connection& c) const {
  if (!c.sack_ok) return 0;
  std::size_t blocks = c.sack_recent_n + (c.dsack ? 1 : 0);
  blocks = std::min<std::size_t>(blocks, c.ts_ok ? 3 : 4);
  return blocks ? static_cast<std::uint32_t>(4 + 8 * blocks) : 0;
}

bool layer::impl::emit_conn(connection& c, wire::tcp_header& h, bytes p1, bytes p2, time_point now) {
  h.ack = c.rcv_nxt;
  h.flags |= tf::ack;
  h.window = advertise(c);
  add_timestamp(c, h, now);
  // RFC 6691: payload and options together stay within the peer's MSS.
  std::uint32_t payload = static_cast<std::uint32_t>(p1.size() + p2.size());
  std::uint32_t used = payload + (c.ts_ok ? 12u : 0u);
  add_sack_blocks(c, h, c.snd_mss > used ? c.snd_mss - used : 0);
  if (!emit(c.tuple, h, p1, p2, now)) return false;
  sent_ack(c, !p1.empty() || !p2.empty());
  return true;
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
  emit_conn(c, h, {}, {}, now);
}

void layer::impl::send_challenge_ack(connection& c, time_point now) {
  // RFC 5961 3.2 / 4.2: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>; a peer that really
  // lost its state answers with a RST carrying exactly RCV.NXT.
  if (!challenge_allowed(c, now)) return;
  stats.bump(counter::tcp_challenge_acks);
  ++c.st.challenge_acks;
  send_ack(c, now);
}

bool layer::impl::oow_allowed(connection& c, time_point now) {
  // Linux __tcp_oow_rate_limited: at most one ACK to invalid segments per
  // tcp_invalid_ratelimit on a connection, so two stacks cannot loop.
  if (c.oow_ack_sent && now - c.last_oow_ack < cfg.tcp_invalid_ratelimit) return false;
  c.oow_ack_sent = true;
  c.last_oow_ack = now;
  return true;
}

bool layer::impl::challenge_allowed(connection& c, time_point now) {
  // Linux tcp_send_challenge_ack: the connection's limit first, then the
  // stack-wide tcp_challenge_ack_limit per second (RFC 5961 7).
  if (!oow_allowed(c, now)) {
    stats.bump(counter::tcp_ack_skipped_challenge);
    return false;
  }
  if (cfg.tcp_challenge_ack_limit == 2147483647) return true;  // Linux's default: no host-wide limit
  auto second = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (second != challenge_second) {
    challenge_second = second;
    challenge_left = cfg.tcp_challenge_ack_limit;
  }
  if (challenge_left <= 0) {
    stats.bump(counter::tcp_ack_skipped_challenge);
    return false;
  }
  --challenge_left;
  return true;
}

void layer::impl::send_rst(connection& c, time_point now) {
  // Linux tcp_send_active_reset with tcp_acceptable_seq(): RST|ACK at
  // SND.NXT, or at the window's right edge when SND.NXT lies beyond it (a
  // zero-window probe moved it), so the peer accepts the RST.
  wire::tcp_header h;
  std::uint32_t wnd_end = c.snd_una + c.snd_wnd;
  h.seq = seq_leq(c.snd_nxt, wnd_end) ? c.snd_nxt : wnd_end;
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

std::uint32_t layer::impl::eff_mss(const connection& c) const {
  // RFC 6691 (Linux tcp_current_mss): the peer's MSS bounds payload plus
  // options, so timestamps and the SACK blocks due now take from it.
  std::uint32_t opts = (c.ts_ok ? 12u : 0u) + sack_option_len(c);
  return c.snd_mss > opts + 1 ? c.snd_mss - opts : 1;
}

void layer::impl::block_tx(connection& c) {
  if (!c.tx_blocked) {
    c.tx_blocked = true;
    tx_waiters.push_back(c.id);
  }
}

bool layer::impl::send_new_segment(connection& c, std::uint32_t len, bool fin, time_point now, bool probe) {
  std::uint32_t off = c.snd_nxt - c.snd_una;
  wire::tcp_header h;
  h.seq = c.snd_nxt;
  bool last = off + len == c.sndbuf.size();
  h.flags = static_cast<std::uint8_t>((fin ? tf::fin : 0) | (len && last ? tf::psh : 0));
  auto [a, b] = c.sndbuf.peek(off, len);
  if (!emit_conn(c, h, a, b, now)) {
    block_tx(c);
    return false;
  }
  record_sent(c, len, fin, probe, now);
  return true;
}

bool layer::impl::retransmit_record(connection& c, std::size_t i, time_point now) {
  tx_seg& r = c.txq[i];
  bool fin = r.has(tx_seg::fin);
  std::uint32_t len = r.len() - (fin ? 1 : 0);
  wire::tcp_header h;
  h.seq = r.seq;
  h.flags = static_cast<std::uint8_t>(fin ? tf::fin : 0);
  auto [a, b] = c.sndbuf.peek(r.seq - c.snd_una, len);
  if (!emit_conn(c, h, a, b, now)) {
    block_tx(c);
    return false;
  }
  if (!r.has(tx_seg::retrans)) ++c.retrans_out;
  r.flags |= tx_seg::retrans | tx_seg::ever_retrans;
  r.xmit = now;
  r.xmit_order = ++c.xmit_count;
  c.last_send = now;
  ++c.st.retrans_segs;
  c.st.retrans_bytes += len;
  stats.bump(counter::tcp_retrans_segs);
  if (c.ca == ca_state::recovery) {
    ++c.prr_out;
    ++c.st.fast_retrans;
    stats.bump(counter::tcp_fast_retrans);
  } else if (c.ca == ca_state::loss) {
    stats.bump(counter::tcp_slow_start_retrans);
  }
  return true;
}

void layer::impl::send_window_probe(connection& c, time_point now) {
  // RFC 9293 3.8.6.1: probe a zero window with one octet of new data; the
  // receiver answers with its window (and takes the octet if it has room).
  ++c.st.win_probes;
  stats.bump(counter::tcp_win_probe);
  if (!c.txq.empty()) {
    if (!retransmit_record(c, 0, now)) return;
    return;
  }
  std::uint32_t off = c.snd_nxt - c.snd_una;
  if (c.sndbuf.size() > off) {
    bool fin = c.fin_queued && off + 1 == c.sndbuf.size();
    send_new_segment(c, 1, fin, now, true);
  } else {
    send_keepalive(c, now);  // only the FIN waits: an old-sequence ACK asks for the window
  }
}

void layer::impl::send_keepalive(connection& c, time_point now) {
  // Linux tcp_xmit_probe_skb: SEG.SEQ = SND.UNA - 1 and no data; the peer
  // must answer with an ACK (RFC 9293 3.8.4, RFC 1122 4.2.3.6).
  wire::tcp_header h;
  h.seq = c.snd_una - 1;
  emit_conn(c, h, {}, {}, now);
}

void layer::impl::transmit(connection& c, time_point now) {
  switch (c.state) {
    case tcp_state::established: case tcp_state::close_wait: case tcp_state::fin_wait_1:
    case tcp_state::closing: case tcp_state::last_ack:
      break;
    default:
      return;
  }
  if (c.tx_blocked) return;  // on_tx_space() calls again
  c.cwnd_limited = false;
  // Nothing lost, unsent or waiting for a FIN: nothing to do (every segment
  // received calls this; in a request/response exchange it is usually so).
  if (c.lost_out == 0 && c.snd_nxt - c.snd_una >= c.sndbuf.size() && !(c.fin_queued && seq_leq(c.snd_nxt, c.fin_seq))) {
    rearm(c);  // as the full path does: callers may have moved a timer
    return;
  }
  if (fast_transmit(c, now)) return;  // one segment takes it all (fast_path.cpp)
  auto cwnd = [&] { return c.cc ? c.cc->cwnd() : 0xffffffffu; };
  std::uint32_t wnd_end = c.snd_una + c.snd_wnd;

  // 1. Segments marked lost, in order (Linux tcp_xmit_retransmit_queue).
  for (std::size_t i = c.retrans_hint; c.lost_out > 0 && i < c.txq.size(); ++i) {
    const tx_seg& r = c.txq[i];
    bool pending = r.has(tx_seg::lost) && !r.has(tx_seg::retrans) && !r.has(tx_seg::sacked);
    if (!pending) {
      if (i == c.retrans_hint) ++c.retrans_hint;
      continue;
    }
    if (c.in_flight() >= cwnd()) {
      c.cwnd_limited = true;
      return;
    }
    if (!seq_lt(r.seq, wnd_end) && c.snd_wnd > 0) break;  // beyond the peer's window
    if (!retransmit_record(c, i, now)) return;
    if (i == c.retrans_hint) ++c.retrans_hint;
  }

  // 2. New data, by MSS, within cwnd and the peer's window.
  const std::uint32_t mss = eff_mss(c);
  bool sent_new = false;
  for (;;) {
    std::uint32_t off = c.snd_nxt - c.snd_una;
    std::size_t buffered = c.sndbuf.size();
    std::uint32_t avail = off < buffered ? static_cast<std::uint32_t>(buffered - off) : 0;
    bool fin_pending = c.fin_queued && seq_leq(c.snd_nxt, c.fin_seq);
    if (avail == 0 && !fin_pending) break;
    if (c.in_flight() >= cwnd()) {
      c.cwnd_limited = true;
      break;
    }
    std::uint32_t usable = seq_lt(c.snd_nxt, wnd_end) ? wnd_end - c.snd_nxt : 0;
    std::uint32_t len = std::min({avail, usable, mss});
    if (len < avail && len < mss && !c.sws_override) {
      // RFC 9293 3.8.6.2.1 sender SWS avoidance: a partial segment at the
      // window's edge waits unless it is at least half the largest window.
      if (len == 0 || len < c.max_snd_wnd / 2) break;
    }
    if (c.nagle && len < mss && len == avail && !c.txq.empty() && !fin_pending) break;  // RFC 9293 3.7.4
    bool fin = fin_pending && len == avail;
    if (len == 0 && !fin) break;
    // RFC 5681 4.1 (Linux tcp_cwnd_restart): after an idle RTO, start again
    // from the initial window.
    if (c.txq.empty() && c.cc && cfg.tcp_slow_start_after_idle && c.last_send != time_point{} &&
        now - c.last_send > c.rto)
      c.cc->on_idle_restart(now);
    if (!send_new_segment(c, len, fin, now)) return;
    sent_new = true;
    if (fin) break;
  }
  if (sent_new) arm_after_send(c, now);
  // Data waits behind a closed (or too small) window with nothing in flight:
  // the persist timer probes it (RFC 9293 3.8.6.1).
  std::uint32_t off = c.snd_nxt - c.snd_una;
  bool waiting = c.sndbuf.size() > off;
  if (c.txq.empty() && waiting && c.xt == xmit_timer::none) {
    c.xt = xmit_timer::persist;
    c.xmit_at = now + c.rtt.rto();
  }
  rearm(c);
}

void layer::impl::window_update(connection& c, time_point now) {
  if (c.state != tcp_state::established && c.state != tcp_state::fin_wait_1 &&
      c.state != tcp_state::fin_wait_2)
    return;
  // RFC 9293 3.8.6.2.2 (receiver SWS avoidance): announce a reopened window
  // once it grew by min(buffer/2, MSS) and what the peer knows is small.
  std::uint32_t known = seq_gt(c.rcv_adv, c.rcv_nxt) ? c.rcv_adv - c.rcv_nxt : 0;
  std::size_t field = std::min<std::size_t>(c.rcvbuf.free() >> c.rcv_wscale, 65535);
  auto fresh = static_cast<std::uint32_t>(field << c.rcv_wscale);
  std::uint32_t half = static_cast<std::uint32_t>(c.rcvbuf.capacity() / 2);
  if (fresh > known && fresh - known >= std::min<std::uint32_t>(half, c.rcv_mss) && known < half) {
    send_ack(c, now);
    rearm(c);
  }
}

}  // namespace coronet::tcp
