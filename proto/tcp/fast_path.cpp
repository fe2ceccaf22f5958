// proto/tcp/fast_path.cpp - the data path's two shortcuts through the
// general code, for what a request/response exchange does all the time.
//
// Input: header prediction (Van Jacobson's, RFC 1323 appendix A's sketch;
// Linux tcp_rcv_established() with pred_flags). A segment that is what an
// established connection expects next - only ACK (and PSH) set, SEQ = RCV.NXT,
// ACK = SND.MAX, timestamps in order, no SACK blocks - while neither side has
// anything to repair goes straight to the ACK bookkeeping and the receive ring.
//
// Output: the one-segment transmit. When everything unsent fits one segment
// that cwnd, the peer's window and Nagle let go now, nothing is lost and no
// SACK block or FIN is due, the segment is written straight into the frame
// (ip_output::reserve_segment) instead of through a tcp_header and emit().
//
// Both are exact shortcuts: for every case they accept they leave the
// connection, the counters they share with the general path, the events and
// the frames sent exactly as the general path would
// (tests/proto/tcp/fast_path_test.cpp runs the same simulated exchanges both
// ways and compares every frame). Each step names the general-path step it
// stands for; what it leaves out is what its conditions have ruled out.
#include <algorithm>

#include "proto/tcp/layer_impl.hpp"
#include "proto/tcp/layer_steps.hpp"
#include "proto/tcp/seq.hpp"
#include "proto/wire/tcp.hpp"

