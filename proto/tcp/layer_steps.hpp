// proto/tcp/layer_steps.hpp - the steps the general paths (ack.cpp,
// established.cpp, output.cpp) and their fast paths (fast_path.cpp) share,
// inline: they sit on every segment's path, and the fast paths are exact
// shortcuts only as long as both run the very same steps.
#pragma once

#include <algorithm>
#include <optional>

#include "proto/tcp/layer_impl.hpp"
#include "proto/tcp/seq.hpp"

namespace coronet::tcp {

// Always inlined, as record_sent: g++ otherwise keeps one out-of-line copy for
// the general and the fast path, and the call costs the fast path what it saves.
[[gnu::always_inline]] inline std::size_t layer::impl::advance_una(connection& c, std::uint32_t ack, time_point now,
                                                                   std::optional<duration>& rtt_sample) {
  std::size_t popped_before = c.txq.size();
  pop_acked(c, ack, now, rtt_sample);
  std::size_t data = std::min<std::size_t>(ack - c.snd_una, c.sndbuf.size());
  c.sndbuf.consume(data);
  c.sndbuf.restart_if_empty();  // the send buffer never holds bytes placed ahead
  c.st.bytes_acked += data;
  c.snd_una = ack;
  if (seq_lt(c.snd_nxt, c.snd_una)) c.snd_nxt = c.snd_una;
  c.retries = 0;
  c.probes = 0;
  c.dupacks = 0;
  if (c.tlp_out && seq_geq(ack, c.tlp_end)) c.tlp_out = false;
  return popped_before - c.txq.size();
}

inline bool layer::impl::update_window(connection& c, const wire::tcp_header& h) {
  // RFC 9293 3.10.7.4: the send window comes from newer segments only.
  if (!(seq_lt(c.snd_wl1, h.seq) || (c.snd_wl1 == h.seq && seq_leq(c.snd_wl2, h.ack)))) return false;
  std::uint32_t w = static_cast<std::uint32_t>(h.window) << c.snd_wscale;
  const bool changed = w != c.snd_wnd;
  c.snd_wnd = w;
  c.snd_wl1 = h.seq;
  c.snd_wl2 = h.ack;
  c.max_snd_wnd = std::max(c.max_snd_wnd, w);
  if (w > 0) c.probes = 0;
  return changed;
}

inline void layer::impl::take_rtt(connection& c, const wire::tcp_header& h, std::optional<duration>& rtt_sample,
                                  time_point now) {
  // RFC 7323 4.1: with timestamps, retransmitted data still yields a sample.
  if (!rtt_sample && c.ts_ok && h.options.timestamps && h.options.timestamps->tsecr != 0) {
    std::uint32_t ms = ts_clock(now) - h.options.timestamps->tsecr;
    if (ms < (1u << 31)) rtt_sample = std::chrono::milliseconds(ms);
  }
  if (rtt_sample) c.rtt.sample(*rtt_sample);
  c.rto = c.rtt.rto();  // RFC 6298 5.7: the backoff ends with new data ACKed
  rearm_xmit(c, now);   // RFC 6298 5.3
}

inline void layer::impl::grow_cwnd(connection& c, std::uint32_t delivered, std::uint32_t prior_in_flight,
                                   const std::optional<duration>& rtt_sample, time_point now) {
  if (delivered == 0 || !c.cc) return;
  cc_ack a;
  a.acked = delivered;
  a.in_flight = prior_in_flight;
  a.cwnd_limited = c.cwnd_limited;
  a.rtt = rtt_sample ? *rtt_sample : duration{-1};
  a.min_rtt = c.rtt.has_sample() ? c.rtt.min_rtt() : duration{-1};
  a.now = now;
  c.cc->on_ack(a);
}

inline void layer::impl::room_freed(connection& c) {
  maybe_grow_sndbuf(c);
  // Wake a blocked writer once a useful amount is free (Linux sk_stream_wspace).
  if (c.send_blocked && !c.fin_queued && c.sndbuf.free() >= std::max<std::size_t>(c.sndbuf.capacity() / 4, 1)) {
    c.send_blocked = false;
    notify(c, event::kind::writable);
  }
}

inline void layer::impl::finish_input(connection& c, bool ack_now, time_point now) {
  transmit(c, now);  // data going out carries the ACK
  if (c.ack_pending) {
    if (ack_now)
      send_ack(c, now);
    else if (c.delack_at == no_deadline)
      c.delack_at = now + cfg.tcp_delack;  // Linux TCP_DELACK_MIN
  }
  rearm(c);
}

inline void layer::impl::sent_ack(connection& c, bool data) {
  ++c.st.segs_out;
  if (data) ++c.st.data_segs_out;
  // Every segment carries the ACK: nothing is left for the delayed-ACK timer.
  c.last_ack_sent = c.rcv_nxt;
  c.ack_pending = false;
  c.delack_at = no_deadline;
  if (c.quickacks > 0) --c.quickacks;
}

[[gnu::always_inline]] inline void layer::impl::record_sent(connection& c, std::uint32_t len, bool fin, bool probe,
                                                            time_point now) {
  tx_seg r;
  r.seq = c.snd_nxt;
  r.end = c.snd_nxt + len + (fin ? 1 : 0);
  r.xmit = r.first_xmit = now;
  r.xmit_order = ++c.xmit_count;
  r.flags = static_cast<std::uint8_t>((fin ? tx_seg::fin : 0) | (probe ? tx_seg::probe : 0));
  c.txq.push_back(r);
  c.snd_nxt = r.end;
  if (seq_gt(c.snd_nxt, c.snd_max)) {
    c.bytes_sent += len;
    c.snd_max = c.snd_nxt;
  }
  c.last_send = now;
  if (c.ca == ca_state::recovery) ++c.prr_out;
}

inline void layer::impl::arm_after_send(connection& c, time_point now) {
  if (c.xt == xmit_timer::none || c.xt == xmit_timer::persist)
    rearm_xmit(c, now);  // RFC 6298 5.1
  else if (c.xt == xmit_timer::tlp)
    schedule_loss_probe(c, now);
}

}  // namespace coronet::tcp
