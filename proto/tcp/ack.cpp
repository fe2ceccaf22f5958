// proto/tcp/ack.cpp - what an ACK means to the sender (Linux tcp_ack,
// tcp_fastretrans_alert): the cumulative ACK frees the send buffer and the
// scoreboard, SACK blocks mark segments (RFC 2018, RFC 6675), RTT samples
// feed the RTO (RFC 6298, Karn), RACK (RFC 8985) or duplicate ACKs (RFC 5681,
// RFC 6582 NewReno) mark losses, fast recovery runs with PRR (RFC 6937) and
// the congestion control grows the window.
#include <algorithm>

#include "proto/tcp/layer_impl.hpp"
#include "proto/tcp/layer_steps.hpp"
#include "proto/tcp/seq.hpp"

namespace coronet::tcp {

namespace tf = wire::tcp_flag;

namespace {
// RFC 8985 6.2: was (t1, o1) sent after (t2, o2)? The RFC breaks ties of
// equal times by end sequence; the send order is exact where the clock is
// coarse (a retransmission can follow new data within one clock tick).
bool sent_after(time_point t1, std::uint64_t o1, time_point t2, std::uint64_t o2) {
  return t1 > t2 || (t1 == t2 && o1 > o2);
}
}  // namespace

bool layer::impl::process_ack(connection& c, const segment_in& s, time_point now) {
  const std::uint32_t ack = s.h.ack;
  // RFC 5961 5.2: an acceptable ACK lies in [SND.UNA - MAX.SND.WND, SND.NXT].
  if (seq_gt(ack, c.snd_max)) {
    stats.bump(drop::tcp_bad_ack);  // RFC 9293 3.10.7.4: ACKs something not yet sent
    if (oow_allowed(c, now)) send_ack(c, now);
    return false;
  }
  if (seq_lt(ack, c.snd_una - c.max_snd_wnd)) {
    stats.bump(drop::tcp_bad_ack);
    send_challenge_ack(c, now);
    return false;
  }
  const std::uint32_t prior_una = c.snd_una;
  const std::uint32_t prior_in_flight = c.in_flight();
  const std::uint64_t prior_delivered = c.st.delivered;
  std::optional<duration> rtt_sample;
  const bool advanced = seq_gt(ack, c.snd_una);
  if (advanced) {
    std::size_t popped = advance_una(c, ack, now, rtt_sample);
    if (!c.sack_ok && popped > 0) {
      // Linux tcp_remove_reno_sacks: the duplicate ACKs stood for segments now ACKed.
      c.sacked_out = popped - 1 >= c.sacked_out ? 0 : c.sacked_out - static_cast<std::uint32_t>(popped - 1);
    }
  }
  if (c.sack_ok && s.h.options.sack_count > 0) process_sack(c, s.h, now);

  const bool window_changed = update_window(c, s.h);

  // RFC 5681 2 "duplicate acknowledgment": nothing new, no data, same window,
  // data outstanding.
  if (!advanced && ack == prior_una && s.payload.empty() && !s.has(tf::syn | tf::fin) && !window_changed &&
      !c.txq.empty()) {
    ++c.dupacks;
    ++c.st.dup_acks_in;
    stats.bump(counter::tcp_dup_acks_in);
    if (!c.sack_ok && c.sacked_out + 1 < c.txq.size()) {
      ++c.sacked_out;  // Linux tcp_add_reno_sack: a segment left the network
      ++c.st.delivered;
    }
  }

  if (advanced) take_rtt(c, s.h, rtt_sample, now);

  // Loss detection.
  if (!c.txq.empty()) {
    if (c.sack_ok) {
      if (cfg.tcp_recovery & 1)
        rack_detect_loss(c, now);
      else
        sack_dupthresh_loss(c);
    } else if ((c.ca == ca_state::open || c.ca == ca_state::disorder) &&
               c.dupacks >= static_cast<std::uint32_t>(cfg.tcp_reordering)) {
      mark_lost(c, 0);  // RFC 5681 3.2: fast retransmit after tcp_reordering duplicates
    } else if (c.ca == ca_state::recovery && advanced && seq_lt(ack, c.high_seq)) {
      mark_lost(c, 0);  // RFC 6582 3.2 step 5: a partial ACK -> resend the next hole
    }
  }

  // Congestion state (Linux tcp_fastretrans_alert).
  if ((c.ca == ca_state::recovery || c.ca == ca_state::loss) && seq_geq(c.snd_una, c.high_seq)) {
    if (c.ca == ca_state::recovery && c.cc) c.cc->on_recovery_end(now);  // RFC 6582 3.2 step 3
    c.ca = ca_state::open;
  }
  std::uint32_t delivered = static_cast<std::uint32_t>(c.st.delivered - prior_delivered);
  if (c.lost_out > 0 && (c.ca == ca_state::open || c.ca == ca_state::disorder)) {
    enter_recovery(c, prior_in_flight, now);
  } else if (c.ca == ca_state::open && (c.sacked_out > 0 || c.dupacks > 0)) {
    c.ca = ca_state::disorder;
  } else if (c.ca == ca_state::disorder && c.sacked_out == 0 && c.dupacks == 0) {
    c.ca = ca_state::open;
  }
  if (c.ca == ca_state::recovery) {
    prr_update(c, delivered);
  } else {
    grow_cwnd(c, delivered, prior_in_flight, rtt_sample, now);
  }
  if (advanced) room_freed(c);
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

void layer::impl::pop_acked(connection& c, std::uint32_t ack, time_point now, std::optional<duration>& rtt_sample) {
  std::size_t popped = 0;
  bool retrans_acked = false;
  std::optional<time_point> oldest_clean;
  while (!c.txq.empty()) {
    tx_seg& r = c.txq.front();
    if (!seq_leq(r.end, ack)) {
      if (seq_lt(r.seq, ack)) r.seq = ack;  // partly acknowledged (Linux tcp_trim_head)
      break;
    }
    if (r.has(tx_seg::sacked)) {
      --c.sacked_out;
    } else {
      ++c.st.delivered;
      rack_update(c, r, now);
      if (r.has(tx_seg::ever_retrans))
        retrans_acked = true;
      else if (!oldest_clean)
        oldest_clean = r.xmit;
    }
    if (r.has(tx_seg::lost)) --c.lost_out;
    if (r.has(tx_seg::retrans)) --c.retrans_out;
    if (seq_gt(r.end, c.fack)) c.fack = r.end;
    c.txq.pop_front();
    ++popped;
  }
  c.retrans_hint = c.retrans_hint > popped ? c.retrans_hint - popped : 0;
  // Karn's rule as Linux tcp_clean_rtx_queue applies it: no sample from an ACK
  // that covers retransmitted data.
  if (oldest_clean && !retrans_acked) rtt_sample = now - *oldest_clean;
}

void layer::impl::process_sack(connection& c, const wire::tcp_header& h, time_point now) {
  const auto& o = h.options;
  for (std::size_t i = 0; i < o.sack_count; ++i) {
    std::uint32_t left = o.sack[i].left, right = o.sack[i].right;
    if (!seq_lt(left, right) || seq_gt(right, c.snd_max)) continue;  // invalid: ignored
    // RFC 2883 4: a first block below the cumulative ACK, or inside the
    // second block, reports a duplicate segment.
    bool dsack = i == 0 && (seq_leq(right, c.snd_una) ||
                            (o.sack_count > 1 && seq_geq(left, o.sack[1].left) && seq_leq(right, o.sack[1].right)));
    if (dsack) {
      ++c.st.dsacks_in;
      stats.bump(counter::tcp_dsack_recv);
      // RFC 8985 6.2 step 4: a D-SACK widens the reordering window, for 16 recoveries.
      c.reordering_seen = true;
      if (c.reo_wnd_mult < 64) ++c.reo_wnd_mult;
      c.reo_wnd_persist = 16;
      continue;
    }
    if (seq_leq(right, c.snd_una)) continue;
    // Records are in sequence order: binary search for the first ending after `left`.
    std::size_t lo = 0, hi = c.txq.size();
    while (lo < hi) {
      std::size_t mid = (lo + hi) / 2;
      if (seq_leq(c.txq[mid].end, left))
        lo = mid + 1;
      else
        hi = mid;
    }
    for (std::size_t j = lo; j < c.txq.size() && seq_leq(c.txq[j].end, right); ++j) {
      tx_seg& r = c.txq[j];
      if (seq_geq(r.seq, left) && !r.has(tx_seg::sacked)) sack_record(c, r, now);
    }
  }
}

void layer::impl::sack_record(connection& c, tx_seg& r, time_point now) {
  r.flags |= tx_seg::sacked;
  ++c.sacked_out;
  if (r.has(tx_seg::lost)) {
    r.flags &= static_cast<std::uint8_t>(~tx_seg::lost);
    --c.lost_out;
  }
  if (r.has(tx_seg::retrans)) {
    r.flags &= static_cast<std::uint8_t>(~tx_seg::retrans);
    --c.retrans_out;
  }
  ++c.st.delivered;
  rack_update(c, r, now);
  // RFC 8985 6.2 step 3: an original transmission delivered below the highest
  // SACKed sequence arrived out of order.
  if (!r.has(tx_seg::ever_retrans) && seq_lt(r.end, c.fack)) c.reordering_seen = true;
  if (seq_gt(r.end, c.fack)) c.fack = r.end;
}

void layer::impl::rack_update(connection& c, const tx_seg& r, time_point now) {
  duration rtt = now - r.xmit;
  // RFC 8985 6.2 step 2 (Linux tcp_rack_advance): a retransmitted segment
  // ACKed faster than the minimum RTT was probably ACKed for its original.
  if (r.has(tx_seg::ever_retrans) && (!c.rtt.has_sample() || rtt < c.rtt.min_rtt())) return;
  c.rack_rtt = rtt;
  if (!c.rack_valid || sent_after(r.xmit, r.xmit_order, c.rack_xmit, c.rack_order)) {
    c.rack_xmit = r.xmit;
    c.rack_order = r.xmit_order;
    c.rack_end = r.end;
    c.rack_valid = true;
  }
}

void layer::impl::rack_detect_loss(connection& c, time_point now) {
  if (!c.rack_valid) return;
  // RFC 8985 6.2 step 4 (Linux tcp_rack_reo_wnd).
  duration reo_wnd{0};
  bool zero = !c.reordering_seen && (c.ca == ca_state::recovery || c.ca == ca_state::loss ||
                                     c.sacked_out >= static_cast<std::uint32_t>(cfg.tcp_reordering));
  if (!zero && c.rtt.has_sample())
    reo_wnd = std::min<duration>(c.rtt.min_rtt() / 4 * c.reo_wnd_mult, c.rtt.srtt());
  duration wait{0};
  for (std::size_t i = 0; i < c.txq.size(); ++i) {
    const tx_seg& r = c.txq[i];
    if (r.has(tx_seg::sacked) || (r.has(tx_seg::lost) && !r.has(tx_seg::retrans))) continue;
    if (!sent_after(c.rack_xmit, c.rack_order, r.xmit, r.xmit_order)) {
      // Later original transmissions were sent later still; retransmissions
      // may be older than the RACK segment, so keep looking past them.
      if (!r.has(tx_seg::ever_retrans)) break;
      continue;
    }
    duration left = r.xmit + c.rack_rtt + reo_wnd - now;
    if (left <= duration::zero())
      mark_lost(c, i);
    else
      wait = std::max(wait, left);
  }
  if (wait > duration::zero() && (c.xt != xmit_timer::rto || now + wait < c.xmit_at)) {
    c.xt = xmit_timer::reorder;  // RFC 8985 6.3: the reordering timer
    c.xmit_at = now + wait;
    stats.bump(counter::tcp_rack_reo_timeouts);
  }
}

void layer::impl::sack_dupthresh_loss(connection& c) {
  // RFC 6675 4 IsLost(): DupThresh SACKed segments above a hole make it lost.
  auto thresh = static_cast<std::uint32_t>(cfg.tcp_reordering);
  if (c.sacked_out < thresh) return;
  std::uint32_t above = 0;
  for (std::size_t i = c.txq.size(); i-- > 0;) {
    if (c.txq[i].has(tx_seg::sacked))
      ++above;
    else if (above >= thresh && !c.txq[i].has(tx_seg::lost))
      mark_lost(c, i);
  }
}

void layer::impl::mark_lost(connection& c, std::size_t i) {
  tx_seg& r = c.txq[i];
  if (r.has(tx_seg::sacked) || (r.has(tx_seg::lost) && !r.has(tx_seg::retrans))) return;
  if (r.has(tx_seg::retrans)) {  // the retransmission was lost too
    r.flags &= static_cast<std::uint8_t>(~tx_seg::retrans);
    --c.retrans_out;
    stats.bump(counter::tcp_lost_retransmit);
  }
  if (!r.has(tx_seg::lost)) {
    r.flags |= tx_seg::lost;
    ++c.lost_out;
  }
  if (i < c.retrans_hint) c.retrans_hint = i;
}

void layer::impl::enter_recovery(connection& c, std::uint32_t prior_in_flight, time_point now) {
  c.ca = ca_state::recovery;
  c.high_seq = c.snd_max;  // RFC 6582 "recover"
  c.tlp_out = false;
  if (c.sack_ok) {
    ++c.st.sack_recoveries;
    stats.bump(counter::tcp_sack_recovery);
  } else {
    ++c.st.reno_recoveries;
    stats.bump(counter::tcp_reno_recovery);
  }
  if (c.reo_wnd_persist > 0 && --c.reo_wnd_persist == 0) c.reo_wnd_mult = 1;  // RFC 8985 6.2 step 4
  // RFC 6937: PRR spreads the reduction over the ACKs of this round.
  c.prior_cwnd = c.cc ? c.cc->cwnd() : 1;
  if (c.cc) c.cc->on_congestion_event(prior_in_flight, now);
  c.prr_delivered = c.prr_out = 0;
  c.recover_fs = std::max<std::uint32_t>(prior_in_flight, 1);
  if (c.cc) c.cc->set_cwnd(c.in_flight() + 1);  // the fast retransmit goes out now
}

void layer::impl::prr_update(connection& c, std::uint32_t delivered) {
  if (!c.cc || delivered == 0) return;
  // RFC 6937 3 (Linux tcp_cwnd_reduction).
  c.prr_delivered += delivered;
  std::int64_t pipe = c.in_flight(), ssthresh = c.cc->ssthresh(), sndcnt;
  if (pipe > ssthresh) {
    std::int64_t num = static_cast<std::int64_t>(c.prr_delivered) * ssthresh + c.recover_fs - 1;
    sndcnt = num / c.recover_fs - c.prr_out;
  } else {  // PRR-SSRB: grow back towards ssthresh
    std::int64_t limit = std::max<std::int64_t>(static_cast<std::int64_t>(c.prr_delivered) - c.prr_out, delivered) + 1;
    sndcnt = std::min<std::int64_t>(ssthresh - pipe, limit);
  }
  sndcnt = std::max<std::int64_t>(sndcnt, c.prr_out == 0 ? 1 : 0);
  c.cc->set_cwnd(static_cast<std::uint32_t>(std::max<std::int64_t>(pipe + sndcnt, 1)));
}

void layer::impl::rearm_xmit(connection& c, time_point now) {
  if (c.txq.empty()) {
    if (c.xt != xmit_timer::persist) {
      c.xt = xmit_timer::none;
      c.xmit_at = no_deadline;
    }
    return;
  }
  c.xt = xmit_timer::rto;
  c.xmit_at = now + c.rto;
  schedule_loss_probe(c, now);
}

void layer::impl::schedule_loss_probe(connection& c, time_point now) {
  // RFC 8985 7.2, Linux tcp_schedule_loss_probe.
  if (cfg.tcp_early_retrans < 3 || !c.sack_ok || c.ca != ca_state::open || c.tlp_out || c.txq.empty()) return;
  if (c.xt != xmit_timer::rto && c.xt != xmit_timer::tlp) return;
  duration pto = cfg.tcp_rto_initial;
  if (c.rtt.has_sample()) {
    // 2 SRTT, plus room for a delayed ACK when only one segment is out.
    pto = 2 * c.rtt.srtt() +
          (c.txq.size() == 1 ? duration(cfg.tcp_rto_min) : duration(std::chrono::milliseconds(2)));
  }
  // RFC 8985 7.2: never later than the RTO would fire.
  pto = std::min<duration>(pto, c.rto);
  c.xt = xmit_timer::tlp;
  c.xmit_at = now + pto;
}

void layer::impl::maybe_grow_sndbuf(connection& c) {
  // Linux tcp_sndbuf_expand: a writer waiting for room, and a window not
  // filled by cwnd, gets 2 * cwnd segments of buffer, up to tcp_wmem's max.
  if (!c.send_blocked || !c.cc || c.in_flight() >= c.cc->cwnd()) return;
  std::size_t want = 2ull * std::max<std::uint32_t>(c.cc->cwnd(), static_cast<std::uint32_t>(cfg.tcp_reordering) + 1) *
                     eff_mss(c);
  const auto ceiling = static_cast<std::size_t>(std::max(cfg.tcp_wmem_max, cfg.tcp_wmem));
  if (std::min(want, ceiling) <= c.sndbuf.capacity() || !c.sndbuf.has_storage()) return;
  // At least double: each step reallocates and copies the buffer, so cwnd's
  // slow creep in congestion avoidance must not mean a copy per RTT.
  c.sndbuf.grow(std::min(std::max(want, 2 * c.sndbuf.capacity()), ceiling));
  stats.bump(counter::tcp_sndbuf_grows);
}

}  // namespace coronet::tcp