namespace coronet::tcp {

namespace tf = wire::tcp_flag;

bool layer::impl::predicted(const connection& c, const segment_in& s) const {
  const wire::tcp_header& h = s.h;
  // Linux pred_flags: ACK alone (PSH ignored), in sequence. Unlike Linux,
  // a new window is no reason to leave: SWS avoidance moves the advertised
  // edge in steps, so in a request/response exchange nearly every segment
  // carries another window, and taking it is the same few lines either way.
  if (c.state != tcp_state::established || (h.flags & ~tf::psh) != tf::ack || h.seq != c.rcv_nxt) return false;
  if (h.options.sack_count != 0) return false;
  // RFC 7323 5.3: TSval not older than TS.Recent, so PAWS passes (and the
  // idle-24-days exception never matters). Without timestamps negotiated the
  // general path ignores the option too.
  if (c.ts_ok && (!h.options.timestamps || seq_lt(h.options.timestamps->tsval, c.ts_recent))) return false;
  // Everything sent is acknowledged (or was already): the retransmission
  // queue ends up empty, so no loss detection, no duplicate ACK.
  if (h.ack != c.snd_max) return false;
  // The sender has nothing to repair and no FIN to see acknowledged.
  if (c.ca != ca_state::open || c.sacked_out != 0 || c.lost_out != 0 || c.retrans_out != 0 || c.dupacks != 0 ||
      c.fin_queued)
    return false;
  // The receiver holds nothing out of order, reports no SACK block, and has
  // room for all of it (RFC 9293 3.10.7.4: acceptable, not trimmed).
  if (!c.ofo.empty() || c.sack_recent_n != 0 || c.ofo_fin || c.released) return false;
  return s.payload.size() <= c.rcvbuf.free();
}

void layer::impl::fast_input(connection& c, const segment_in& s, time_point now) {
  const wire::tcp_header& h = s.h;
  ++c.st.segs_in;
  c.last_recv = now;
  c.keepalive_probes_out = 0;
  // RFC 7323 4.3: TS.Recent follows segments that cover Last.ACK.sent.
  if (c.ts_ok && seq_leq(h.seq, c.last_ack_sent)) {
    c.ts_recent = h.options.timestamps->tsval;
    c.ts_recent_at = now;
  }

  // --- the ACK (process_ack, for ACK = SND.MAX with nothing SACKed or lost) ---
  const std::uint32_t prior_in_flight = c.in_flight();
  const std::uint64_t prior_delivered = c.st.delivered;
  const bool advanced = seq_gt(h.ack, c.snd_una);
  std::optional<duration> rtt_sample;
  if (advanced) advance_una(c, h.ack, now, rtt_sample);
  update_window(c, h);
  if (advanced) {
    take_rtt(c, h, rtt_sample, now);  // the queue is empty: the timer stops (RFC 6298 5.2)
    grow_cwnd(c, static_cast<std::uint32_t>(c.st.delivered - prior_delivered), prior_in_flight, rtt_sample, now);
    room_freed(c);
  }

  // --- the data (process_data, in order, all of it fits) ---
  bool ack_now = false;
  if (!s.payload.empty()) {
    stats.bump(counter::tcp_hp_hits);
    ++c.st.data_segs_in;
    const auto n = static_cast<std::uint32_t>(s.payload.size());
    // Linux tcp_measure_rcv_mss: the largest segment seen is "full-sized".
    c.rcv_mss_seen = std::max<std::uint32_t>(c.rcv_mss_seen, std::min<std::uint32_t>(n, c.rcv_mss));
    c.ack_pending = true;
    c.rcvbuf.write_at(0, s.payload);
    c.rcvbuf.commit(n);
    c.rcv_nxt += n;
    c.bytes_received += n;
    notify(c, event::kind::readable);
    // RFC 5681 4.2 / Linux __tcp_ack_snd_check: at once in quick-ACK mode or
    // after more than one full segment; otherwise the ACK may wait.
    ack_now = c.quickacks > 0 || c.rcv_nxt - c.last_ack_sent > c.rcv_mss_seen;
  } else {
    stats.bump(counter::tcp_hp_acks);
  }

  finish_input(c, ack_now, now);
}

bool layer::impl::fast_transmit(connection& c, time_point now) {
  // transmit() has checked the state and tx_blocked, and that something is
  // lost, unsent or waiting for a FIN.
  if (!fast_paths || observer != nullptr || c.lost_out != 0 || c.fin_queued || c.sack_recent_n != 0 || c.dsack ||
      !c.cc)
    return false;
  const std::uint32_t off = c.snd_nxt - c.snd_una;
  const std::size_t buffered = c.sndbuf.size();
  if (off >= buffered) return false;
  const auto len = static_cast<std::uint32_t>(buffered - off);
  const std::uint32_t seg_max = eff_mss(c);  // no SACK blocks due: MSS less timestamps
  const std::size_t header_len = wire::data_segment_header_len(c.ts_ok);
  // One segment takes all of it, and it fits our MTU (so reserve_segment
  // fails only when the TX ring or the neighbour's queue is full).
  if (len > seg_max || header_len + len > std::size_t{mss} + wire::tcp_min_header_len) return false;
  // transmit's loop, first round: cwnd, then the peer's window (all of it
  // fits, so SWS avoidance has nothing to hold back), then Nagle (RFC 9293
  // 3.7.4) - any of them holding the segment back is the general path's case.
  if (c.in_flight() >= c.cc->cwnd()) return false;
  const std::uint32_t wnd_end = c.snd_una + c.snd_wnd;
  const std::uint32_t usable = seq_lt(c.snd_nxt, wnd_end) ? wnd_end - c.snd_nxt : 0;
  if (len > usable || (c.nagle && len < seg_max && !c.txq.empty())) return false;
  // RFC 5681 4.1 (Linux tcp_cwnd_restart): after an idle RTO, start again
  // from the initial window.
  if (c.txq.empty() && cfg.tcp_slow_start_after_idle && c.last_send != time_point{} && now - c.last_send > c.rto)
    c.cc->on_idle_restart(now);

  // --- send_new_segment -> emit_conn -> emit, for <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK,PSH> ---
  wire::data_segment d;
  d.src_port = c.tuple.local_port;
  d.dst_port = c.tuple.remote_port;
  d.seq = c.snd_nxt;
  d.ack = c.rcv_nxt;
  d.flags = tf::ack | tf::psh;  // PSH: the segment empties the send buffer
  d.window = advertise(c);
  d.has_ts = c.ts_ok;  // RFC 7323 3.2
  if (c.ts_ok) d.ts = wire::tcp_timestamps{ts_clock(now), c.ts_recent};
  const std::size_t seg_len = header_len + len;
  mut_bytes frame = out.reserve_segment(c.tuple.remote_addr, seg_len, now);
  if (frame.empty()) {
    block_tx(c);  // on_tx_space() calls transmit again
    return true;
  }
  auto [a, b] = c.sndbuf.peek(off, len);
  wire::emit_data_segment(d, a, b, local, c.tuple.remote_addr, frame);
  out.commit_segment(seg_len);
  stats.bump(counter::tcp_out_segs);
  stats.bump(counter::tcp_fast_xmit);
  sent_ack(c, true);
  record_sent(c, len, false, false, now);
  // --- as transmit ends after sending new data ---
  arm_after_send(c, now);
  rearm(c);
  return true;
}

}  // namespace coronet::tcp
